package delivery

import (
	"math"
	"sync"
	"time"

	"github.com/hookline/hookline"
)

// liveWindow is how far back GET /v1/stats looks.
const liveWindow = 60

// latencyBuckets bound the end-to-end latency histogram: bucket i holds
// latencies up to 0.1 ms × 1.1^i, which covers 0.1 ms to over a day.
const latencyBuckets = 240

// live keeps the last minute of attempts in one-second buckets, for the
// rates and latency percentiles of GET /v1/stats.
type live struct {
	mu      sync.Mutex
	buckets [liveWindow]liveBucket
}

type liveBucket struct {
	second    int64
	attempts  int64
	successes int64
	latency   [latencyBuckets]uint32
}

func latencyBucket(d time.Duration) int {
	ms := float64(d) / float64(time.Millisecond)
	if ms <= 0.1 {
		return 0
	}
	i := int(math.Ceil(math.Log(ms/0.1) / math.Log(1.1)))
	return min(i, latencyBuckets-1)
}

func bucketUpper(i int) float64 { return 0.1 * math.Pow(1.1, float64(i)) }

// attempt records one attempt finished at t; latency counts for successes.
func (l *live) attempt(t time.Time, success bool, latency time.Duration) {
	s := t.Unix()
	l.mu.Lock()
	b := &l.buckets[s%liveWindow]
	if b.second != s {
		*b = liveBucket{second: s}
	}
	b.attempts++
	if success {
		b.successes++
		b.latency[latencyBucket(latency)]++
	}
	l.mu.Unlock()
}

// stats returns the delivery rate, latency percentiles and success rate over
// the last minute before now.
func (l *live) stats(now time.Time) (rate float64, p hookline.Percentiles, success float64) {
	var hist [latencyBuckets]uint64
	var attempts, successes int64
	cur := now.Unix()
	l.mu.Lock()
	for i := range l.buckets {
		b := &l.buckets[i]
		if b.second <= cur-liveWindow || b.second > cur {
			continue
		}
		attempts += b.attempts
		successes += b.successes
		for j, n := range b.latency {
			hist[j] += uint64(n)
		}
	}
	l.mu.Unlock()
	success = 1
	if attempts > 0 {
		success = float64(successes) / float64(attempts)
	}
	rate = float64(successes) / liveWindow
	quantile := func(q float64) float64 {
		want := uint64(math.Ceil(q * float64(successes)))
		var seen uint64
		for i, n := range hist {
			seen += n
			if seen >= want && n > 0 {
				return math.Round(bucketUpper(i)*100) / 100
			}
		}
		return 0
	}
	if successes > 0 {
		p = hookline.Percentiles{P50: quantile(0.50), P95: quantile(0.95), P99: quantile(0.99)}
	}
	return rate, p, success
}
