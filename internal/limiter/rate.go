package limiter

import (
	"math"
	"time"
)

// maxWindowSends bounds the memory of a Rate: it remembers at most this many
// sends, and a rate above it is enforced over a window shorter than a
// second.
const maxWindowSends = 1000

// Rate limits the requests sent to one endpoint per second. Two rates apply,
// the lower winning: a static one the user sets (0: none), and an adaptive
// one that a receiver's push-back (429, 503) sets to half the rate it was
// being sent (and halves again at each push-back), and that grows back by
// half (at least 1/s) each second of successes without push-back, until it
// is above twice what is sent or above the static rate (then it is
// dropped): down at once, up over seconds.
//
// The limit is exact over a sliding window: with a rate R ≥ 1 it sends at
// most ⌊R⌋ requests in any second (above maxWindowSends per second, at most
// ⌊R/k⌋ in any 1/k of a second), and a burst never exceeds one second's
// worth; below 1/s, one request per 1/R seconds.
type Rate struct {
	static   float64
	adaptive float64   // 0: none
	grownAt  time.Time // when adaptive last grew
	cutAt    time.Time // when adaptive was last cut

	n      int // window size in sends
	window time.Duration
	sends  []time.Time // ring of the last n sends
	head   int         // index of the oldest
	count  int
	total  uint64 // sends recorded in the ring, ever (the marks)

	// recent counts sends over the last second in ten buckets, to tell the
	// rate being sent when the receiver pushes back.
	recent   [10]int
	recentAt int64 // bucket number (100 ms) of recent[last]
}

// NewRate returns a limiter with a static rate (0: none).
func NewRate(static float64) *Rate {
	r := &Rate{}
	r.SetStatic(static)
	return r
}

// SetStatic changes the static rate (0: none).
func (r *Rate) SetStatic(v float64) {
	r.static = max(0, v)
	r.resize()
}

// Static returns the static rate.
func (r *Rate) Static() float64 { return r.static }

// Adaptive returns the adaptive rate, 0 when none applies.
func (r *Rate) Adaptive() float64 { return r.adaptive }

// Limit returns the rate enforced now, 0 for none.
func (r *Rate) Limit() float64 {
	switch {
	case r.static == 0:
		return r.adaptive
	case r.adaptive == 0:
		return r.static
	}
	return min(r.static, r.adaptive)
}

// resize sets the window for the current limit, keeping the latest sends.
func (r *Rate) resize() {
	lim := r.Limit()
	if lim <= 0 {
		r.n, r.window, r.sends, r.head, r.count = 0, 0, nil, 0, 0
		return
	}
	// Below 1/s: one send per 1/lim seconds. Above: the second is cut into
	// k equal windows of n sends each, so that no second, wherever it
	// starts, holds more than k·n ≤ lim sends (a fractional rate is rounded
	// down to what whole windows allow).
	n, window := 1, time.Duration(float64(time.Second)/lim)
	if lim >= 1 {
		k := math.Ceil(lim / maxWindowSends)
		n, window = int(math.Floor(lim/k)), time.Duration(float64(time.Second)/k)
	}
	// A guard for the jitter between sending and arrival (goroutines
	// starting, the network), so that the receiver, which counts arrivals,
	// sees the limit too: 2% of the window, at least 10 ms.
	window += max(window/50, 10*time.Millisecond)
	if n == r.n {
		r.window = window
		return
	}
	keep := make([]time.Time, 0, n)
	for i := max(0, r.count-n); i < r.count; i++ {
		keep = append(keep, r.sends[(r.head+i)%len(r.sends)])
	}
	r.sends = make([]time.Time, n)
	copy(r.sends, keep)
	r.n, r.window, r.head, r.count = n, window, 0, len(keep)
	r.total += uint64(n) // marks from before no longer name a slot
}

// Ready reports whether a request may be sent at now, and if not, when.
func (r *Rate) Ready(now time.Time) (bool, time.Time) {
	if r.n == 0 || r.count < r.n {
		return true, time.Time{}
	}
	oldest := r.sends[r.head]
	if at := oldest.Add(r.window); now.Before(at) {
		return false, at
	}
	return true, time.Time{}
}

// Sent records a request sent at now (after Ready allowed it).
//
// It returns a mark for Wrote, 0 when the rate is not limited.
func (r *Rate) Sent(now time.Time) (mark uint64) {
	r.note(now, 1)
	if r.n == 0 {
		return 0
	}
	r.total++
	if r.count < r.n {
		r.sends[(r.head+r.count)%r.n] = now
		r.count++
		return r.total
	}
	r.sends[r.head] = now
	r.head = (r.head + 1) % r.n
	return r.total
}

// Wrote moves the time of the send of mark to when its request was
// written, at: the limit then holds at the receiver, whatever the delay of
// connecting. A mark that the window has moved past, or from before the
// rate last changed, is ignored.
func (r *Rate) Wrote(mark uint64, at time.Time) {
	if mark == 0 || mark > r.total || r.total-mark >= uint64(r.count) || r.n == 0 {
		return
	}
	i := (r.head + r.count - 1 - int(r.total-mark)) % r.n
	if at.After(r.sends[i]) {
		r.sends[i] = at
	}
}

// note adds n sends at now to recent.
func (r *Rate) note(now time.Time, n int) {
	b := now.UnixNano() / int64(100*time.Millisecond)
	if d := b - r.recentAt; d > 0 {
		if d >= int64(len(r.recent)) {
			r.recent = [10]int{}
		} else {
			copy(r.recent[:], r.recent[d:])
			clear(r.recent[len(r.recent)-int(d):])
		}
		r.recentAt = b
	}
	r.recent[len(r.recent)-1] += n
}

// sentLastSecond returns the requests sent over the last second.
func (r *Rate) sentLastSecond(now time.Time) int {
	r.note(now, 0)
	n := 0
	for _, v := range r.recent {
		n += v
	}
	return n
}

// PushedBack records a receiver's push-back at now: the adaptive rate
// becomes half of what was sent over the last second (at least 1 request
// per second), or half itself if that is lower; at most once a second, so
// that the push-backs of one burst count once.
func (r *Rate) PushedBack(now time.Time) {
	if r.adaptive > 0 && now.Sub(r.cutAt) < time.Second {
		return
	}
	r.cutAt = now
	sent := float64(r.sentLastSecond(now))
	next := math.Max(1, sent/2)
	if r.adaptive > 0 {
		next = math.Max(1, math.Min(next, r.adaptive/2))
	}
	r.adaptive, r.grownAt = next, now
	r.resize()
}

// Succeeded records a success at now: once a second, the adaptive rate
// grows by half (at least 1), and it is dropped once it is above twice what
// is being sent or above the static rate.
func (r *Rate) Succeeded(now time.Time) {
	if r.adaptive == 0 || now.Sub(r.grownAt) < time.Second {
		return
	}
	r.adaptive += math.Max(1, r.adaptive/2)
	r.grownAt = now
	if sent := float64(r.sentLastSecond(now)); r.adaptive > 2*math.Max(sent, 1) || (r.static > 0 && r.adaptive >= r.static) {
		r.adaptive = 0
	}
	r.resize()
}

// Reset drops the adaptive rate.
func (r *Rate) Reset() {
	r.adaptive = 0
	r.resize()
}
