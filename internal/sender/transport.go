package sender

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
)

// transport is the deliveries' http.RoundTripper. A plain-HTTP request
// goes over an HTTP/1.1 connection that transport keeps itself and that the
// caller's goroutine writes and reads: net/http's Transport hands every
// request to a connection's own reading and writing goroutines, which on
// two cores cost as much again as the request (a POST to a local receiver:
// about 22 µs of the two cores a request against 11 µs written and read
// in place). Every other request (https, where HTTP/2 may be agreed on) goes
// to base. Both dial through base's DialContext: the destination guard, or
// the proxy's tunnel.
type transport struct {
	base    *http.Transport // its DialContext dials for both
	maxIdle int             // idle connections kept per host
	idleFor time.Duration   // how long an idle connection is kept

	mu    sync.Mutex
	idle  map[string][]*conn // by host:port, most recently used last
	swept time.Time
}

// conn is one kept HTTP/1.1 connection.
type conn struct {
	nc    net.Conn
	lim   limitedReader // under br: bounds what the response head may take
	br    *bufio.Reader
	bw    *bufio.Writer
	since time.Time // idle since
}

// limitedReader reads from r, failing with errHeadTooLarge once n bytes
// are read, unless n < 0 (no limit), and counts what it read.
type limitedReader struct {
	r    io.Reader
	n    int
	read int64
}

// errHeadTooLarge is a response head over MaxResponseHeaderBytes; its text
// is net/http's, which classifyError knows.
var errHeadTooLarge = fmt.Errorf("net/http: server response headers exceeded %d bytes; aborted", MaxResponseHeaderBytes)

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n == 0 {
		return 0, errHeadTooLarge
	}
	if l.n > 0 {
		p = p[:min(len(p), l.n)]
	}
	n, err := l.r.Read(p)
	if l.n > 0 {
		l.n -= n
	}
	l.read += int64(n)
	return n, err
}

// errNothingRead is a request whose connection ended before any of the
// answer arrived.
var errNothingRead = errors.New("connection closed before an answer")

// longAgo is a deadline in the past, to end a connection's reads and writes.
var longAgo = time.Unix(1, 0)

func newTransport(base *http.Transport, maxIdle int) *transport {
	if maxIdle <= 0 {
		maxIdle = http.DefaultMaxIdleConnsPerHost
	}
	idleFor := base.IdleConnTimeout
	if idleFor <= 0 {
		idleFor = 90 * time.Second // net/http's none would keep a closed host's connections for ever
	}
	return &transport{base: base, maxIdle: maxIdle, idleFor: idleFor,
		idle: make(map[string][]*conn), swept: time.Now()}
}

// RoundTrip sends req and returns the answer, whose Body the caller closes.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" || req.Method != http.MethodPost || (req.Body != nil && req.ContentLength <= 0) {
		return t.base.RoundTrip(req)
	}
	if err := validHead(req); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	ctx := req.Context()
	body := req.Body
	for try := 0; ; try++ {
		c, reused, err := t.get(ctx, addr)
		if err != nil {
			if body != nil {
				body.Close() // a RoundTripper closes the body, even on errors
			}
			return nil, err
		}
		resp, err := t.exchange(ctx, req, body, c, addr)
		if err == nil {
			return resp, nil
		}
		c.nc.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// A kept connection the receiver closed just as it was taken: the
		// request went nowhere, and goes once more on a new one. (Receivers
		// must take a webhook twice anyway: delivery is at least once.)
		if !errors.Is(err, errNothingRead) || !reused || try > 0 || req.GetBody == nil {
			return nil, err
		}
		if body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
}

// validHead refuses what net/http's Transport refuses in a request head.
func validHead(req *http.Request) error {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if !httpguts.ValidHostHeader(host) {
		return fmt.Errorf("net/http: invalid Host header %q", host)
	}
	for k, vs := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("net/http: invalid header field name %q", k)
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("net/http: invalid header field value for %q", k)
			}
		}
	}
	return nil
}

// exchange writes req with body on c and reads the answer's head.
func (t *transport) exchange(ctx context.Context, req *http.Request, body io.ReadCloser, c *conn, addr string) (*http.Response, error) {
	dl, _ := ctx.Deadline()
	if err := c.nc.SetDeadline(dl); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(longAgo) })
	err := writeRequest(c.bw, req, body)
	if err == nil {
		err = c.bw.Flush()
	}
	if err != nil {
		stop()
		return nil, nothingRead(err)
	}
	if trace := httptrace.ContextClientTrace(ctx); trace != nil && trace.WroteRequest != nil {
		trace.WroteRequest(httptrace.WroteRequestInfo{})
	}
	c.lim.n, c.lim.read = MaxResponseHeaderBytes+c.br.Size(), 0
	resp, err := http.ReadResponse(c.br, req)
	for err == nil && resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
		resp, err = http.ReadResponse(c.br, req) // 100 Continue, 103 Early Hints: the answer follows
	}
	c.lim.n = -1
	if err != nil {
		stop()
		if c.lim.read == 0 {
			return nil, nothingRead(err)
		}
		return nil, err
	}
	b := &body1{ReadCloser: resp.Body, t: t, c: c, addr: addr, stop: stop,
		keep: resp.StatusCode >= 200 && !resp.Close, eof: resp.Body == http.NoBody}
	resp.Body = b
	return resp, nil
}

