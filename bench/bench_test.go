package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hookline/hookline/bench"
)

// binary is the hookline binary built once for every test, or
// $HOOKLINE_BENCH_BINARY.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	if binary = os.Getenv("HOOKLINE_BENCH_BINARY"); testing.Short() || binary != "" {
		goleak.VerifyTestMain(m)
	}
	dir, err := os.MkdirTemp("", "hookline-bench-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		gomod, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			fmt.Fprintln(os.Stderr, "go env GOMOD:", err)
			return 1
		}
		binary = filepath.Join(dir, "hookline")
		build := exec.Command("go", "build", "-o", binary, "./cmd/hookline")
		build.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build hookline: %v\n%s", err, out)
			return 1
		}
		if code := m.Run(); code != 0 {
			return code
		}
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			return 1
		}
		return 0
	}()
	os.Exit(code)
}

// config returns a short run of scenario against a fresh server.
func config(t *testing.T, scenario string) bench.Config {
	t.Helper()
	if testing.Short() {
		t.Skip("starts hookline serve")
	}
	return bench.Config{
		Scenario:        scenario,
		Binary:          binary,
		Duration:        2 * time.Second,
		Warmup:          500 * time.Millisecond,
		CeilingDuration: time.Second,
		Clients:         8,
		Behavior:        bench.Behavior{Verify: true},
		DrainTimeout:    time.Minute,
		Progress:        t.Output(),
	}
}

func run(t *testing.T, c bench.Config) (*bench.Report, string) {
	t.Helper()
	var out bytes.Buffer
	r, err := bench.Run(context.Background(), c, &out)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	t.Logf("report:\n%s", out.String())
	return r, out.String()
}

// checkConsistent checks the figures every scenario reports.
func checkConsistent(t *testing.T, r *bench.Report) {
	t.Helper()
	if n := r.ErrorCount(); n > 0 {
		t.Errorf("errors: %v", r.Errors)
	}
	d := r.Deliveries
	if d.Expected == 0 || d.Received != d.Expected {
		t.Errorf("deliveries expected %d, received %d", d.Expected, d.Received)
	}
	if r.Events.Accepted == 0 || r.Events.Accepted > r.Events.Sent || r.Events.Rejected != r.Events.Sent-r.Events.Accepted {
		t.Errorf("events inconsistent: %+v", r.Events)
	}
	if want := r.Events.Accepted * int64(r.Endpoints); d.Expected != want {
		t.Errorf("expected %d deliveries, want accepted × endpoints = %d", d.Expected, want)
	}
	checkLatency(t, "ingest", r.IngestLatency)
	if len(r.Servers) != 1 || r.Servers[0].PID == 0 || r.Servers[0].PeakRSS <= 0 || r.Servers[0].CPUSeconds <= 0 {
		t.Errorf("server figures missing: %+v", r.Servers)
	}
	if r.Servers[0].Stats.Pending != 0 || r.Servers[0].Stats.Failed != 0 {
		t.Errorf("server stats after the drain: %+v", r.Servers[0].Stats)
	}
	if r.Machine.Cores == 0 || r.Machine.Commit == "" {
		t.Errorf("machine missing: %+v", r.Machine)
	}
	if len(r.Timeline) < 2 {
		t.Errorf("timeline has %d samples", len(r.Timeline))
	}
	if c := r.Ceiling; c == nil || c.PerSecond <= 0 || c.Requests == 0 || c.Errors != 0 {
		t.Errorf("ceiling missing: %+v", c)
	}
}

func checkLatency(t *testing.T, name string, l bench.Latency) {
	t.Helper()
	if l.Count == 0 || l.P50 <= 0 || !(l.P50 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.Max) || l.Mean > l.Max {
		t.Errorf("%s latency missing or out of order: %+v", name, l)
	}
}

