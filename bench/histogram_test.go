package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestHistogramQuantiles compares the histogram with exact quantiles of
// sorted samples spread from microseconds to seconds.
func TestHistogramQuantiles(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	h := NewHistogram()
	var xs []time.Duration
	for range 100_000 {
		d := time.Duration(math.Exp(r.Float64() * math.Log(5e9))) // 1 ns … 5 s, log-uniform
		h.Record(d)
		xs = append(xs, d)
	}
	slices.Sort(xs)
	for _, q := range []float64{0.01, 0.5, 0.9, 0.95, 0.99, 0.999} {
		want := xs[int(math.Ceil(q*float64(len(xs))))-1]
		got := h.Quantile(q)
		// Exact to 1 µs below 1 ms; within 0.2% (+1 µs of truncation) above.
		tol := max(time.Microsecond, time.Duration(float64(want)*0.002)+time.Microsecond)
		if diff := got - want; diff > tol || -diff > tol {
			t.Errorf("q%.3f = %v, want %v ± %v", q, got, want, tol)
		}
	}
	if h.Max() != xs[len(xs)-1] || h.Quantile(1) != h.Max() {
		t.Errorf("max = %v, want %v", h.Max(), xs[len(xs)-1])
	}
	s := h.Summary()
	if s.Count != int64(len(xs)) || !(s.P50 <= s.P95 && s.P95 <= s.P99 && s.P99 <= s.Max) {
		t.Errorf("summary out of order: %+v", s)
	}
}

func TestHistogramBuckets(t *testing.T) {
	t.Parallel()
	prevHi := uint64(0)
	for i := range histLen {
		lo, w := histBucket(i)
		if lo != prevHi {
			t.Fatalf("bucket %d starts at %d, want %d", i, lo, prevHi)
		}
		if histIndex(lo) != i || histIndex(lo+w-1) != i {
			t.Fatalf("bucket %d [%d, %d) does not map back", i, lo, lo+w)
		}
		prevHi = lo + w
	}
	if prevHi != histMaxUS {
		t.Fatalf("buckets end at %d, want %d", prevHi, uint64(histMaxUS))
	}
	if h := NewHistogram(); h.Quantile(0.5) != 0 || h.Summary().Count != 0 {
		t.Fatal("empty histogram not zero")
	}
}