// nothingRead wraps err, the end of a request that read none of the
// answer, as errNothingRead when the connection was closed or reset.
func nothingRead(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return err
	}
	return fmt.Errorf("%w: %w", errNothingRead, err)
}

// writeRequest writes req's head and body, whose length is
// req.ContentLength, in HTTP/1.1.
func writeRequest(w *bufio.Writer, req *http.Request, body io.ReadCloser) error {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	w.WriteString(req.Method)
	w.WriteByte(' ')
	w.WriteString(req.URL.RequestURI())
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(host)
	w.WriteString("\r\n")
	for k, vs := range req.Header {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Trailer":
			continue
		}
		for _, v := range vs {
			if k == "User-Agent" && v == "" {
				continue
			}
			w.WriteString(k)
			w.WriteString(": ")
			w.WriteString(v)
			w.WriteString("\r\n")
		}
	}
	if body != nil {
		var b [20]byte
		w.WriteString("Content-Length: ")
		w.Write(strconv.AppendInt(b[:0], req.ContentLength, 10))
		w.WriteString("\r\n\r\n")
		n, err := io.Copy(w, io.LimitReader(body, req.ContentLength))
		body.Close()
		if err != nil {
			return err
		}
		if n != req.ContentLength {
			return fmt.Errorf("net/http: request body of %d bytes, ContentLength %d", n, req.ContentLength)
		}
		return nil
	}
	_, err := w.WriteString("Content-Length: 0\r\n\r\n")
	return err
}

// body1 is an answer's body: closing it keeps the connection when the body
// was read to its end in time, and closes it otherwise.
type body1 struct {
	io.ReadCloser
	t      *transport
	c      *conn
	addr   string
	stop   func() bool
	keep   bool // the answer allows another request on the connection
	eof    bool
	closed bool
}

func (b *body1) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *body1) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	b.ReadCloser.Close()
	// stop is false when the request's context ended first: the deadline
	// it set ends every use of the connection.
	if b.stop() && b.keep && b.eof && b.c.br.Buffered() == 0 && b.c.nc.SetDeadline(time.Time{}) == nil {
		b.t.put(b.addr, b.c)
	} else {
		b.c.nc.Close()
	}
	return nil
}

// get returns an idle connection to addr that is still open (reused), or a
// new one.
func (t *transport) get(ctx context.Context, addr string) (c *conn, reused bool, err error) {
	now := time.Now()
	for {
		t.mu.Lock()
		list := t.idle[addr]
		if len(list) == 0 {
			t.mu.Unlock()
			break
		}
		c = list[len(list)-1]
		list[len(list)-1] = nil
		t.setIdle(addr, list[:len(list)-1])
		t.mu.Unlock()
		if now.Sub(c.since) < t.idleFor && alive(c) {
			return c, true, nil
		}
		c.nc.Close()
	}
	dial := t.base.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	c = &conn{nc: nc, lim: limitedReader{r: nc, n: -1}}
	c.br = bufio.NewReaderSize(&c.lim, 4<<10)
	c.bw = bufio.NewWriterSize(nc, 4<<10)
	return c, false, nil
}

// setIdle sets addr's idle list, forgetting addr when it is empty. The
// caller holds t.mu.
func (t *transport) setIdle(addr string, list []*conn) {
	if len(list) == 0 {
		delete(t.idle, addr)
		return
	}
	t.idle[addr] = list
}

// put keeps c, idle, for the next request to addr, or closes it when addr
// has maxIdle idle already. Now and then it closes the connections idle for
// longer than idleFor, of every host.
func (t *transport) put(addr string, c *conn) {
	now := time.Now()
	c.since = now
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.Sub(t.swept) > t.idleFor/2 {
		t.swept = now
		for a, list := range t.idle {
			kept := list[:0]
			for _, ic := range list {
				if now.Sub(ic.since) < t.idleFor {
					kept = append(kept, ic)
				} else {
					ic.nc.Close()
				}
			}
			clear(list[len(kept):])
			t.setIdle(a, kept)
		}
	}
	list := t.idle[addr]
	if len(list) >= t.maxIdle {
		c.nc.Close()
		return
	}
	t.idle[addr] = append(list, c)
}

// CloseIdleConnections closes the idle connections of both transports.
func (t *transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = make(map[string][]*conn)
	t.mu.Unlock()
	for _, list := range idle {
		for _, c := range list {
			c.nc.Close()
		}
	}
	t.base.CloseIdleConnections()
}