// checkSteady checks the figures of a scenario with a measured window.
func checkSteady(t *testing.T, r *bench.Report) {
	t.Helper()
	checkConsistent(t, r)
	checkLatency(t, "end-to-end", r.EndToEndLatency)
	if !r.Deliveries.Drained || r.Deliveries.PerSecond <= 0 || r.Events.AcceptedPerSecond <= 0 {
		t.Errorf("rates missing: %+v %+v", r.Events, r.Deliveries)
	}
	if want := r.Deliveries.PerSecond / r.Ceiling.PerSecond; math.Abs(r.CeilingRatio-want) > 1e-9 {
		t.Errorf("ratio %v, want delivered/s ÷ ceiling = %v", r.CeilingRatio, want)
	}
	if r.Seconds < 1.9 {
		t.Errorf("measured window %.2fs, want about 2s", r.Seconds)
	}
	// The whole run is at least the window and at most the window, the
	// warm-up and the drain.
	d := r.Deliveries
	if lo, hi := float64(d.Received)/(r.Seconds+0.5+d.DrainSeconds+0.5), float64(d.Received)/r.Seconds; d.RunPerSecond < lo || d.RunPerSecond > hi {
		t.Errorf("whole-run rate %.0f/s, want between %.0f and %.0f/s (%d received, window %.2fs, drain %.2fs)",
			d.RunPerSecond, lo, hi, d.Received, r.Seconds, d.DrainSeconds)
	}
}

