package sender

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countConns starts srv counting the connections it accepts.
func countConns(srv *httptest.Server) *atomic.Int64 {
	var n atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	srv.Start()
	return &n
}

func send(t *testing.T, s *Sender, url string) Result {
	t.Helper()
	return s.Send(context.Background(), &Request{URL: url, ID: "msg_1", Timestamp: 1, Signature: "v1,x", Body: []byte(`{"a":1}`)}, time.Now())
}

func TestTransportKeepsConnections(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if string(b) != `{"a":1}` || r.Header.Get("Webhook-Id") != "msg_1" || r.ContentLength != 7 || r.Host == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	conns := countConns(srv)
	defer srv.Close()
	s := New(Options{AllowPrivateNetworks: true, Timeout: 5 * time.Second, IdleConnsPerHost: 2})
	defer s.CloseIdleConnections()
	for i := range 20 {
		if r := send(t, s, srv.URL+"/hook?x=1"); !r.Success || r.Body != "ok" {
			t.Fatalf("send %d: %+v", i, r)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("20 sequential sends used %d connections, want 1", n)
	}
	tr := s.client.Transport.(*transport)
	tr.mu.Lock()
	idle := len(tr.idle[strings.TrimPrefix(srv.URL, "http://")])
	tr.mu.Unlock()
	if idle != 1 {
		t.Fatalf("%d connections kept by the plain-HTTP transport, want 1", idle)
	}
}

// rawServer answers each connection with serve, on a raw TCP listener.
func rawServer(t *testing.T, serve func(n int, c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(n, c)
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/hook"
}

// readRequest reads one request and its body from br.
func readRequest(br *bufio.Reader) error {
	req, err := http.ReadRequest(br)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, req.Body)
	return err
}

const okAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// TestTransportReceiverClosesIdle: a receiver that closes every connection
// after its answer, without saying so. The next request finds the kept
// connection closed and makes a new one.
func TestTransportReceiverClosesIdle(t *testing.T) {
	var conns atomic.Int64
	url := rawServer(t, func(_ int, c net.Conn) {
		conns.Add(1)
		if readRequest(bufio.NewReader(c)) == nil {
			_, _ = io.WriteString(c, okAnswer)
		}
	})
	s := New(Options{AllowPrivateNetworks: true, Timeout: 5 * time.Second, IdleConnsPerHost: 2})
	defer s.CloseIdleConnections()
	for i := range 10 {
		if r := send(t, s, url); !r.Success {
			t.Fatalf("send %d: %+v", i, r)
		}
	}
	if n := conns.Load(); n != 10 {
		t.Fatalf("%d connections, want 10", n)
	}
}

// TestTransportRetriesOnceOnKeptConnection: the receiver reads a request on
// a kept connection and closes it without an answer (the race of a
// receiver's idle timeout). The request goes once more, on a new
// connection; on a new connection it does not.
func TestTransportRetriesOnceOnKeptConnection(t *testing.T) {
	var requests atomic.Int64
	url := rawServer(t, func(n int, c net.Conn) {
		br := bufio.NewReader(c)
		for i := 0; readRequest(br) == nil; i++ {
			requests.Add(1)
			if n == 0 && i == 1 {
				return // the second request on the first connection: closed, unanswered
			}
			_, _ = io.WriteString(c, okAnswer)
		}
	})
	s := New(Options{AllowPrivateNetworks: true, Timeout: 5 * time.Second, IdleConnsPerHost: 2})
	defer s.CloseIdleConnections()
	for i := range 3 {
		if r := send(t, s, url); !r.Success {
			t.Fatalf("send %d: %+v", i, r)
		}
	}
	if n := requests.Load(); n != 4 {
		t.Fatalf("the receiver read %d requests, want 4 (3 sends, one sent twice)", n)
	}

	requests.Store(0)
	closing := rawServer(t, func(_ int, c net.Conn) {
		if readRequest(bufio.NewReader(c)) == nil {
			requests.Add(1)
		}
	})
	r := send(t, s, closing)
	if r.Success || r.Kind != KindNetwork {
		t.Fatalf("a receiver that closes unanswered: %+v, want a network error", r)
	}
	if n := requests.Load(); n != 1 {
		t.Fatalf("the receiver read %d requests on new connections, want 1", n)
	}
}

func TestTransportBodies(t *testing.T) {
	big := strings.Repeat("y", 1<<20)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			for i := range 3 {
				fmt.Fprintf(w, "part%d;", i)
				w.(http.Flusher).Flush()
			}
		case "/big":
			_, _ = io.WriteString(w, big)
		case "/hints":
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusAccepted)
		case "/busy":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, "slow down")
		}
	}))
	conns := countConns(srv)
	defer srv.Close()
	s := New(Options{AllowPrivateNetworks: true, Timeout: 5 * time.Second, IdleConnsPerHost: 2})
	defer s.CloseIdleConnections()

	if r := send(t, s, srv.URL+"/chunked"); !r.Success || r.Body != "part0;part1;part2;" {
		t.Fatalf("chunked: %+v", r)
	}
	if r := send(t, s, srv.URL+"/hints"); !r.Success || r.StatusCode != http.StatusAccepted {
		t.Fatalf("103 then 202: %+v", r)
	}
	if r := send(t, s, srv.URL+"/busy"); r.Success || !r.PushBack || r.RetryAfter != 7*time.Second || r.Body != "slow down" {
		t.Fatalf("429: %+v", r)
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for three answers read to their end, want 1", n)
	}
	if r := send(t, s, srv.URL+"/big"); !r.Success || len(r.Body) != 1024 {
		t.Fatalf("1 MiB answer: success %v, %d bytes kept", r.Success, len(r.Body))
	}
	if r := send(t, s, srv.URL+"/chunked"); !r.Success {
		t.Fatalf("after the big answer: %+v", r)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2: an answer too big to drain closes its connection", n)
	}
}

