package bench

import (
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Sample is a reading of the cumulative counters, taken once a second and
// at the edges of the measured window.
type Sample struct {
	// T is the time since the scenario started, in seconds.
	T         float64 `json:"t_s"`
	Sent      int64   `json:"sent"`      // events sent
	Accepted  int64   `json:"accepted"`  // events answered 202
	Expected  int64   `json:"expected"`  // deliveries promised by the 202s
	Delivered int64   `json:"delivered"` // unique deliveries received
	Errors    int64   `json:"errors"`
	// RSS is the servers' resident memory, in bytes; 0 when not measured.
	RSS int64 `json:"rss_bytes,omitempty"`
	// CPU is the servers' CPU time since the scenario (or its phase)
	// began, in seconds; 0 when not measured.
	CPU float64 `json:"cpu_s,omitempty"`
	// BenchCPU is the bench's own CPU time since then, in seconds, and
	// MachineCPU the whole machine's busy time (every process: the
	// servers, the bench and whatever else runs).
	BenchCPU   float64 `json:"bench_cpu_s,omitempty"`
	MachineCPU float64 `json:"machine_cpu_s,omitempty"`
	// BadRequests counts the requests the misbehaving receivers of
	// bad-receivers got, by kind (BadHang, …); nil in other scenarios.
	BadRequests map[string]int64 `json:"bad_requests,omitempty"`
	// P99 is the end-to-end p99 latency, in milliseconds, of the
	// deliveries received since the previous sample, warm-up included;
	// bad-receivers only.
	P99 float64 `json:"e2e_p99_ms,omitempty"`
	// Loads are the counters of each load, by name, in the scenarios that
	// run more than one (noisy-tenant, priority); the fields above are
	// then their sums. Nil in the others.
	Loads map[string]LoadSample `json:"loads,omitempty"`

	at time.Time
}

// LoadSample is one load's part of a Sample.
type LoadSample struct {
	// Sent and Accepted count the load's events; Expected the deliveries
	// their 202s promised, Delivered the unique ones received.
	Sent      int64 `json:"sent"`
	Accepted  int64 `json:"accepted"`
	Expected  int64 `json:"expected"`
	Delivered int64 `json:"delivered"`
	// P99 is the end-to-end p99 latency, in milliseconds, of the load's
	// deliveries received since the previous sample (warm-up included); 0
	// when there were none.
	P99 float64 `json:"e2e_p99_ms,omitempty"`
}

// pending returns the deliveries accepted but not yet received. A delivery
// may arrive before the loader has read its event's 202: then none.
func (x LoadSample) pending() int64 { return max(0, x.Expected-x.Delivered) }

// sampler takes a Sample once a second and prints a progress line.
type sampler struct {
	read  func() Sample
	out   io.Writer // nil: no progress line
	tty   bool
	phase atomic.Pointer[string]

	mu      sync.Mutex
	start   time.Time
	samples []Sample
	stop    chan struct{}
	done    chan struct{}
}

func newSampler(read func() Sample, out io.Writer) *sampler {
	s := &sampler{read: read, out: out}
	if f, ok := out.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			s.tty = true
		}
	}
	phase := ""
	s.phase.Store(&phase)
	return s
}

// begin starts sampling, with times counted from start.
func (s *sampler) begin(start time.Time) {
	s.start = start
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	s.mark()
	go func() {
		defer close(s.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.print(s.mark())
			}
		}
	}()
}

// end stops sampling after a last sample and ends the progress line.
func (s *sampler) end() {
	if s.stop == nil {
		return
	}
	close(s.stop)
	<-s.done
	s.stop = nil
	s.mark()
	if s.out != nil && s.tty {
		fmt.Fprintln(s.out)
	}
}

// setPhase names what the bench is doing, for the progress line.
func (s *sampler) setPhase(p string) { s.phase.Store(&p) }

// mark takes a sample now and returns it.
func (s *sampler) mark() Sample {
	x := s.read()
	x.at = time.Now()
	x.T = x.at.Sub(s.start).Seconds()
	s.mu.Lock()
	s.samples = append(s.samples, x)
	s.mu.Unlock()
	return x
}

// print writes the progress line for x: rates over the last second.
func (s *sampler) print(x Sample) {
	if s.out == nil {
		return
	}
	s.mu.Lock()
	var prev Sample
	if n := len(s.samples); n >= 2 {
		// The one before x, skipping marks taken less than half a second ago.
		for i := n - 2; i >= 0; i-- {
			prev = s.samples[i]
			if x.at.Sub(prev.at) >= 500*time.Millisecond {
				break
			}
		}
	}
	s.mu.Unlock()
	dt := x.at.Sub(prev.at).Seconds()
	if prev.at.IsZero() || dt <= 0 {
		dt = 1
	}
	rate := func(a, b int64) float64 { return float64(a-b) / dt }
	line := fmt.Sprintf("%-8s %5.0fs  sent %7.0f/s  accepted %7.0f/s  delivered %7.0f/s  backlog %8d  errors %d",
		*s.phase.Load(), x.T, rate(x.Sent, prev.Sent), rate(x.Accepted, prev.Accepted),
		rate(x.Delivered, prev.Delivered), x.Expected-x.Delivered, x.Errors)
	if x.RSS > 0 {
		line += fmt.Sprintf("  rss %s", mib(x.RSS))
	}
	if s.tty {
		fmt.Fprintf(s.out, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(s.out, line)
	}
}

// timeline returns the samples taken.
func (s *sampler) timeline() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.samples)
}

// medianRate returns the median of the per-interval rates of a counter
// between two times, over the intervals between samples that lie within
// [from, to] and last at least half a second. With none, it returns the
// average rate over the window.
func medianRate(samples []Sample, from, to time.Time, counter func(Sample) int64) float64 {
	const slack = 50 * time.Millisecond
	var in []Sample
	for _, x := range samples {
		if !x.at.Before(from.Add(-slack)) && !x.at.After(to.Add(slack)) {
			in = append(in, x)
		}
	}
	if len(in) < 2 {
		return bracketRate(samples, from, to, counter)
	}
	var rates []float64
	prev := in[0]
	for _, x := range in[1:] {
		dt := x.at.Sub(prev.at)
		if dt < 500*time.Millisecond {
			continue
		}
		rates = append(rates, float64(counter(x)-counter(prev))/dt.Seconds())
		prev = x
	}
	if len(rates) == 0 {
		first, last := in[0], in[len(in)-1]
		if dt := last.at.Sub(first.at).Seconds(); dt > 0 {
			return float64(counter(last)-counter(first)) / dt
		}
		return 0
	}
	slices.Sort(rates)
	if n := len(rates); n%2 == 1 {
		return rates[n/2]
	} else {
		return (rates[n/2-1] + rates[n/2]) / 2
	}
}

// bracketRate returns the average rate of counter between the last sample
// at or before from and the first at or after to: what medianRate falls back
// to when fewer than two samples fall inside the window (a short window, or
// a sampler held up by a loaded machine). It is 0 when no samples bracket
// the window.
func bracketRate(samples []Sample, from, to time.Time, counter func(Sample) int64) float64 {
	var before, after *Sample
	for i := range samples {
		x := &samples[i]
		if !x.at.After(from) {
			before = x
		}
		if after == nil && !x.at.Before(to) {
			after = x
		}
	}
	if before == nil || after == nil || !after.at.After(before.at) {
		return 0
	}
	return float64(counter(*after)-counter(*before)) / after.at.Sub(before.at).Seconds()
}

// mib formats a byte count in MiB.
func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