func TestThroughput(t *testing.T) {
	c := config(t, "throughput")
	c.JSON = true
	c.Markdown = filepath.Join(t.TempDir(), "report.md")
	c.CommandLine = []string{"hookline", "bench", "--scenario", "throughput"}
	r, out := run(t, c)
	checkSteady(t, r)
	if r.Endpoints != 10 {
		t.Errorf("endpoints %d, want the scenario's 10", r.Endpoints)
	}
	var decoded bench.Report
	if err := json.Unmarshal([]byte(out), &decoded); err != nil || decoded.Deliveries != r.Deliveries {
		t.Errorf("--json output does not decode to the report: %v", err)
	}
	md, err := os.ReadFile(c.Markdown)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# hookline bench: throughput", r.Machine.Commit, "--scenario throughput", "ratio to ceiling", "whole run", "## Latency"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestThroughputAtRate runs the open model: exactly rate × time events are
// due, whatever the server does.
func TestThroughputAtRate(t *testing.T) {
	c := config(t, "throughput")
	c.Rate = 200
	r, _ := run(t, c)
	checkSteady(t, r)
	if want := int64(200 * 2.5); r.Events.Sent != want {
		t.Errorf("sent %d events, want %d (200/s for 2.5s)", r.Events.Sent, want)
	}
	checkLatency(t, "send lag", r.SendLag)
}

// TestReceiverBehaviors has receivers fail and time out on purpose: every
// delivery still arrives once, through the server's retries.
func TestReceiverBehaviors(t *testing.T) {
	c := config(t, "throughput")
	c.Rate = 100
	c.Behavior.Latency, c.Behavior.Jitter = 2*time.Millisecond, time.Millisecond
	c.Behavior.FailRatio, c.Behavior.TimeoutRatio = 0.2, 0.02
	c.DeliveryTimeout = time.Second
	r, _ := run(t, c)
	// A 200 that reaches the server after its delivery timeout (a loaded
	// machine) is retried and received twice: at-least-once, not an error
	// of the bench or the server.
	delete(r.Errors, "duplicate")
	checkSteady(t, r)
	if r.Receivers.Failed == 0 || r.Receivers.TimedOut == 0 {
		t.Errorf("receivers did not fail on purpose: %+v", r.Receivers)
	}
}

func TestIngest(t *testing.T) {
	c := config(t, "ingest")
	c.Batch, c.Clients = 50, 2
	r, _ := run(t, c)
	checkSteady(t, r)
	if r.Batch != 50 || r.Events.Accepted%50 != 0 {
		t.Errorf("batch %d, accepted %d", r.Batch, r.Events.Accepted)
	}
}

func TestWideFanout(t *testing.T) {
	c := config(t, "wide-fanout")
	c.Endpoints, c.Repeat = 200, 2
	r, _ := run(t, c)
	checkConsistent(t, r)
	checkLatency(t, "end-to-end", r.EndToEndLatency)
	if len(r.WideFanout) != 2 {
		t.Fatalf("%d rounds, want 2", len(r.WideFanout))
	}
	for i, f := range r.WideFanout {
		if f.Deliveries != 200 || f.Received != 200 || f.Accepted <= 0 || f.Last <= 0 {
			t.Errorf("round %d: %+v", i+1, f)
		}
	}
}

func TestBacklog(t *testing.T) {
	for _, down := range []string{"closed", "503"} {
		t.Run(down, func(t *testing.T) {
			c := config(t, "backlog")
			c.BacklogSize, c.BacklogDown, c.Batch, c.Clients = 2000, down, 100, 2
			r, _ := run(t, c)
			checkConsistent(t, r)
			b := r.Backlog
			if b == nil || b.Deliveries != 2000 || b.DrainSeconds <= 0 || b.DrainAverage <= 0 ||
				b.PeakRSSDown <= 0 || b.FirstDeliverySeconds <= 0 || b.FailedDown != 0 {
				t.Fatalf("backlog figures: %+v", b)
			}
			// The circuits opened: the receivers saw a few failed attempts
			// and probes per endpoint, not one per delivery.
			if b.OpenCircuits == 0 || b.RequestsDown >= 2000/4 {
				t.Errorf("%d circuits open, %d requests while down: want the backlog held behind open circuits", b.OpenCircuits, b.RequestsDown)
			}
		})
	}
}

// TestBadReceivers runs both phases briefly: in each, the healthy
// endpoints get every delivery; beside them, the breakers cut the hanging,
// refusing and failing endpoints off after a few attempts each.
func TestBadReceivers(t *testing.T) {
	c := config(t, "bad-receivers")
	c.Rate, c.Duration, c.Warmup = 20, 3*time.Second, time.Second
	// Below the scenario's 5s, so that hanging requests time out and their
	// circuits open within the run; above the slow endpoints' 2 s.
	c.DeliveryTimeout = 3 * time.Second
	c.JSON = true
	c.Markdown = filepath.Join(t.TempDir(), "report.md")
	r, out := run(t, c)

	if n := r.ErrorCount(); n > 0 {
		t.Errorf("errors: %v", r.Errors)
	}
	if r.Ceiling != nil || r.Settings["delivery-timeout"] != "3s" || r.Endpoints != 100 || r.Rate != 20 {
		t.Errorf("settings: ceiling %v, delivery timeout %q, %d endpoints, rate %v", r.Ceiling, r.Settings["delivery-timeout"], r.Endpoints, r.Rate)
	}
	b := r.BadReceivers
	if b == nil {
		t.Fatal("no bad-receivers report")
	}
	if b.Healthy != 60 || b.PerKind != 10 {
		t.Errorf("layout: %d healthy, %d per kind; want 60 and 10", b.Healthy, b.PerKind)
	}
	for _, ph := range []bench.BadPhase{b.AllHealthy, b.WithBad} {
		t.Run(ph.Name, func(t *testing.T) {
			e, d := ph.Events, ph.Deliveries
			// The open model sends exactly rate × time events.
			if e.Sent != 20*4 || e.Accepted != e.Sent {
				t.Errorf("events: %+v, want 80 sent and accepted", e)
			}
			if d.Expected != e.Accepted*60 || d.Received != d.Expected || !d.Drained || d.PerSecond <= 0 {
				t.Errorf("healthy deliveries: %+v, want accepted × 60 = %d, all received", d, e.Accepted*60)
			}
			if ph.Announced != e.Accepted*100 {
				t.Errorf("202s announced %d deliveries, want accepted × 100 = %d", ph.Announced, e.Accepted*100)
			}
			checkLatency(t, "end-to-end", ph.EndToEndLatency)
			checkLatency(t, "ingest", ph.IngestLatency)
			if ph.PeakRSS <= 0 || ph.CPUSeconds <= 0 || len(ph.Timeline) < 2 || ph.Seconds < 2.9 {
				t.Errorf("phase figures missing: RSS %d, CPU %.2f, %d samples, %.2fs", ph.PeakRSS, ph.CPUSeconds, len(ph.Timeline), ph.Seconds)
			}
		})
	}
	if a := b.AllHealthy; a.Unmeasured <= 0 || a.Unmeasured > a.Events.Accepted*40 ||
		a.Stats.EndpointsByCircuit.Open+a.Stats.EndpointsByCircuit.HalfOpen != 0 {
		t.Errorf("all-healthy: %d deliveries to the unmeasured 40 (want some, at most %d), circuits %+v",
			a.Unmeasured, a.Events.Accepted*40, a.Stats.EndpointsByCircuit)
	}
	if b.WithBad.Unmeasured != 0 || r.Deliveries != b.WithBad.Deliveries {
		t.Errorf("with-bad: %d unmeasured deliveries; report deliveries %+v, phase %+v", b.WithBad.Unmeasured, r.Deliveries, b.WithBad.Deliveries)
	}
	if want := b.WithBad.Deliveries.PerSecond / b.AllHealthy.Deliveries.PerSecond; math.Abs(b.DeliveriesRatio-want) > 1e-9 ||
		b.DeliveriesMet != (want >= bench.BadDeliveriesTarget) {
		t.Errorf("deliveries ratio %v (met %v), want %v", b.DeliveriesRatio, b.DeliveriesMet, want)
	}
	if want := b.WithBad.EndToEndLatency.P99 / b.AllHealthy.EndToEndLatency.P99; math.Abs(b.P99Ratio-want) > 1e-9 ||
		b.P99Met != (want <= bench.BadP99Target) {
		t.Errorf("p99 ratio %v (met %v), want %v", b.P99Ratio, b.P99Met, want)
	}
	if b.HealthyNotClosed != 0 {
		t.Errorf("%d healthy endpoints with a circuit not closed", b.HealthyNotClosed)
	}

	if len(b.Kinds) != len(bench.BadKinds) {
		t.Fatalf("%d bad kinds, want %d", len(b.Kinds), len(bench.BadKinds))
	}
	// A circuit opens after 10 consecutive failures (--breaker-failures),
	// with at most 16 requests in flight (max_in_flight), and its first
	// probe is 30 s away: no endpoint may see more than 10 + 16.
	const most = 10 + 16
	for i, k := range b.Kinds {
		if k.Kind != bench.BadKinds[i] || k.Endpoints != 10 || k.First != 60+10*i || k.Due != b.WithBad.Events.Accepted*10 {
			t.Errorf("kind %d: %+v", i, k)
			continue
		}
		opened := k.Circuits.Open + k.Circuits.HalfOpen
		switch k.Kind {
		case bench.BadRefuse:
			// Nothing listens: nothing is received, but the server tried.
			if k.Requests != 0 || k.Attempts <= 0 || k.Attempts > most*10 || opened != 10 {
				t.Errorf("refuse: %d requests, %d attempts, %d circuits open; want 0, 1 to %d, 10", k.Requests, k.Attempts, most*10, opened)
			}
		case bench.BadHang, bench.BadFail:
			if k.Requests <= 0 || k.Requests >= k.Due/2 || k.PerEndpoint > most || opened != 10 {
				t.Errorf("%s: %d requests for %d due (%.1f per endpoint), %d circuits open; want fewer than half, at most %d per endpoint, 10 open",
					k.Kind, k.Requests, k.Due, k.PerEndpoint, opened, most)
			}
		case bench.BadSlow:
			// Slow successes keep the circuit closed.
			if k.Requests <= 0 || k.Requests > k.Due || k.Circuits.Closed != 10 {
				t.Errorf("slow: %d requests for %d due, circuits %+v; want some, all closed", k.Requests, k.Due, k.Circuits)
			}
		}
	}

	var decoded bench.Report
	if err := json.Unmarshal([]byte(out), &decoded); err != nil || decoded.BadReceivers == nil ||
		decoded.BadReceivers.WithBad.Deliveries != b.WithBad.Deliveries {
		t.Errorf("--json output does not decode to the report: %v", err)
	}
	md, err := os.ReadFile(c.Markdown)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# hookline bench: bad-receivers", "## Bad receivers", "| deliveries/s (median) |",
		"## Timeline: all-healthy", "## Timeline: with-bad", "hang requests"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// checkLoad checks one load's figures in a phase: the open model sent
// exactly rate × time events, all accepted, and every delivery the 202s
// announced (one per endpoint of the load's tenant) arrived, once, at the
// load's own endpoints.
func checkLoad(t *testing.T, l bench.LoadFigures, sent int64, endpoints int) {
	t.Helper()
	e, d := l.Events, l.Deliveries
	if e.Sent != sent || e.Accepted != sent {
		t.Errorf("%s: events %+v, want %d sent and accepted", l.Name, e, sent)
	}
	if l.Endpoints != endpoints || l.Announced != e.Accepted*int64(endpoints) {
		t.Errorf("%s: %d endpoints, 202s announced %d deliveries; want %d, accepted × %d = %d",
			l.Name, l.Endpoints, l.Announced, endpoints, endpoints, e.Accepted*int64(endpoints))
	}
	if d.Expected != l.Announced || d.Received != d.Expected || !d.Drained || l.Foreign != 0 || l.Duplicates != 0 {
		t.Errorf("%s: deliveries %+v, %d foreign, %d duplicates; want all %d received, once, at its own endpoints",
			l.Name, d, l.Foreign, l.Duplicates, l.Announced)
	}
	if sent > 0 {
		checkLatency(t, l.Name+" end-to-end", l.EndToEndLatency)
		// The measured loads: a delivery counts from its 202 (0 if it came
		// first), for the events of the window only.
		if a := l.AfterAccepted; (l.Name == "B" || l.Name == "priority-9") &&
			(a.Count == 0 || a.Count != l.EndToEndLatency.Count || a.P99 > l.EndToEndLatency.Max || a.Max > l.EndToEndLatency.Max) {
			t.Errorf("%s: latency after the 202 %+v, want one per delivery of the window (%d), below the end-to-end max %.3f ms",
				l.Name, a, l.EndToEndLatency.Count, l.EndToEndLatency.Max)
		}
		checkLatency(t, l.Name+" ingest", l.IngestLatency)
		if d.PerSecond <= 0 {
			t.Errorf("%s: no deliveries/s", l.Name)
		}
	}
}

// checkPhase checks the figures of one phase of noisy-tenant or priority,
// which ran loads named names (the measured one first).
func checkPhase(t *testing.T, ph bench.Phase, name string, names ...string) {
	t.Helper()
	if ph.Name != name || len(ph.Loads) != len(names) {
		t.Fatalf("phase %q with %d loads, want %q with %v", ph.Name, len(ph.Loads), name, names)
	}
	for i, l := range ph.Loads {
		if l.Name != names[i] {
			t.Errorf("phase %s: load %d is %q, want %q", name, i, l.Name, names[i])
		}
	}
	if ph.PeakRSS <= 0 || ph.CPUSeconds <= 0 || ph.WindowCores <= 0 || ph.Seconds < 1.9 || len(ph.Timeline) < 3 {
		t.Errorf("phase %s figures missing: RSS %d, CPU %.2fs, %.2f cores, %.2fs, %d samples",
			name, ph.PeakRSS, ph.CPUSeconds, ph.WindowCores, ph.Seconds, len(ph.Timeline))
	}
	// The timeline counts each load; its last sample saw every delivery.
	last := ph.Timeline[len(ph.Timeline)-1]
	for _, l := range ph.Loads {
		if x, ok := last.Loads[l.Name]; !ok || x.Delivered != l.Deliveries.Received || x.Sent != l.Events.Sent {
			t.Errorf("phase %s: last sample of %s: %+v, want %d sent and %d delivered", name, l.Name, x, l.Events.Sent, l.Deliveries.Received)
		}
	}
	if ph.Stats.Endpoints == 0 || ph.Stats.Failed != 0 {
		t.Errorf("phase %s: server stats %+v", name, ph.Stats)
	}
}

// checkMarkdown checks that the Markdown report holds every want.
func checkMarkdown(t *testing.T, path string, want ...string) {
	t.Helper()
	md, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !bytes.Contains(md, []byte(w)) {
			t.Errorf("markdown lacks %q:\n%s", w, md)
		}
	}
}

// TestNoisyTenant runs both phases briefly: B at 20 events/s alone, then
// beside A at 20 times that; each tenant's events reach its own endpoints
// only, and every delivery arrives.
func TestNoisyTenant(t *testing.T) {
	c := config(t, "noisy-tenant")
	c.JSON = true
	c.Markdown = filepath.Join(t.TempDir(), "report.md")
	r, out := run(t, c)
	if n := r.ErrorCount(); n > 0 {
		t.Errorf("errors: %v", r.Errors)
	}
	n := r.NoisyTenant
	if n == nil {
		t.Fatal("no noisy-tenant report")
	}
	if n.RateB != 20 || n.Factor != 20 || n.RateA != 400 || n.EndpointsPerTenant != 10 || r.Ceiling != nil {
		t.Errorf("settings: B %v/s, factor %v, A %v/s, %d endpoints per tenant, ceiling %v", n.RateB, n.Factor, n.RateA, n.EndpointsPerTenant, r.Ceiling)
	}
	checkPhase(t, n.Quiet, "A idle", "B", "A")
	checkPhase(t, n.Noisy, "A noisy", "B", "A")
	// 2.5 s of open-model load: 50 events from B, 1000 from A.
	for _, ph := range []bench.Phase{n.Quiet, n.Noisy} {
		b := ph.Loads[0]
		checkLoad(t, b, 50, 10)
		if b.Tenant != bench.TenantQuiet || b.First != 0 || b.Rate != 20 {
			t.Errorf("%s: B is tenant %q from endpoint %d at %v/s", ph.Name, b.Tenant, b.First, b.Rate)
		}
	}
	if a := n.Quiet.Loads[1]; !a.Idle || a.Events.Sent != 0 || a.Deliveries.Received != 0 {
		t.Errorf("A idle sent %d, received %d (idle %v)", a.Events.Sent, a.Deliveries.Received, a.Idle)
	}
	a := n.Noisy.Loads[1]
	checkLoad(t, a, 1000, 10)
	if a.Tenant != bench.TenantNoisy || a.First != 10 || a.Rate != 400 || a.Idle {
		t.Errorf("A noisy is tenant %q from endpoint %d at %v/s (idle %v)", a.Tenant, a.First, a.Rate, a.Idle)
	}
	// Requests cover both phases and both tenants (more with retries).
	if want := int64(2*50*10 + 1000*10); r.Receivers.Requests < want {
		t.Errorf("receivers got %d requests, want at least %d", r.Receivers.Requests, want)
	}
	qb, wb := n.Quiet.Loads[0], n.Noisy.Loads[0]
	if want := wb.EndToEndLatency.P99 / qb.EndToEndLatency.P99; math.Abs(n.P99Ratio-want) > 1e-9 || n.P99Met != (want <= bench.NoisyP99Target) {
		t.Errorf("p99 ratio %v (met %v), want %v", n.P99Ratio, n.P99Met, want)
	}
	if want := wb.Deliveries.PerSecond / qb.Deliveries.PerSecond; math.Abs(n.DeliveriesRatio-want) > 1e-9 {
		t.Errorf("deliveries ratio %v, want %v", n.DeliveriesRatio, want)
	}
	// The run's own figures are B's in the noisy phase.
	if r.Deliveries.Received != wb.Deliveries.Received || r.Deliveries.Expected != wb.Deliveries.Expected ||
		r.EndToEndLatency != wb.EndToEndLatency || !r.Deliveries.Drained {
		t.Errorf("report figures %+v, e2e %+v; want B's of the noisy phase %+v, %+v", r.Deliveries, r.EndToEndLatency, wb.Deliveries, wb.EndToEndLatency)
	}
	var decoded bench.Report
	if err := json.Unmarshal([]byte(out), &decoded); err != nil || decoded.NoisyTenant == nil ||
		decoded.NoisyTenant.Noisy.Loads[1].Deliveries != a.Deliveries {
		t.Errorf("--json output does not decode to the report: %v", err)
	}
	checkMarkdown(t, c.Markdown, "# hookline bench: noisy-tenant", "## Noisy tenant", "**B end-to-end p99 (ms)**",
		"## Timeline: A idle", "## Timeline: A noisy", "A pending", "other cores")
}

// TestNoisyTenantFlood has A send back to back (closed loop) in batches:
// its rate is whatever the server takes, and still every delivery of both
// tenants arrives at its own endpoints.
func TestNoisyTenantFlood(t *testing.T) {
	c := config(t, "noisy-tenant")
	c.NoisyFactor, c.Batch, c.Clients = -1, 20, 4
	r, _ := run(t, c)
	if n := r.ErrorCount(); n > 0 {
		t.Errorf("errors: %v", r.Errors)
	}
	n := r.NoisyTenant
	if n == nil {
		t.Fatal("no noisy-tenant report")
	}
	checkPhase(t, n.Noisy, "A noisy", "B", "A")
	checkLoad(t, n.Noisy.Loads[0], 50, 10)
	a := n.Noisy.Loads[1]
	if a.Rate != 0 || n.RateA != 0 || a.Batch != 20 || a.Events.Sent == 0 || a.Events.Sent%20 != 0 {
		t.Errorf("A: rate %v (report %v), batch %d, %d sent; want a closed loop of batches of 20", a.Rate, n.RateA, a.Batch, a.Events.Sent)
	}
	checkLoad(t, a, a.Events.Sent, 10)
}

// TestPriority runs both phases briefly, with a backlog of 20,000
// priority-1 deliveries: the receivers tell the two loads apart, every
// delivery of both arrives, and the backlog's figures hang together.
func TestPriority(t *testing.T) {
	c := config(t, "priority")
	c.BacklogSize = 20_000
	c.JSON = true
	c.Markdown = filepath.Join(t.TempDir(), "report.md")
	r, out := run(t, c)
	if n := r.ErrorCount(); n > 0 {
		t.Errorf("errors: %v", r.Errors)
	}
	p := r.Priority
	if p == nil {
		t.Fatal("no priority report")
	}
	if r.Behavior.Latency != 20*time.Millisecond || p.ReceiverLatencyMS != 20 || p.Rate != 20 || p.Batch != 1000 {
		t.Errorf("settings: receiver latency %v (%v ms), rate %v, batch %d; want the scenario's 20ms, 20/s, 1000",
			r.Behavior.Latency, p.ReceiverLatencyMS, p.Rate, p.Batch)
	}
	checkPhase(t, p.Idle, "idle", "priority-9")
	checkPhase(t, p.Backlog, "backlog", "priority-9", "priority-1")
	for _, ph := range []bench.Phase{p.Idle, p.Backlog} {
		h := ph.Loads[0]
		checkLoad(t, h, 50, 10)
		if h.Priority != bench.HighPriority {
			t.Errorf("%s: priority %d", ph.Name, h.Priority)
		}
	}
	low := p.Backlog.Loads[1]
	checkLoad(t, low, 2000, 10)
	if low.Priority != bench.LowPriority || low.Batch != 1000 || p.Queued != 20_000 {
		t.Errorf("backlog: priority %d, batch %d, %d queued; want 1, 1000, 20000", low.Priority, low.Batch, p.Queued)
	}
	if !p.Drained || p.QueueSeconds <= 0 || p.DrainSeconds <= p.QueueSeconds || p.DrainPerSecond <= 0 ||
		math.Abs(p.DrainAverage-20_000/p.DrainSeconds) > 1e-6 {
		t.Errorf("drain: drained %v, queued in %.2fs, drained in %.2fs, %.0f/s median, %.0f/s average",
			p.Drained, p.QueueSeconds, p.DrainSeconds, p.DrainPerSecond, p.DrainAverage)
	}
	if p.PendingAtFrom > 20_000 || p.PendingAtTo > p.PendingAtFrom || p.OverlapSeconds < 0 || p.OverlapSeconds > p.Backlog.Seconds+1e-9 ||
		(p.PendingAtTo > 0) != (p.OverlapSeconds >= p.Backlog.Seconds-0.1) {
		t.Errorf("overlap: %d pending at the window's start, %d at its end; overlap %.2fs of %.2fs",
			p.PendingAtFrom, p.PendingAtTo, p.OverlapSeconds, p.Backlog.Seconds)
	}
	ih, bh := p.Idle.Loads[0], p.Backlog.Loads[0]
	if want := bh.EndToEndLatency.P99 / ih.EndToEndLatency.P99; math.Abs(p.P99Ratio-want) > 1e-9 || p.P99Met != (want <= bench.PriorityP99Target) {
		t.Errorf("p99 ratio %v (met %v), want %v", p.P99Ratio, p.P99Met, want)
	}
	if want := int64(2*50*10 + 20_000); r.Receivers.Requests < want {
		t.Errorf("receivers got %d requests, want at least %d", r.Receivers.Requests, want)
	}
	if r.Deliveries.Received != bh.Deliveries.Received || r.EndToEndLatency != bh.EndToEndLatency {
		t.Errorf("report figures %+v; want the priority-9 load's of the backlog phase %+v", r.Deliveries, bh.Deliveries)
	}
	var decoded bench.Report
	if err := json.Unmarshal([]byte(out), &decoded); err != nil || decoded.Priority == nil || decoded.Priority.Queued != p.Queued {
		t.Errorf("--json output does not decode to the report: %v", err)
	}
	checkMarkdown(t, c.Markdown, "# hookline bench: priority", "## Priorities", "**end-to-end p99 (ms)**",
		"## Timeline: idle", "## Timeline: backlog", "priority-1 pending", "window overlapped by the drain")
}
