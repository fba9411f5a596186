package limiter

import "time"

// State is a circuit state.
type State int

// The circuit states.
const (
	Closed   State = iota // requests flow
	Open                  // no request until the cooldown ends
	HalfOpen              // one probe is under way
)

// String returns "closed", "open" or "half_open".
func (s State) String() string {
	switch s {
	case Open:
		return "open"
	case HalfOpen:
		return "half_open"
	}
	return "closed"
}

// Breaker is a circuit breaker: Threshold consecutive failed attempts open
// it; while open, nothing is sent until its cooldown ends, then one probe;
// a probe that fails reopens it with the cooldown doubled (up to
// MaxCooldown), and any success closes it.
//
// Outcomes of requests sent before the circuit opened may arrive while it
// is open: a success closes it (the receiver answers again), a failure
// changes nothing but the count.
type Breaker struct {
	Threshold   int           // consecutive failures that open the circuit; at least 1
	Cooldown    time.Duration // first cooldown
	MaxCooldown time.Duration // longest cooldown

	state    State
	failures int           // consecutive failed attempts
	openedAt time.Time     // when it last opened
	cooldown time.Duration // the current cooldown
}

// State returns the circuit's state; an open circuit whose cooldown has
// ended reads as open until Acquire takes the probe.
func (b *Breaker) State() State { return b.state }

// Failures returns the consecutive failed attempts.
func (b *Breaker) Failures() int { return b.failures }

// OpenedAt returns when the circuit last opened and its current cooldown.
func (b *Breaker) OpenedAt() (time.Time, time.Duration) { return b.openedAt, b.cooldown }

// ProbeAt returns when an open circuit lets its probe go; zero unless open.
func (b *Breaker) ProbeAt() time.Time {
	if b.state != Open {
		return time.Time{}
	}
	return b.openedAt.Add(b.cooldown)
}

// Ready reports whether a request may be sent at now without changing the
// state: closed, or open with the cooldown over (the request would be the
// probe). While it is not, at is when to ask again (zero: when the probe
// under way ends).
func (b *Breaker) Ready(now time.Time) (ok bool, at time.Time) {
	switch b.state {
	case Closed:
		return true, time.Time{}
	case Open:
		if p := b.ProbeAt(); !now.Before(p) {
			return true, time.Time{}
		} else {
			return false, p
		}
	}
	return false, time.Time{}
}

// Acquire takes the right to send one request at now, when Ready allows it.
// It reports whether the request is the probe of an open circuit (which
// turns half-open).
func (b *Breaker) Acquire(now time.Time) (probe bool) {
	if b.state == Open && !now.Before(b.ProbeAt()) {
		b.state = HalfOpen
		return true
	}
	return false
}

// Success records a successful attempt. It reports whether the circuit was
// open or half-open and is now closed.
func (b *Breaker) Success() (closed bool) {
	was := b.state
	b.state, b.failures, b.cooldown = Closed, 0, 0
	return was != Closed
}

// Failure records a failed attempt at now; probe says whether it was the
// probe. It reports whether the circuit opened (from closed) now.
func (b *Breaker) Failure(now time.Time, probe bool) (opened bool) {
	b.failures++
	switch {
	case probe && b.state == HalfOpen:
		b.state, b.openedAt = Open, now
		b.cooldown = min(2*max(b.cooldown, b.Cooldown), b.MaxCooldown)
	case b.state == Closed && b.failures >= max(1, b.Threshold):
		b.state, b.openedAt, b.cooldown = Open, now, b.Cooldown
		return true
	}
	return false
}

// Abandon gives back a probe that was taken but never sent (the endpoint
// was disabled or deleted meanwhile): the circuit is open again, due for a
// probe at once.
func (b *Breaker) Abandon(probe bool) {
	if probe && b.state == HalfOpen {
		b.state = Open
		b.openedAt = b.openedAt.Add(-b.cooldown) // due now
	}
}

// Restore sets the state saved earlier, e.g. by the previous owner of the
// endpoint. A half-open circuit restores as open: its probe was lost.
func (b *Breaker) Restore(s State, failures int, openedAt time.Time, cooldown time.Duration) {
	if s == HalfOpen {
		s = Open
	}
	b.state, b.failures, b.openedAt, b.cooldown = s, failures, openedAt, cooldown
	if s == Open && b.cooldown <= 0 {
		b.cooldown = b.Cooldown
	}
}

// Reset closes the circuit and forgets the failures.
func (b *Breaker) Reset() { b.state, b.failures, b.cooldown, b.openedAt = Closed, 0, 0, time.Time{} }
