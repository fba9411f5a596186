package bench

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookline/hookline/client"
)

// loader sends events to the servers and counts what they answer.
type loader struct {
	api       *apiClient
	eventType string
	run       string
	pad       string // filler that makes the data PayloadSize bytes
	batch     int
	// tenant and priority go into every event when set: an empty tenant is
	// the default one, and a zero priority is not sent (the server's
	// default, 5). Set before any send.
	tenant   string
	priority int

	seq atomic.Uint64 // next event sequence number
	req atomic.Uint64 // next request, for round-robin across nodes

	sent, accepted, rejected atomic.Int64 // events
	announced                atomic.Int64 // deliveries promised by 202 answers
	// expected is announced, or perEvent per accepted event when perEvent
	// is set: the deliveries the sink waits for.
	expected atomic.Int64
	// perEvent, when not 0, is how many of each event's deliveries the
	// bench measures (to the first endpoints); set before any send.
	perEvent int64
	errs     *errorCounts

	ingest *Histogram // intended send time → 202, per request
	lag    *Histogram // intended send time → actual send time, open model
	// recordFrom: requests due before this time (the warm-up) are left out
	// of the histograms.
	recordFrom time.Time
	// acceptedNS, when set (trackAccepted), holds the time each event's
	// 202 was read, Unix ns, by sequence number; 0 for those not (yet)
	// accepted and past its end.
	acceptedNS []atomic.Int64
}

// trackAccepted makes the loader note when each of its first n events was
// accepted, for the latency from the 202 to the delivery. Call it before
// any send.
func (l *loader) trackAccepted(n int) { l.acceptedNS = make([]atomic.Int64, n) }

// acceptedAt returns when event seq's 202 was read, or the zero time.
func (l *loader) acceptedAt(seq uint64) time.Time {
	if seq < uint64(len(l.acceptedNS)) {
		if ns := l.acceptedNS[seq].Load(); ns > 0 {
			return time.Unix(0, ns)
		}
	}
	return time.Time{}
}

func newLoader(api *apiClient, eventType, run string, payloadSize, batch int, errs *errorCounts) *loader {
	l := &loader{api: api, eventType: eventType, run: run, batch: batch, errs: errs,
		ingest: NewHistogram(), lag: NewHistogram()}
	// {"run":"<8>","seq":<≤10>,"sent_ns":<19>,"pad":""} is about 70 bytes.
	l.pad = string(bytes.Repeat([]byte{'x'}, max(payloadSize-70, 0)))
	return l
}

// appendData appends one event's data: the bench's fields first, so the
// receivers find them fast, then padding.
func appendData(b []byte, run string, seq uint64, sentNS int64, pad string) []byte {
	b = append(b, `{"run":"`...)
	b = append(b, run...)
	b = append(b, `","seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"sent_ns":`...)
	b = strconv.AppendInt(b, sentNS, 10)
	b = append(b, `,"pad":"`...)
	b = append(b, pad...)
	return append(b, `"}`...)
}

// sendBuf is one sender's request, reused from one request to the next:
// the events and the bytes of their data.
type sendBuf struct {
	data   []byte
	ends   []int // where each event's data ends in data
	events []client.EventCreate
}

// events fills buf with events seq … seq+n-1 scheduled at due and returns
// them; they stay valid until the next call with buf.
func (l *loader) events(buf *sendBuf, seq uint64, n int, due time.Time) []client.EventCreate {
	buf.data, buf.ends, buf.events = buf.data[:0], buf.ends[:0], buf.events[:0]
	for i := range n {
		buf.data = appendData(buf.data, l.run, seq+uint64(i), due.UnixNano(), l.pad)
		buf.ends = append(buf.ends, len(buf.data))
	}
	from := 0
	for _, to := range buf.ends {
		e := client.EventCreate{Type: l.eventType, Tenant: l.tenant, Data: buf.data[from:to:to]}
		if l.priority != 0 {
			e.Priority = &l.priority
		}
		buf.events = append(buf.events, e)
		from = to
	}
	return buf.events
}

// result is the outcome of one request.
type result struct {
	accepted   bool
	latency    time.Duration // due time → answer
	retryAfter time.Duration // of a 503, else 0
}

