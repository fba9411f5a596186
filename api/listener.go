package api

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"sync"

	"github.com/hookline/hookline"
)

// NewListener wraps l for an http.Server that serves the API. It caps the
// connections open at once at maxConns (zero or less: no cap): past it,
// Accept waits until one closes, so new connections wait in the kernel's
// backlog and hold no memory of the process.
//
// It also makes net/http's own answers to malformed requests, which it
// writes to the connection before any handler runs and as plain text, carry
// the JSON error body of every other answer: 400 Bad Request (a malformed
// request line or header, a missing or bad Host), 431 Request Header
// Fields Too Large (over http.Server.MaxHeaderBytes), 501 (an unsupported
// Transfer-Encoding), 505 (an unsupported HTTP version), 417 (an Expect
// header other than 100-continue), and the 400 to plain HTTP on a TLS port. Their status stays net/http's and their code is
// EINVALID: the request was malformed. It recognises them by their exact
// bytes (a status line, then "Content-Type: text/plain; charset=utf-8" and
// "Connection: close" and no other header, in one write), which an answer
// through a handler never has: net/http writes a handler's headers sorted,
// with Date, so Connection would come first.
//
// What stays as net/http writes it, because it is written where no wrapper
// can reach: inside TLS, the same HTTP/1 errors are written to the
// *tls.Conn, which the server must see unwrapped (for HTTP/2 and
// Request.TLS), so they stay plain text; the HTTP/2 server answers a
// malformed request with a stream or connection error, which has no body,
// and headers over the limit with its own 431 and a short HTML body,
// without calling the handler. A client that sends nothing within
// ReadHeaderTimeout is disconnected without an answer (one that sent part
// of a request gets the JSON 400).
//
// net.Conn's CloseWrite is kept, which net/http uses to close gracefully
// (netutil.LimitListener hides it).
func NewListener(l net.Listener, maxConns int) net.Listener {
	ln := &listener{Listener: l, done: make(chan struct{})}
	if maxConns > 0 {
		ln.slots = make(chan struct{}, maxConns)
	}
	return ln
}

type listener struct {
	net.Listener
	slots     chan struct{} // one per open connection; nil: no cap
	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

// Accept waits for a free slot, then for a connection.
func (l *listener) Accept() (net.Conn, error) {
	if l.slots != nil {
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		l.release()
		return nil, err
	}
	return &conn{Conn: c, l: l}, nil
}

// Close closes the listener; an Accept waiting for a slot returns.
func (l *listener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

func (l *listener) release() {
	if l.slots != nil {
		<-l.slots
	}
}

// conn is an accepted connection: it frees its slot when closed and turns
// net/http's plain-text errors into JSON.
type conn struct {
	net.Conn
	l         *listener
	closeOnce sync.Once
}

// Close closes the connection and frees its slot.
func (c *conn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(c.l.release)
	return err
}

// CloseWrite shuts down the writing side, when the connection can.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Write writes p, or its JSON form when p is one of net/http's own error
// answers.
func (c *conn) Write(p []byte) (int, error) {
	if len(p) < 12 || p[0] != 'H' {
		return c.Conn.Write(p) // every answer through a handler, and TLS records
	}
	if b := jsonProtocolError(p); b != nil {
		if _, err := c.Conn.Write(b); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// The parts of net/http's plain-text error answers (net/http/server.go,
// conn.serve).
var (
	plainErrorHeaders = []byte("\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")
	plainHTTPSError   = []byte("HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
	// An Expect other than 100-continue: net/http answers 417 with no body
	// before the handler runs; no handler of the API answers 417.
	expectationFailed = []byte("HTTP/1.1 417 Expectation Failed\r\n")
	emptyBody         = []byte("\r\nContent-Length: 0\r\n\r\n")
)

// jsonProtocolError returns the JSON form of p when p is a whole answer
// net/http wrote by itself to a malformed request, and nil otherwise.
func jsonProtocolError(p []byte) []byte {
	if bytes.Equal(p, plainHTTPSError) {
		return protocolAnswer("HTTP/1.0", http.StatusBadRequest, "plain HTTP sent to the HTTPS port; use https://")
	}
	if bytes.HasPrefix(p, expectationFailed) && bytes.HasSuffix(p, emptyBody) {
		return protocolAnswer("HTTP/1.1", http.StatusExpectationFailed, "Expect: only 100-continue is supported")
	}
	if !bytes.HasPrefix(p, []byte("HTTP/1.1 ")) {
		return nil
	}
	line, body, ok := bytes.Cut(p, plainErrorHeaders)
	if !ok || bytes.ContainsAny(line, "\r\n") || len(line) < len("HTTP/1.1 400") {
		return nil
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil || status < 400 || status > 599 {
		return nil
	}
	// The body is "<status> <text>" or "<status> <text>: <detail>"; the
	// detail says what was wrong.
	msg := "malformed HTTP request"
	if _, detail, ok := bytes.Cut(body, []byte(": ")); ok {
		msg = string(detail)
	}
	switch status {
	case http.StatusRequestHeaderFieldsTooLarge:
		msg = "the request line and headers are larger than the server's limit"
	case http.StatusNotImplemented:
		msg = "unsupported Transfer-Encoding"
	}
	return protocolAnswer("HTTP/1.1", status, msg)
}

// protocolAnswer is a whole HTTP/1 answer with the JSON error body of msg,
// closing the connection as net/http does after these errors.
func protocolAnswer(proto string, status int, msg string) []byte {
	body, _ := json.Marshal(errorResponse{Error: hookline.EINVALID, Message: msg}) // strings only: cannot fail
	body = append(body, '\n')
	var b bytes.Buffer
	b.WriteString(proto + " " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n")
	b.WriteString("Content-Type: application/json\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n")
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	b.Write(body)
	return b.Bytes()
}
