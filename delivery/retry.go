package delivery

import (
	"fmt"
	"strings"
	"time"
)

// DefaultSchedule is the delay before each attempt: the first at once, the
// last about 33 hours after the event.
var DefaultSchedule = []time.Duration{
	0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// RetryPolicy decides when a failed delivery is tried again.
type RetryPolicy struct {
	// Schedule holds the delay before each attempt; its length is the number
	// of attempts. Schedule[0] is the delay before the first attempt, which
	// Hookline makes as soon as it can: it is not used (ParseSchedule
	// refuses any but 0).
	Schedule []time.Duration
	// Jitter spreads each delay uniformly by ±Jitter of itself (0.2 = ±20%)
	// so that failures that happen together retry apart.
	Jitter float64
	// Rand returns a number in [0, 1). It is injected so tests are exact.
	Rand func() float64
}

// Next returns the delay before the next attempt of a delivery that has made
// n attempts since its schedule (re)started, and false when none remain.
// retryAfter, when positive, is a receiver's Retry-After; it is honoured but
// clamped to between the scheduled delay and twice it.
func (p *RetryPolicy) Next(n int, retryAfter time.Duration) (time.Duration, bool) {
	if n < 0 {
		n = 0
	}
	if n >= len(p.Schedule) {
		return 0, false
	}
	d := p.Schedule[n]
	if p.Jitter > 0 && d > 0 {
		d = time.Duration(float64(d) * (1 + p.Jitter*(2*p.Rand()-1)))
	}
	if retryAfter > 0 {
		d = min(max(retryAfter, d), 2*d)
	}
	return d, true
}

// ParseSchedule parses a comma-separated list of Go durations, such as
// "0s,5s,5m,30m,2h,5h,10h,10h". The first must be zero: the first attempt
// is made as soon as an event is accepted, and a delay there would be
// ignored, so it is refused with the schedule that was probably meant.
func ParseSchedule(s string) ([]time.Duration, error) {
	var out []time.Duration
	fields := strings.Split(s, ",")
	for _, f := range fields {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("retry schedule: %q: %w", f, err)
		} else if d < 0 {
			return nil, fmt.Errorf("retry schedule: %q is negative", f)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("retry schedule: empty")
	}
	if out[0] != 0 {
		meant := "0s," + strings.Join(trimAll(fields), ",")
		return nil, fmt.Errorf("retry schedule: the first entry is the delay before the first attempt, which is made at once: "+
			"it must be 0s, not %s (to wait %s before the first retry, write %s)", out[0], out[0], meant)
	}
	return out, nil
}

func trimAll(fs []string) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = strings.TrimSpace(f)
	}
	return out
}
