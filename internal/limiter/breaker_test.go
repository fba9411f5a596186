package limiter

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newBreaker() *Breaker {
	return &Breaker{Threshold: 3, Cooldown: 30 * time.Second, MaxCooldown: 2 * time.Minute}
}

// TestBreakerStateMachine walks the breaker through every transition with
// an injected clock.
func TestBreakerStateMachine(t *testing.T) {
	b := newBreaker()
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	want := func(s State, what string) {
		t.Helper()
		if b.State() != s {
			t.Fatalf("%s: state %v, want %v", what, b.State(), s)
		}
	}
	ready := func(d time.Duration, ok bool, wait time.Duration, what string) {
		t.Helper()
		got, when := b.Ready(at(d))
		if got != ok {
			t.Fatalf("%s: Ready = %v, want %v", what, got, ok)
		}
		if !ok && wait > 0 && !when.Equal(at(wait)) {
			t.Fatalf("%s: ready again at %v, want %v", what, when, at(wait))
		}
	}
	ready(0, true, 0, "closed")
	if b.Failure(at(0), false) || b.Failure(at(1*time.Second), false) {
		t.Fatal("opened before the threshold")
	}
	want(Closed, "two failures")
	if b.Success() {
		t.Fatal("a success of a closed circuit reports closing it")
	}
	if b.Failures() != 0 {
		t.Fatalf("failures after a success = %d", b.Failures())
	}
	for i := range 2 {
		b.Failure(at(time.Duration(i)*time.Second), false)
	}
	if !b.Failure(at(2*time.Second), false) {
		t.Fatal("third consecutive failure did not open")
	}
	want(Open, "three failures")
	if b.Failure(at(3*time.Second), false) {
		t.Fatal("a late failure reopened an open circuit")
	}
	ready(10*time.Second, false, 32*time.Second, "open, cooling down")
	ready(32*time.Second, true, 0, "cooldown over")
	if b.Acquire(at(20 * time.Second)) {
		t.Fatal("probe taken before the cooldown ended")
	}
	if !b.Acquire(at(32 * time.Second)) {
		t.Fatal("no probe after the cooldown")
	}
	want(HalfOpen, "probe taken")
	ready(33*time.Second, false, 0, "half-open, probe under way")
	// The probe fails: open again, cooldown doubled.
	b.Failure(at(35*time.Second), true)
	want(Open, "probe failed")
	ready(94*time.Second, false, 95*time.Second, "second cooldown (60s)")
	b.Acquire(at(95 * time.Second))
	b.Failure(at(96*time.Second), true) // cooldown 120s, the max
	b.Acquire(at(216 * time.Second))
	b.Failure(at(216*time.Second), true) // still 120s
	if _, cd := b.OpenedAt(); cd != 2*time.Minute {
		t.Fatalf("cooldown = %v, want the 2m maximum", cd)
	}
	if !b.Acquire(at(336 * time.Second)) {
		t.Fatal("no probe after the maximum cooldown")
	}
	if !b.Success() {
		t.Fatal("a successful probe did not report closing")
	}
	want(Closed, "probe succeeded")
	if _, cd := b.OpenedAt(); cd != 0 {
		t.Fatalf("cooldown after closing = %v", cd)
	}
	// Opened again, the cooldown starts from the first one.
	for range 3 {
		b.Failure(at(400*time.Second), false)
	}
	ready(401*time.Second, false, 430*time.Second, "reopened with the first cooldown")
}

func TestBreakerLateSuccessCloses(t *testing.T) {
	b := newBreaker()
	for range 3 {
		b.Failure(t0, false)
	}
	if !b.Success() || b.State() != Closed {
		t.Fatal("a success of an earlier request did not close the open circuit")
	}
}

func TestBreakerAbandonAndRestore(t *testing.T) {
	b := newBreaker()
	for range 3 {
		b.Failure(t0, false)
	}
	probe := b.Acquire(t0.Add(time.Minute))
	b.Abandon(probe)
	if b.State() != Open {
		t.Fatalf("state after an abandoned probe %v", b.State())
	}
	if ok, _ := b.Ready(t0.Add(time.Minute)); !ok {
		t.Fatal("an abandoned probe is not due again at once")
	}
	var r Breaker = *newBreaker()
	r.Restore(HalfOpen, 7, t0, 0)
	if r.State() != Open || r.Failures() != 7 || !r.ProbeAt().Equal(t0.Add(30*time.Second)) {
		t.Fatalf("restored %v %d probe at %v", r.State(), r.Failures(), r.ProbeAt())
	}
}
