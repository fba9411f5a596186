package bench

import (
	"testing"
	"time"
)

// TestMedianRateFewSamples checks that a window holding fewer than two
// samples (a loaded machine delays the sampler past a short window) gets the
// average rate of the samples around it, not 0, which the reports would
// print as "no deliveries/s".
func TestMedianRateFewSamples(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64, delivered int64) Sample {
		return Sample{at: t0.Add(time.Duration(s * float64(time.Second))), Delivered: delivered}
	}
	samples := []Sample{at(0, 0), at(1, 100), at(3.2, 540), at(4, 700)}
	delivered := func(x Sample) int64 { return x.Delivered }
	// Window 1.5–2.5 s: no sample inside; bracketed by 1 s and 3.2 s.
	if got, want := medianRate(samples, t0.Add(1500*time.Millisecond), t0.Add(2500*time.Millisecond), delivered), 440/2.2; got < want-0.01 || got > want+0.01 {
		t.Errorf("rate over a window without samples: %.2f/s, want %.2f/s", got, want)
	}
	// Window 0.5–3.5 s: one sample inside (1 s)... and 3.2 s: two, so the
	// per-interval median applies: (540-100)/2.2 s.
	if got, want := medianRate(samples, t0.Add(500*time.Millisecond), t0.Add(3500*time.Millisecond), delivered), 440/2.2; got < want-0.01 || got > want+0.01 {
		t.Errorf("rate over a window of two samples: %.2f/s, want %.2f/s", got, want)
	}
	// Nothing after the window: 0.
	if got := medianRate(samples, t0.Add(4500*time.Millisecond), t0.Add(5*time.Second), delivered); got != 0 {
		t.Errorf("rate past the last sample: %.2f/s, want 0", got)
	}
}
