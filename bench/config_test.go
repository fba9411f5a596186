package bench

import (
	"slices"
	"testing"
	"time"
)

func TestParseLatency(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in        string
		lat, jit  time.Duration
		wantError bool
	}{
		{"5ms", 5 * time.Millisecond, 0, false},
		{"5ms±2ms", 5 * time.Millisecond, 2 * time.Millisecond, false},
		{"5ms+-2ms", 5 * time.Millisecond, 2 * time.Millisecond, false},
		{"0s", 0, 0, false},
		{"2ms±5ms", 0, 0, true},
		{"fast", 0, 0, true},
	} {
		lat, jit, err := ParseLatency(c.in)
		if (err != nil) != c.wantError || lat != c.lat || jit != c.jit {
			t.Errorf("ParseLatency(%q) = %v, %v, %v", c.in, lat, jit, err)
		}
	}
}

func TestRedactArgs(t *testing.T) {
	t.Parallel()
	got := redactArgs([]string{"--database-url", "postgres://u:pw@h/db", "--target=http://a:b@h", "--rate", "10"})
	want := []string{"--database-url", "postgres://u:xxxxx@h/db", "--target=http://a:xxxxx@h", "--rate", "10"}
	if !slices.Equal(got, want) {
		t.Fatalf("redactArgs = %q, want %q", got, want)
	}
}

func TestResolveBadReceivers(t *testing.T) {
	t.Parallel()
	sc, err := findScenario("bad-receivers")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Config{Binary: "hookline"}.resolve(sc)
	if err != nil {
		t.Fatal(err)
	}
	if c.Rate != 40 || c.Duration != 20*time.Second || c.DeliveryTimeout != 5*time.Second || c.CeilingDuration >= 0 || c.Endpoints != 100 {
		t.Errorf("defaults: rate %v, duration %v, delivery timeout %v, ceiling %v, %d endpoints",
			c.Rate, c.Duration, c.DeliveryTimeout, c.CeilingDuration, c.Endpoints)
	}
	if c, _ := (Config{Binary: "hookline", DeliveryTimeout: time.Second, Rate: 10}).resolve(sc); c.DeliveryTimeout != time.Second || c.Rate != 10 {
		t.Errorf("explicit settings lost: delivery timeout %v, rate %v", c.DeliveryTimeout, c.Rate)
	}
	for _, bad := range []Config{
		{Binary: "hookline", Rate: -1},
		{Target: []string{"http://127.0.0.1:8080"}, APIKey: "k"},
		{Binary: "hookline", Endpoints: 9},
	} {
		if _, err := bad.resolve(sc); err == nil {
			t.Errorf("resolve(%+v) accepted", bad)
		}
	}
	if h := healthyEndpoints(100); h != 60 {
		t.Errorf("healthyEndpoints(100) = %d, want 60", h)
	}
	if h := healthyEndpoints(25); h != 17 {
		t.Errorf("healthyEndpoints(25) = %d, want 17", h)
	}
}

// TestResolveDefaults pins the defaults that scenarios without their own
// rate, duration or delivery timeout keep.
func TestResolveDefaults(t *testing.T) {
	t.Parallel()
	sc, err := findScenario("throughput")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Config{Binary: "hookline"}.resolve(sc)
	if err != nil {
		t.Fatal(err)
	}
	if c.Rate != 0 || c.Duration != 10*time.Second || c.DeliveryTimeout != 0 || c.CeilingDuration != 3*time.Second {
		t.Errorf("throughput defaults: rate %v, duration %v, delivery timeout %v, ceiling %v", c.Rate, c.Duration, c.DeliveryTimeout, c.CeilingDuration)
	}
	if c, _ := (Config{Binary: "hookline", Rate: -1}).resolve(sc); c.Rate != 0 {
		t.Errorf("rate -1 resolves to %v, want 0 (as fast as possible)", c.Rate)
	}
}

// TestResolveTwoPhaseScenarios pins the defaults of noisy-tenant and
// priority, and what they refuse.
func TestResolveTwoPhaseScenarios(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		scenario    string
		endpoints   int
		backlog     int
		latency     time.Duration
		noisyFactor float64
	}{
		{"noisy-tenant", 10, 1_000_000, 0, 20},
		{"priority", 10, 200_000, 20 * time.Millisecond, 20},
		{"backlog", 10, 1_000_000, 0, 20},
	} {
		t.Run(c.scenario, func(t *testing.T) {
			sc, err := findScenario(c.scenario)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Config{Binary: "hookline"}.resolve(sc)
			if err != nil {
				t.Fatal(err)
			}
			if got.Endpoints != c.endpoints || got.BacklogSize != c.backlog || got.Behavior.Latency != c.latency || got.NoisyFactor != c.noisyFactor {
				t.Errorf("defaults: %d endpoints, backlog %d, receiver latency %v, noisy factor %v; want %d, %d, %v, %v",
					got.Endpoints, got.BacklogSize, got.Behavior.Latency, got.NoisyFactor, c.endpoints, c.backlog, c.latency, c.noisyFactor)
			}
			// A negative latency asks for none, whatever the scenario's.
			if got, _ := (Config{Binary: "hookline", Behavior: Behavior{Latency: -1}}).resolve(sc); got.Behavior.Latency != 0 {
				t.Errorf("latency -1 resolves to %v, want 0", got.Behavior.Latency)
			}
			if sc.Name == "backlog" {
				return
			}
			if got.Rate != 20 || got.Duration != 20*time.Second || got.CeilingDuration >= 0 {
				t.Errorf("defaults: rate %v, duration %v, ceiling %v; want 20, 20s, none", got.Rate, got.Duration, got.CeilingDuration)
			}
			for _, bad := range []Config{
				{Binary: "hookline", Rate: -1},
				{Target: []string{"http://127.0.0.1:8080"}, APIKey: "k"},
			} {
				if _, err := bad.resolve(sc); err == nil {
					t.Errorf("resolve(%+v) accepted", bad)
				}
			}
		})
	}
}
