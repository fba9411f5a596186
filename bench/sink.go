package bench

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// sink gathers what the receivers got for one run of load (the scenario's
// events, or the ceiling's requests): unique deliveries, duplicates, the
// end-to-end latency histogram and the time of the latest arrival.
type sink struct {
	endpoints int // deliveries are keyed seq·endpoints + endpoint index
	// measured: deliveries to endpoints from this index on are counted in
	// unmeasured only (bad-receivers measures its healthy endpoints). Set
	// before the sink is routed.
	measured int
	// first is the run's first endpoint: a delivery to one below it went to
	// another run's endpoint (another tenant's) and is counted in foreign.
	// Set before the sink is routed.
	first int
	// raw marks the ceiling's sink: its requests get the receiver latency
	// but are never failed or left hanging on purpose.
	raw  bool
	seen bitset

	received   atomic.Int64
	unmeasured atomic.Int64
	duplicates atomic.Int64
	foreign    atomic.Int64
	lastNS     atomic.Int64 // latest arrival, Unix ns
	firstNS    atomic.Int64 // first arrival, Unix ns
	e2e        *Histogram
	// e2eFromNS: deliveries of events scheduled before this Unix ns time
	// (the warm-up) are counted but left out of the histogram.
	e2eFromNS atomic.Int64

	// perSecond, when set, also gets the latency of count (for Receive)
	// and of record (for the timeline of bad-receivers).
	perSecond atomic.Pointer[Histogram]
	// track keeps every delivery's arrival in arrivals (set before the
	// sink is routed), for the latency from its event's 202.
	track    bool
	arrMu    sync.Mutex
	arrivals []arrived

	mu     sync.Mutex
	target atomic.Int64 // > 0 while waitFor is pending
	reach  chan struct{}
}

func newSink(endpoints int) *sink {
	n := max(endpoints, 1)
	return &sink{endpoints: n, measured: n, e2e: NewHistogram(), reach: make(chan struct{})}
}

// record counts one successful delivery of event seq to endpoint ep that
// arrived at arrival and was scheduled at sentNS (0 if unknown). It returns
// false for a duplicate. A delivery to an endpoint past measured is only
// counted in unmeasured; one to an endpoint before first, in foreign.
func (s *sink) record(seq uint64, ep int, sentNS int64, arrival time.Time) bool {
	if ep < 0 || ep >= s.endpoints {
		return false
	}
	if ep < s.first {
		s.foreign.Add(1)
		return false
	}
	if ep >= s.measured {
		s.unmeasured.Add(1)
		return true
	}
	if !s.seen.set(seq*uint64(s.endpoints) + uint64(ep)) {
		s.duplicates.Add(1)
		return false
	}
	at := arrival.UnixNano()
	if s.track {
		s.arrMu.Lock()
		s.arrivals = append(s.arrivals, arrived{seq: seq, sentNS: sentNS, atNS: at})
		s.arrMu.Unlock()
	}
	if sentNS > 0 && sentNS >= s.e2eFromNS.Load() {
		s.e2e.Record(time.Duration(at - sentNS))
	}
	if h := s.perSecond.Load(); h != nil && sentNS > 0 {
		h.Record(time.Duration(at - sentNS))
	}
	s.firstNS.CompareAndSwap(0, at)
	for {
		m := s.lastNS.Load()
		if at <= m || s.lastNS.CompareAndSwap(m, at) {
			break
		}
	}
	n := s.received.Add(1)
	if t := s.target.Load(); t > 0 && n >= t {
		s.mu.Lock()
		s.reached(n)
		s.mu.Unlock()
	}
	return true
}

// arrived is one delivery a tracking sink received: its event, when it
// was scheduled and when it arrived, Unix ns.
type arrived struct {
	seq          uint64
	sentNS, atNS int64
}

// afterAccepted returns the distribution of the time from each event's 202,
// as acceptedAt says it was read, to each of its deliveries' arrival, for
// the events scheduled at or after from; a delivery that arrived before its
// 202 was read counts as 0. It needs track.
func (s *sink) afterAccepted(acceptedAt func(seq uint64) time.Time, from time.Time) *Histogram {
	h := NewHistogram()
	s.arrMu.Lock()
	defer s.arrMu.Unlock()
	for _, a := range s.arrivals {
		if a.sentNS < from.UnixNano() {
			continue
		}
		if t := acceptedAt(a.seq); !t.IsZero() {
			h.Record(time.Duration(a.atNS - t.UnixNano()))
		}
	}
	return h
}

// reached closes reach if a wait is pending and n meets it. s.mu is held.
func (s *sink) reached(n int64) {
	if t := s.target.Load(); t > 0 && n >= t {
		close(s.reach)
		s.target.Store(0)
	}
}

// count counts a delivery without deduplicating it, for receive mode.
func (s *sink) count(sentNS int64, arrival time.Time) {
	if sentNS > 0 {
		d := arrival.Sub(time.Unix(0, sentNS))
		s.e2e.Record(d)
		if h := s.perSecond.Load(); h != nil {
			h.Record(d)
		}
	}
	s.received.Add(1)
}

// waitFor returns a channel closed once received reaches n. Only one wait may
// be pending at a time.
func (s *sink) waitFor(n int64) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reach = make(chan struct{})
	if n <= 0 {
		close(s.reach)
		return s.reach
	}
	s.target.Store(n)
	s.reached(s.received.Load())
	return s.reach
}

// firstAt returns the time of the first arrival, or the zero time.
func (s *sink) firstAt() time.Time {
	if ns := s.firstNS.Load(); ns > 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// last returns the time of the latest arrival, or the zero time.
func (s *sink) last() time.Time {
	if ns := s.lastNS.Load(); ns > 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// bitset is a concurrent set of small integers, allocated in chunks as it
// grows. set is lock-free.
type bitset struct {
	chunks [bitsetChunks]atomic.Pointer[[bitsetWords]atomic.Uint64]
}

const (
	bitsetWords  = 1 << 14 // 1 Mi bits (128 KiB) per chunk
	bitsetChunks = 1 << 14 // up to 16 Gi bits
)

// set adds i and reports whether it was absent. Values past the capacity
// are reported as absent and not remembered.
func (b *bitset) set(i uint64) bool {
	word := i / 64
	c := word / bitsetWords
	if c >= bitsetChunks {
		return true
	}
	chunk := b.chunks[c].Load()
	if chunk == nil {
		fresh := new([bitsetWords]atomic.Uint64)
		if !b.chunks[c].CompareAndSwap(nil, fresh) {
			fresh = b.chunks[c].Load()
		}
		chunk = fresh
	}
	mask := uint64(1) << (i % 64)
	old := chunk[word%bitsetWords].Or(mask)
	return old&mask == 0
}

// noE2E is an e2eFromNS that leaves every delivery out of the histogram.
const noE2E = math.MaxInt64