// send posts one request of n events due at due (POST /v1/events, or
// POST /v1/events/batch when l.batch > 1) and records the answer.
func (l *loader) send(ctx context.Context, buf *sendBuf, due time.Time, n int) result {
	seq := l.seq.Add(uint64(n)) - uint64(n)
	events := l.events(buf, seq, n, due)
	node := l.api.nodes[int(l.req.Add(1)-1)%len(l.api.nodes)]
	start := time.Now()
	record := !due.Before(l.recordFrom)
	if record {
		l.lag.Record(start.Sub(due))
	}
	l.sent.Add(int64(n))
	var deliveries int64
	var err error
	if l.batch > 1 {
		var res []client.IngestResult
		res, err = node.SendEvents(ctx, events, "")
		for _, r := range res {
			deliveries += int64(r.Deliveries)
		}
	} else {
		var res *client.IngestResult
		if res, err = node.SendEvent(ctx, events[0]); err == nil {
			deliveries = int64(res.Deliveries)
		}
	}
	if err != nil {
		l.rejected.Add(int64(n))
		return l.failed(ctx, err)
	}
	now := time.Now()
	lat := now.Sub(due)
	for i := range uint64(n) {
		if seq+i < uint64(len(l.acceptedNS)) {
			l.acceptedNS[seq+i].Store(now.UnixNano())
		}
	}
	l.accepted.Add(int64(n))
	l.announced.Add(deliveries)
	if l.perEvent > 0 {
		deliveries = int64(n) * l.perEvent
	}
	l.expected.Add(deliveries)
	if record {
		l.ingest.Record(lat)
	}
	return result{accepted: true, latency: lat}
}

// failed counts a request that failed with err: "http_<status>" for an
// answer of the API, "transport" for no answer (unless ctx ended), and
// "bad_answer" for a 2xx the bench cannot read. A 503 returns its
// Retry-After (100 ms without one).
func (l *loader) failed(ctx context.Context, err error) result {
	var ae *client.Error
	var ue *url.Error
	switch {
	case errors.As(err, &ae):
		l.errs.add("http_"+strconv.Itoa(ae.StatusCode), 1)
		if ae.StatusCode != http.StatusServiceUnavailable {
			return result{}
		}
		if ae.RetryAfter > 0 {
			return result{retryAfter: ae.RetryAfter}
		}
		return result{retryAfter: 100 * time.Millisecond}
	case errors.As(err, &ue):
		if ctx.Err() == nil {
			l.errs.add("transport", 1)
		}
	default:
		l.errs.add("bad_answer", 1)
	}
	return result{}
}

// runOpen sends l.batch-event requests at rate events per second from
// start until end, from a pool of clients senders. Request i is due at
// start + i·batch/rate; a sender that takes it late records the lateness
// in l.lag, and ingest latency counts from the due time.
func (l *loader) runOpen(ctx context.Context, rate float64, clients int, start, end time.Time) {
	interval := time.Duration(float64(time.Second) * float64(l.batch) / rate)
	if interval <= 0 {
		interval = 1
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			var buf sendBuf
			for ctx.Err() == nil {
				due := start.Add(time.Duration(next.Add(1)-1) * interval)
				if !due.Before(end) {
					return
				}
				if d := time.Until(due); d > 0 {
					if !sleep(ctx, d) {
						return
					}
				}
				l.send(ctx, &buf, due, l.batch)
			}
		})
	}
	wg.Wait()
}

// runClosed sends requests back to back from clients senders until end.
// A sender answered 503 waits for the Retry-After (at most a second).
func (l *loader) runClosed(ctx context.Context, clients int, end time.Time) {
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			var buf sendBuf
			for ctx.Err() == nil {
				now := time.Now()
				if !now.Before(end) {
					return
				}
				if r := l.send(ctx, &buf, now, l.batch); r.retryAfter > 0 {
					sleep(ctx, min(r.retryAfter, time.Second, time.Until(end)))
				}
			}
		})
	}
	wg.Wait()
}

// runCount sends total events as fast as clients senders can, in requests
// of l.batch (the last may be smaller). A request answered 503 is retried
// after its Retry-After, so that every event is eventually accepted.
func (l *loader) runCount(ctx context.Context, clients int, total int) {
	var claimed atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			var buf sendBuf
			for ctx.Err() == nil {
				first := claimed.Add(int64(l.batch)) - int64(l.batch)
				if first >= int64(total) {
					return
				}
				n := int(min(int64(l.batch), int64(total)-first))
				for ctx.Err() == nil {
					r := l.send(ctx, &buf, time.Now(), n)
					if r.accepted || r.retryAfter == 0 {
						break
					}
					sleep(ctx, min(r.retryAfter, time.Second))
				}
			}
		})
	}
	wg.Wait()
}

// sleep waits for d or until ctx is done, and reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// errorCounts counts errors by kind.
type errorCounts struct {
	mu sync.Mutex
	m  map[string]int64
}

func newErrorCounts() *errorCounts { return &errorCounts{m: map[string]int64{}} }

func (e *errorCounts) add(kind string, n int64) {
	if n == 0 {
		return
	}
	e.mu.Lock()
	e.m[kind] += n
	e.mu.Unlock()
}

func (e *errorCounts) total() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var t int64
	for _, n := range e.m {
		t += n
	}
	return t
}

func (e *errorCounts) snapshot() map[string]int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := make(map[string]int64, len(e.m))
	for k, v := range e.m {
		m[k] = v
	}
	return m
}
