package limiter

// Concurrency is an adaptive limit on the requests in flight to one
// endpoint, between 1 and Max, in the AIMD way of TCP congestion control:
// it halves on a congestion signal (a timeout, a connection error, a 5xx, a
// 429), at most once per window (a limit's worth of requests completed
// since the last cut, so that one burst of failures counts once), grows by
// one per success up to the last threshold (slow start), and by one per
// limit's worth of successes above it (congestion avoidance): back off
// fast, recover slowly.
type Concurrency struct {
	max      int
	limit    float64
	ssthresh float64
	since    int // requests completed since the last cut
	window   int // the limit at the last cut
}

// NewConcurrency returns a limit at max, the most requests in flight.
func NewConcurrency(max int) *Concurrency {
	max = clampMax(max)
	return &Concurrency{max: max, limit: float64(max), ssthresh: float64(max)}
}

func clampMax(n int) int { return max(1, n) }

// Limit returns the requests allowed in flight now.
func (c *Concurrency) Limit() int { return max(1, min(c.max, int(c.limit))) }

// Max returns the ceiling of the limit.
func (c *Concurrency) Max() int { return c.max }

// SetMax changes the ceiling; the limit follows it down, not up.
func (c *Concurrency) SetMax(n int) {
	c.max = clampMax(n)
	c.limit, c.ssthresh = min(c.limit, float64(c.max)), min(c.ssthresh, float64(c.max))
	if c.ssthresh < 1 {
		c.ssthresh = 1
	}
}

// Success records a successful request.
func (c *Concurrency) Success() {
	c.since++
	if c.limit < c.ssthresh {
		c.limit++
	} else {
		c.limit += 1 / c.limit
	}
	c.limit = min(c.limit, float64(c.max))
}

// Congested records a congestion signal: the limit halves, unless it was
// cut within the current window.
func (c *Concurrency) Congested() {
	c.since++
	if c.since < c.window {
		return
	}
	c.window = c.Limit()
	c.since = 0
	c.limit = max(1, c.limit/2)
	c.ssthresh = c.limit
}

// Restart starts again from one request in flight, growing slowly, as after
// an outage: the backlog drains at the rate the receiver shows it takes.
func (c *Concurrency) Restart() { c.limit, c.ssthresh, c.since, c.window = 1, 1, 0, 0 }