// TestTransportRefusesBadHeaders: a header value with a line break would
// add headers of its own; nothing is sent.
func TestTransportRefusesBadHeaders(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	c := newClient(Destinations{AllowPrivate: true}, nil, 5*time.Second, 2, nil)
	for _, h := range [][2]string{{"X-Region", "eu\r\nX-Evil: 1"}, {"Bad Name", "v"}} {
		req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header[h[0]] = []string{h[1]}
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("header %q: %q sent", h[0], h[1])
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the receiver got %d requests, want 0", n)
	}
}

// TestTransportHungReceiverTimesOut: a receiver that sends its head and
// never the rest of its body, and one that never answers, end at the
// timeout; the connection is not kept.
func TestTransportHungReceiverTimesOut(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	url := rawServer(t, func(n int, c net.Conn) {
		if readRequest(bufio.NewReader(c)) != nil {
			return
		}
		if n == 0 {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart")
		}
		<-release
	})
	s := New(Options{AllowPrivateNetworks: true, Timeout: 100 * time.Millisecond, IdleConnsPerHost: 2})
	defer s.CloseIdleConnections()
	if r := send(t, s, url); r.StatusCode != http.StatusOK || r.Body != "part" {
		t.Fatalf("head then a hang: %+v, want the 200 with the part read", r)
	}
	if r := send(t, s, url); !r.Timeout || r.Kind != KindTimeout {
		t.Fatalf("no answer: %+v, want a timeout", r)
	}
}

// TestTransportKeepsWithoutIdleTimeout: a base Transport without an idle
// timeout still has its plain-HTTP connections kept, and reused.
func TestTransportKeepsWithoutIdleTimeout(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	conns := countConns(srv)
	defer srv.Close()
	c := &http.Client{Transport: newTransport(&http.Transport{}, 2)}
	for i := range 3 {
		resp, err := c.Post(srv.URL, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("3 requests used %d connections, want 1", n)
	}
}
