package delivery

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/hookline/hookline"
)

// Per-endpoint statistics: the last minute in 6 buckets of 10 s, each with
// a latency histogram, and the last hour in 60 buckets of a minute, counts
// only. About 1.8 KB per endpoint that delivered in the last hour.
const (
	minuteBuckets = 6
	minuteBucket  = 10 * time.Second
	hourBuckets   = 60
	hourBucket    = time.Minute
	// epLatencyBuckets bound the end-to-end latency histogram: bucket i
	// holds latencies up to 0.5 ms × 1.25^i, which covers 0.5 ms to 10 min.
	epLatencyBuckets = 64
)

// statsRegistry holds the statistics of the endpoints this node
// dispatches.
type statsRegistry struct {
	mu  sync.Mutex
	eps map[string]*epStats
}

func newStatsRegistry() *statsRegistry { return &statsRegistry{eps: make(map[string]*epStats)} }

// get returns the statistics of an endpoint, made on first use.
func (r *statsRegistry) get(id string) *epStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.eps[id]
	if s == nil {
		s = &epStats{}
		r.eps[id] = s
	}
	return s
}

// lookup returns the statistics of an endpoint, nil if it has none.
func (r *statsRegistry) lookup(id string) *epStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.eps[id]
}

func (r *statsRegistry) remove(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.eps, id)
}

// sweep drops the statistics of endpoints with no attempt since before.
func (r *statsRegistry) sweep(before time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, s := range r.eps {
		s.mu.Lock()
		idle := s.last.Before(before)
		s.mu.Unlock()
		if idle {
			delete(r.eps, id)
		}
	}
}

// epStats are one endpoint's recent attempts.
type epStats struct {
	mu     sync.Mutex
	last   time.Time
	minute [minuteBuckets]minuteStats
	hour   [hourBuckets]hourStats
}

type minuteStats struct {
	slot                int64
	attempts, successes int64
	latency             [epLatencyBuckets]uint32
}

type hourStats struct {
	slot               int64
	attempts, failures int64
}

func epLatencyBucket(d time.Duration) int {
	ms := float64(d) / float64(time.Millisecond)
	if ms <= 0.5 {
		return 0
	}
	return min(int(math.Ceil(math.Log(ms/0.5)/math.Log(1.25))), epLatencyBuckets-1)
}

func epBucketUpper(i int) float64 { return 0.5 * math.Pow(1.25, float64(i)) }

// attempt records an attempt that ended at t; latency (from the event's
// acceptance) counts for successes.
func (s *epStats) attempt(t time.Time, success bool, latency time.Duration) {
	ms, hs := t.UnixNano()/int64(minuteBucket), t.UnixNano()/int64(hourBucket)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = t
	m := &s.minute[ms%minuteBuckets]
	if m.slot != ms {
		*m = minuteStats{slot: ms}
	}
	h := &s.hour[hs%hourBuckets]
	if h.slot != hs {
		*h = hourStats{slot: hs}
	}
	m.attempts++
	h.attempts++
	if success {
		m.successes++
		m.latency[epLatencyBucket(latency)]++
	} else {
		h.failures++
	}
}

// read returns the statistics as of now: rate, success rate and latency
// over the last minute, attempts and failures over the last hour.
func (s *epStats) read(now time.Time, st *hookline.EndpointStats) {
	ms, hs := now.UnixNano()/int64(minuteBucket), now.UnixNano()/int64(hourBucket)
	var hist [epLatencyBuckets]uint64
	var attempts, successes int64
	s.mu.Lock()
	for i := range s.minute {
		m := &s.minute[i]
		if m.slot <= ms-minuteBuckets || m.slot > ms {
			continue
		}
		attempts += m.attempts
		successes += m.successes
		for j, n := range m.latency {
			hist[j] += uint64(n)
		}
	}
	for i := range s.hour {
		h := &s.hour[i]
		if h.slot <= hs-hourBuckets || h.slot > hs {
			continue
		}
		st.Attempts += h.attempts
		st.Failures += h.failures
	}
	s.mu.Unlock()
	st.DeliveriesPerSecond = float64(successes) / (minuteBuckets * minuteBucket).Seconds()
	if attempts > 0 {
		st.SuccessRate = float64(successes) / float64(attempts)
	}
	if successes == 0 {
		return
	}
	quantile := func(q float64) float64 {
		want := uint64(math.Ceil(q * float64(successes)))
		var seen uint64
		for i, n := range hist {
			seen += n
			if seen >= want && n > 0 {
				return math.Round(epBucketUpper(i)*100) / 100
			}
		}
		return 0
	}
	st.LatencyMS = hookline.Percentiles{P50: quantile(0.5), P95: quantile(0.95), P99: quantile(0.99)}
}

// EndpointStats returns an endpoint's statistics: counts from the store,
// rates and latencies from this node's memory (the node that dispatches
// the endpoint; another node reports zeros for those, and says so with
// Live false). ENOTFOUND when the endpoint does not exist.
func (e *Engine) EndpointStats(ctx context.Context, id string) (hookline.EndpointStats, error) {
	c, err := e.store.EndpointCounts(ctx, id)
	if err != nil {
		return hookline.EndpointStats{}, err
	}
	st := hookline.EndpointStats{Pending: c.Pending, Failed: c.Failed, SuccessRate: 1, Node: e.cfg.NodeID,
		Live: e.ownsEndpoint(id)}
	if s := e.epStats.lookup(id); s != nil {
		s.read(time.Now(), &st)
	}
	return st, nil
}
