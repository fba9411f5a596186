package limiter

import (
	"math/rand/v2"
	"testing"
	"time"
)

// drive sends through r as fast as it allows, from start for d, with an
// injected clock that moves in random steps of up to step, and returns the
// send times.
func drive(r *Rate, start time.Time, d, step time.Duration, rnd *rand.Rand) []time.Time {
	var sent []time.Time
	for now := start; now.Before(start.Add(d)); now = now.Add(time.Duration(rnd.Int64N(int64(step)) + 1)) {
		for {
			ok, _ := r.Ready(now)
			if !ok {
				break
			}
			r.Sent(now)
			sent = append(sent, now)
		}
	}
	return sent
}

// maxInWindow returns the most sends in any window of length w.
func maxInWindow(sent []time.Time, w time.Duration) int {
	best, j := 0, 0
	for i := range sent {
		for sent[i].Sub(sent[j]) >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// TestRateAccuracy checks the static limit over a sliding window for rates
// below, at and above the window's memory.
func TestRateAccuracy(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, rate := range []float64{0.5, 1, 2.5, 20, 333, 1500, 5000} {
		r := NewRate(rate)
		d := 20 * time.Second
		sent := drive(r, t0, d, 3*time.Millisecond, rnd)
		perSecond := maxInWindow(sent, time.Second)
		if perSecond > max(int(rate), 1) {
			t.Errorf("rate %v: %d sent in one second", rate, perSecond)
		}
		total := float64(len(sent)) / d.Seconds()
		want := rate // sustained: the rate, rounded down above 1/s
		if rate >= 1 {
			want = float64(int(rate))
		}
		if total < want*0.9 || total > rate*1.05+0.1 {
			t.Errorf("rate %v: sustained %.2f/s", rate, total)
		}
		if burst := maxInWindow(sent, time.Millisecond); float64(burst) > max(rate, 1) {
			t.Errorf("rate %v: a burst of %d", rate, burst)
		}
	}
}

func TestRateUnlimited(t *testing.T) {
	r := NewRate(0)
	for range 10000 {
		if ok, _ := r.Ready(t0); !ok {
			t.Fatal("an unlimited rate refused")
		}
		r.Sent(t0)
	}
	if r.Limit() != 0 {
		t.Fatalf("limit %v", r.Limit())
	}
}

// TestRateAdaptive checks AIMD on the send rate: a push-back halves what was
// sent, then it grows by a tenth a second and is dropped once above demand.
func TestRateAdaptive(t *testing.T) {
	r := NewRate(0)
	now := t0
	for range 100 { // 100 sends over the last second
		r.Sent(now)
		now = now.Add(10 * time.Millisecond)
	}
	r.PushedBack(now)
	if got := r.Limit(); got < 45 || got > 50 {
		t.Fatalf("adaptive rate after a push-back = %v, want about half of 100/s", got)
	}
	first := r.Limit()
	r.PushedBack(now.Add(500 * time.Millisecond))
	if got := r.Limit(); got != first {
		t.Fatalf("a push-back within the second cut again to %v", got)
	}
	now = now.Add(time.Second)
	r.PushedBack(now)
	if got := r.Limit(); got > first/2 {
		t.Fatalf("after a second push-back a second later = %v, want at most %v", got, first/2)
	}
	first = r.Limit() * 2
	// A success within the second does not grow it.
	r.Succeeded(now.Add(500 * time.Millisecond))
	if r.Limit() != first/2 {
		t.Fatalf("grew within a second: %v", r.Limit())
	}
	// Demand of 30/s: it grows by half a second and is dropped once over
	// twice what is sent.
	var steps int
	for r.Adaptive() > 0 && steps < 100 {
		now = now.Add(time.Second)
		for range 30 {
			if ok, _ := r.Ready(now); ok {
				r.Sent(now)
			}
		}
		r.Succeeded(now)
		steps++
	}
	if r.Adaptive() != 0 {
		t.Fatal("the adaptive rate was never dropped")
	}
	if steps < 2 {
		t.Fatalf("recovered in %d seconds: should take a few", steps)
	}
	// With a static rate, the adaptive one is dropped once it reaches it.
	s := NewRate(10)
	for range 10 {
		s.Sent(now)
	}
	s.PushedBack(now)
	if s.Limit() > 5 {
		t.Fatalf("limit with a static 10/s after a push-back = %v, want 5", s.Limit())
	}
	for i := 1; s.Adaptive() > 0 && i < 100; i++ {
		s.Succeeded(now.Add(time.Duration(i) * time.Second))
	}
	if s.Limit() != 10 {
		t.Fatalf("limit after recovery = %v, want the static 10", s.Limit())
	}
}

// TestRateWrote checks that moving sends to when they were written delays
// the next ones accordingly, and that stale marks are ignored.
func TestRateWrote(t *testing.T) {
	r := NewRate(2)
	m1, m2 := r.Sent(t0), r.Sent(t0)
	if ok, _ := r.Ready(t0); ok {
		t.Fatal("a third send allowed within the window")
	}
	late := t0.Add(300 * time.Millisecond)
	r.Wrote(m1, late)
	r.Wrote(m2, late)
	_, at := r.Ready(t0.Add(time.Second))
	if !at.After(late.Add(time.Second)) {
		t.Fatalf("next send allowed at %v, want after %v", at, late.Add(time.Second))
	}
	r.SetStatic(5) // a new window: old marks name no slot
	m3 := r.Sent(t0.Add(2 * time.Second))
	r.Wrote(m1, t0.Add(time.Hour))
	if ok, _ := r.Ready(t0.Add(3 * time.Second)); !ok {
		t.Fatal("a stale mark moved a send")
	}
	r.Wrote(m3, t0.Add(2*time.Second+time.Millisecond))
	if NewRate(0).Sent(t0) != 0 {
		t.Fatal("an unlimited rate gives marks")
	}
}
