package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Behavior is how the receivers answer a delivery. The zero value answers
// 200 at once and checks nothing.
type Behavior struct {
	// Latency is how long a receiver takes before answering; Jitter spreads
	// it uniformly by ±Jitter.
	Latency time.Duration `json:"latency_ns"`
	Jitter  time.Duration `json:"jitter_ns"`
	// FailRatio is the share of deliveries answered 500 (0 to 1).
	FailRatio float64 `json:"fail_ratio"`
	// TimeoutRatio is the share of deliveries left unanswered until the
	// sender gives up (past the server's delivery timeout) (0 to 1).
	TimeoutRatio float64 `json:"timeout_ratio"`
	// Verify checks every delivery's Standard Webhooks signature and that
	// webhook-id is the payload's id.
	Verify bool `json:"verify"`
}

// hangLimit bounds how long a receiver leaves a delivery unanswered; it
// answers 504 then, which the server sees as a failure.
const hangLimit = 10 * time.Minute

// receivers are loopback HTTP servers that play the endpoints: endpoint i
// is http://<addrs[i mod len]>/r/i. They route each delivery to the sink of
// its run (the "run" field of the event data), check it, and count it.
type receivers struct {
	behavior Behavior
	addrs    []string

	mu      sync.Mutex
	servers []*http.Server

	down    atomic.Bool // answer 503 to everything
	sinks   atomic.Pointer[map[string]*sink]
	generic *sink                    // counts deliveries of no known run; nil refuses them
	keys    atomic.Pointer[[][]byte] // endpoint index → HMAC key, for Verify

	requests, failed, hung, refused atomic.Int64
	badSignature, badPayload        atomic.Int64
}

// startReceivers starts n receiver servers, on addrs when given (to come
// back on the same ports) or on 127.0.0.1:0.
func startReceivers(n int, b Behavior) (*receivers, error) {
	rs := &receivers{behavior: b, addrs: make([]string, n)}
	rs.sinks.Store(&map[string]*sink{})
	for i := range n {
		rs.addrs[i] = "127.0.0.1:0"
	}
	if err := rs.listen(); err != nil {
		rs.close()
		return nil, err
	}
	return rs, nil
}

// listen starts one server per address in rs.addrs and records the ports.
func (rs *receivers) listen() error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for i, a := range rs.addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return fmt.Errorf("receiver listen: %w", err)
		}
		rs.addrs[i] = ln.Addr().String()
		srv := &http.Server{Handler: rs, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
		rs.servers = append(rs.servers, srv)
		go func() { _ = srv.Serve(ln) }()
	}
	return nil
}

// close stops every server and drops its connections: a sender then gets
// "connection refused" until listen is called again.
func (rs *receivers) close() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, s := range rs.servers {
		_ = s.Close()
	}
	rs.servers = nil
}

// url returns the URL of endpoint i.
func (rs *receivers) url(i int) string {
	return "http://" + rs.addrs[i%len(rs.addrs)] + "/r/" + strconv.Itoa(i)
}

// route sends deliveries whose data has "run":"<run>" to s.
func (rs *receivers) route(run string, s *sink) {
	m := map[string]*sink{}
	for k, v := range *rs.sinks.Load() {
		m[k] = v
	}
	m[run] = s
	rs.sinks.Store(&m)
}

// setKeys sets the signing key of each endpoint, by index.
func (rs *receivers) setKeys(keys [][]byte) { rs.keys.Store(&keys) }

