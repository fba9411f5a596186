package bench

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram buckets: values are recorded in microseconds. Below 2^histExact
// µs (1.024 ms) every microsecond has its own bucket; above, each power of two
// is split into 2^(histExact-1) buckets, so a value is known to within 0.2%
// (at 10 ms, to within 20 µs; at 100 ms, to within 200 µs).
const (
	histExact = 10
	histSub   = 1 << (histExact - 1)
	histMaxUS = 1 << 40 // about 12 days; larger values are clamped
	histLen   = 1<<histExact + (40-histExact)*histSub
)

// Histogram is a concurrent, HDR-like histogram of durations with
// log-spaced buckets. Record may be called from many goroutines. The zero
// value is not usable: use NewHistogram.
type Histogram struct {
	counts []atomic.Uint64
	n      atomic.Int64
	sumUS  atomic.Int64
	maxNS  atomic.Int64
}

// NewHistogram returns an empty Histogram.
func NewHistogram() *Histogram {
	return &Histogram{counts: make([]atomic.Uint64, histLen)}
}

// Record adds one duration. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	ns := int64(d)
	if ns < 0 {
		ns = 0
	}
	us := uint64(ns / 1000)
	h.counts[histIndex(us)].Add(1)
	h.n.Add(1)
	h.sumUS.Add(int64(us))
	for {
		m := h.maxNS.Load()
		if ns <= m || h.maxNS.CompareAndSwap(m, ns) {
			break
		}
	}
}

// Count returns how many durations were recorded.
func (h *Histogram) Count() int64 { return h.n.Load() }

// Max returns the largest duration recorded, exactly; 0 when empty.
func (h *Histogram) Max() time.Duration { return time.Duration(h.maxNS.Load()) }

// Quantile returns the duration below or at which a fraction q (0 to 1) of
// the recorded durations fall: the middle of the bucket that holds the
// ceil(q·n)-th smallest value, never more than Max. It returns 0 when the
// histogram is empty. Quantile(1) is Max.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	if q >= 1 {
		return h.Max()
	}
	rank := uint64(math.Ceil(q * float64(n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			lo, width := histBucket(i)
			d := time.Duration(lo*1000 + width*1000/2)
			if width == 1 {
				d = time.Duration(lo*1000 + 500) // the middle of the microsecond
			}
			return min(d, h.Max())
		}
	}
	return h.Max()
}

// Summary returns the count, mean and percentiles in milliseconds.
func (h *Histogram) Summary() Latency {
	n := h.n.Load()
	if n == 0 {
		return Latency{}
	}
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	return Latency{
		Count: n,
		Mean:  math.Round(float64(h.sumUS.Load())/float64(n)) / 1e3,
		P50:   ms(h.Quantile(0.50)),
		P95:   ms(h.Quantile(0.95)),
		P99:   ms(h.Quantile(0.99)),
		Max:   ms(h.Max()),
	}
}

// histIndex returns the bucket of a value in microseconds.
func histIndex(us uint64) int {
	if us >= histMaxUS {
		us = histMaxUS - 1
	}
	if us < 1<<histExact {
		return int(us)
	}
	e := bits.Len64(us) - histExact // ≥ 1
	sub := us >> e                  // in [histSub, 2·histSub)
	return 1<<histExact + (e-1)*histSub + int(sub-histSub)
}

// histBucket returns the lowest value of bucket i and its width, in
// microseconds.
func histBucket(i int) (lo, width uint64) {
	if i < 1<<histExact {
		return uint64(i), 1
	}
	j := i - 1<<histExact
	e := j/histSub + 1
	sub := uint64(j%histSub + histSub)
	return sub << e, 1 << e
}

// Latency summarises a latency distribution. Every figure is in
// milliseconds; Max is exact, the percentiles are exact to 1 µs below
// 1 ms and to within 0.2% above. A zero Count means nothing was measured.
type Latency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}
