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

// TestLoadWindow checks that a load that sent its last event before the
// phase's loads ended is measured up to its own end: with a window to the
// phase's end, the seconds after it sent everything count as 0/s and can
// be the median (B's rate was 0 when A's senders ran late).
func TestLoadWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	sec := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	sp := span{start: t0, from: sec(0.5), to: sec(6.5)}
	if got := sp.sentBy(sec(3)); !got.Equal(sec(3)) {
		t.Errorf("window of a load done at 3 s ends at %v", got.Sub(t0))
	}
	if got := sp.sentBy(sec(7)); !got.Equal(sp.to) {
		t.Errorf("window of a load done after the phase ends at %v, want the phase's end", got.Sub(t0))
	}
	if got := sp.sentBy(time.Time{}); !got.Equal(sp.to) {
		t.Errorf("window of an idle load ends at %v, want the phase's end", got.Sub(t0))
	}
	// B's deliveries of the failed run: all 500 by 3.03 s, then none.
	samples := []Sample{{at: sec(0.52)}, {at: sec(1.0), Delivered: 110}, {at: sec(2.01), Delivered: 302},
		{at: sec(3.03), Delivered: 418}, {at: sec(4.01), Delivered: 418}, {at: sec(5.0), Delivered: 418},
		{at: sec(6.0), Delivered: 418}, {at: sec(6.49), Delivered: 418}}
	delivered := func(x Sample) int64 { return x.Delivered }
	if got := medianRate(samples, sp.from, sp.to, delivered); got != 0 {
		t.Fatalf("over the phase's window: %.1f/s; this test wants to show that it is 0", got)
	}
	if got := medianRate(samples, sp.from, sp.sentBy(sec(3)), delivered); got < 100 {
		t.Errorf("over the load's own window: %.1f/s, want B's rate, about 190/s", got)
	}
}