var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// ServeHTTP answers one delivery.
func (rs *receivers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrival := time.Now()
	rs.requests.Add(1)
	if rs.down.Load() {
		rs.refused.Add(1)
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	bp := bodyPool.Get().(*[]byte)
	defer bodyPool.Put(bp)
	body, err := readBody(r, (*bp)[:0])
	*bp = body[:0]
	if err != nil {
		rs.badPayload.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	ep := endpointIndex(r.URL.Path)
	f := parseFields(body)

	var sk *sink
	if f.run != nil {
		sk = (*rs.sinks.Load())[string(f.run)]
	}
	if sk == nil && rs.generic == nil {
		rs.badPayload.Add(1) // not ours: another run's leftovers
		w.WriteHeader(http.StatusOK)
		return
	}
	if rs.behavior.Verify && sk != nil {
		if keys := rs.keys.Load(); keys == nil || ep < 0 || ep >= len(*keys) ||
			verifySignature((*keys)[ep], r.Header, body, arrival) != nil {
			rs.badSignature.Add(1)
		}
	}
	if d := rs.delay(); d > 0 {
		time.Sleep(d)
	}
	if p := rs.behavior.TimeoutRatio + rs.behavior.FailRatio; p > 0 && (sk == nil || !sk.raw) {
		switch x := rand.Float64(); {
		case x < rs.behavior.TimeoutRatio:
			rs.hung.Add(1)
			hang(r.Context())
			w.WriteHeader(http.StatusGatewayTimeout)
			return
		case x < p:
			rs.failed.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
	}
	if sk != nil {
		if f.seq < 0 || ep < 0 || ep >= sk.endpoints {
			rs.badPayload.Add(1)
		} else {
			sk.record(uint64(f.seq), ep, f.sentNS, arrival)
		}
	} else {
		rs.generic.count(f.sentNS, arrival)
	}
	w.WriteHeader(http.StatusOK)
}

// delay returns the receiver latency for one delivery.
func (rs *receivers) delay() time.Duration {
	d := rs.behavior.Latency
	if j := rs.behavior.Jitter; j > 0 {
		d += time.Duration(rand.Int64N(int64(2*j)+1)) - j
	}
	return d
}

// hang waits until the sender gives up, or hangLimit.
func hang(ctx context.Context) {
	t := time.NewTimer(hangLimit)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// readBody reads the request body into buf.
func readBody(r *http.Request, buf []byte) ([]byte, error) {
	const limit = 8 << 20
	if n := r.ContentLength; n >= 0 && n <= limit {
		if int64(cap(buf)) < n {
			buf = make([]byte, 0, n)
		}
		buf = buf[:n]
		_, err := io.ReadFull(r.Body, buf)
		return buf, err
	}
	b := bytes.NewBuffer(buf)
	_, err := b.ReadFrom(io.LimitReader(r.Body, limit))
	return b.Bytes(), err
}

// endpointIndex returns i for a path /r/i, or -1.
func endpointIndex(path string) int {
	if len(path) < 4 || path[:3] != "/r/" {
		return -1
	}
	n, ok := parseUint([]byte(path[3:]))
	if !ok || n > 1<<31 {
		return -1
	}
	return int(n)
}

// fields are what the bench reads from a delivery's payload.
type fields struct {
	run    []byte // nil when absent
	seq    int64  // -1 when absent
	sentNS int64  // 0 when absent
}

var (
	runKey  = []byte(`"run":"`)
	seqKey  = []byte(`"seq":`)
	sentKey = []byte(`"sent_ns":`)
)

// parseFields finds "run", "seq" and "sent_ns" in a payload with
// bytes.Index rather than decoding the JSON: the bench writes them itself,
// first in the event data, so this is exact and cheap.
func parseFields(body []byte) fields {
	f := fields{seq: -1}
	rest := body
	if i := bytes.Index(rest, runKey); i >= 0 {
		rest = rest[i+len(runKey):]
		if j := bytes.IndexByte(rest, '"'); j >= 0 {
			f.run, rest = rest[:j], rest[j:]
		}
	}
	if i := bytes.Index(rest, seqKey); i >= 0 {
		rest = rest[i+len(seqKey):]
		if n, ok := parseUint(digits(rest)); ok {
			f.seq = int64(n)
		}
	}
	if i := bytes.Index(rest, sentKey); i >= 0 {
		if n, ok := parseUint(digits(rest[i+len(sentKey):])); ok {
			f.sentNS = int64(n)
		}
	}
	return f
}

// digits returns the leading ASCII digits of b.
func digits(b []byte) []byte {
	for i, c := range b {
		if c < '0' || c > '9' {
			return b[:i]
		}
	}
	return b
}

// parseUint parses a decimal number of up to 19 digits.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}
