package web

import (
	"math"
	"sync"
)

// SeriesLength is how many samples the overview charts keep: 15 minutes at
// one sample a second.
const SeriesLength = 15 * 60

// Sample is one reading of GET /v1/stats. A figure the API did not give (an
// older or newer API, or a failed read) is NaN, and shown as a gap.
//
// A Sample is 12 × 8 = 96 bytes, so SeriesLength of them take 86,400 bytes
// (84 KiB) however many tabs are open; TestSeriesMemory checks it.
type Sample struct {
	Unix        int64   // seconds
	Rate        float64 // successful deliveries per second, last minute, this node
	SuccessRate float64 // 0 to 1, last minute
	P50, P99    float64 // end-to-end latency, ms, last minute
	Pending     float64 // pending deliveries, whole store
	Failed      float64 // dead letters, whole store
	Delivered   float64 // delivered deliveries, whole store
	Closed      float64 // endpoints by circuit state
	Open        float64
	HalfOpen    float64
	Disabled    float64 // disabled endpoints
}

// sampleOf turns the API's stats into a Sample at unix.
func sampleOf(unix int64, st *stats) Sample {
	s := Sample{Unix: unix}
	f := func(p *float64) float64 {
		if p == nil {
			return math.NaN()
		}
		return *p
	}
	i := func(p *int64) float64 {
		if p == nil {
			return math.NaN()
		}
		return float64(*p)
	}
	s.Rate, s.SuccessRate = f(st.DeliveriesPerSecond), f(st.SuccessRate)
	s.P50, s.P99 = math.NaN(), math.NaN()
	if st.LatencyMS != nil {
		s.P50, s.P99 = f(st.LatencyMS.P50), f(st.LatencyMS.P99)
	}
	s.Pending, s.Failed, s.Delivered = i(st.Pending), i(st.Failed), i(st.Delivered)
	s.Closed, s.Open, s.HalfOpen = math.NaN(), math.NaN(), math.NaN()
	if c := st.EndpointsByCircuit; c != nil {
		s.Closed, s.Open, s.HalfOpen = i(c.Closed), i(c.Open), i(c.HalfOpen)
	}
	s.Disabled = i(st.EndpointsDisabled)
	return s
}

// gap is the Sample of a second whose stats could not be read.
func gap(unix int64) Sample {
	n := math.NaN()
	return Sample{unix, n, n, n, n, n, n, n, n, n, n, n}
}

// Series is a fixed ring of the latest samples, safe for concurrent use.
type Series struct {
	mu   sync.Mutex
	ring []Sample
	next int // where the next sample goes
	n    int // how many are stored
}

// NewSeries returns a Series that keeps the last n samples.
func NewSeries(n int) *Series { return &Series{ring: make([]Sample, n)} }

// Add appends s, dropping the oldest sample when the ring is full.
func (se *Series) Add(s Sample) {
	se.mu.Lock()
	se.ring[se.next] = s
	se.next = (se.next + 1) % len(se.ring)
	se.n = min(se.n+1, len(se.ring))
	se.mu.Unlock()
}

// Samples returns the stored samples, oldest first.
func (se *Series) Samples() []Sample {
	se.mu.Lock()
	defer se.mu.Unlock()
	out := make([]Sample, 0, se.n)
	start := (se.next - se.n + len(se.ring)) % len(se.ring)
	for i := range se.n {
		out = append(out, se.ring[(start+i)%len(se.ring)])
	}
	return out
}

// Last returns the newest sample, and false when there is none.
func (se *Series) Last() (Sample, bool) {
	se.mu.Lock()
	defer se.mu.Unlock()
	if se.n == 0 {
		return Sample{}, false
	}
	return se.ring[(se.next-1+len(se.ring))%len(se.ring)], true
}

// columns returns samples as the column arrays uPlot draws: times, then one
// array per figure, NaN as null.
func columns(samples []Sample) map[string][]*float64 {
	names := []string{"t", "rate", "success", "p50", "p99", "pending", "failed", "closed", "open", "half_open"}
	out := make(map[string][]*float64, len(names))
	for _, n := range names {
		out[n] = make([]*float64, len(samples))
	}
	num := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	for i, s := range samples {
		out["t"][i] = num(float64(s.Unix))
		out["rate"][i] = num(s.Rate)
		out["success"][i] = num(s.SuccessRate * 100)
		out["p50"][i] = num(s.P50)
		out["p99"][i] = num(s.P99)
		out["pending"][i] = num(s.Pending)
		out["failed"][i] = num(s.Failed)
		out["closed"][i] = num(s.Closed)
		out["open"][i] = num(s.Open)
		out["half_open"][i] = num(s.HalfOpen)
	}
	return out
}
