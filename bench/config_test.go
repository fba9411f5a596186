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
