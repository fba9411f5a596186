package api

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

// rawServer serves h through NewListener on loopback, with HTTP/1 limits
// small enough to reach, and returns its address.
func rawServer(t *testing.T, h http.Handler, maxConns int, tlsOn bool) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = NewListener(l, maxConns)
	srv.Config.MaxHeaderBytes = 1 << 10
	if tlsOn {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return l.Addr().String()
}

// rawRequest sends req as bytes and reads the whole answer.
func rawRequest(t *testing.T, addr, req string) *http.Response {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	return resp
}

// wantJSONError checks an answer read by rawRequest.
func wantJSONError(t *testing.T, resp *http.Response, status int, code, part string) {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("answer %d %q %s, want %d application/json", resp.StatusCode, resp.Header.Get("Content-Type"), b, status)
	}
	var e errorResponse
	if err := json.Unmarshal(b, &e); err != nil || e.Error != code || !strings.Contains(e.Message, part) {
		t.Fatalf("body %s (%v), want code %q and a message with %q", b, err, code, part)
	}
}

// TestProtocolErrorsAreJSON checks that the answers net/http writes by
// itself to malformed requests carry the API's JSON error body.
func TestProtocolErrorsAreJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	addr := rawServer(t, NewServer(Config{Store: b.store, Engine: b.engine, APIKey: testKey}), 0, false)

	for _, tt := range []struct {
		name, req string
		status    int
		part      string
	}{
		{"HeadersTooLarge", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 8<<10) + "\r\n\r\n", 431, "larger than"},
		{"NoHost", "GET /healthz HTTP/1.1\r\n\r\n", 400, "missing required Host header"},
		{"BadHost", "GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "malformed Host header"},
		{"BadHeaderName", "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n", 400, "invalid header name"},
		{"BadRequestLine", "GARBAGE\r\n\r\n", 400, "malformed HTTP request"},
		{"Version", "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", 505, "unsupported protocol version"},
		{"TransferEncoding", "POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "Transfer-Encoding"},
		{"Expect", "POST /v1/events HTTP/1.1\r\nHost: x\r\nExpect: something\r\nContent-Length: 1\r\n\r\n", 417, "100-continue"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantJSONError(t, rawRequest(t, addr, tt.req), tt.status, hookline.EINVALID, tt.part)
		})
	}
	t.Run("Unchanged", func(t *testing.T) {
		resp := rawRequest(t, addr, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(b) != "{\"status\":\"ok\"}\n" {
			t.Fatalf("healthz: %d %s", resp.StatusCode, b)
		}
	})
	t.Run("HandlerPlainText", func(t *testing.T) {
		// A handler's own plain-text error passes through as it is.
		plain := rawServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			http.Error(w, "teapot", http.StatusTeapot)
		}), 0, false)
		resp := rawRequest(t, plain, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 418 || string(b) != "teapot\n" {
			t.Fatalf("answer %d %s", resp.StatusCode, b)
		}
	})
}

func TestPlainHTTPToTLSIsJSON(t *testing.T) {
	t.Parallel()
	addr := rawServer(t, http.NotFoundHandler(), 0, true)
	wantJSONError(t, rawRequest(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 400, hookline.EINVALID, "https://")

	// TLS itself is unchanged.
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c.CloseIdleConnections()
	if resp.StatusCode != 404 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// TestMaxConns checks that a connection past the cap is accepted only once
// another closes.
func TestMaxConns(t *testing.T) {
	t.Parallel()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(inner, 2)
	defer l.Close()
	var conns []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	var accepted []net.Conn
	for range 2 {
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		accepted = append(accepted, c)
	}
	var released atomic.Bool
	third := make(chan bool, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Close()
		}
		third <- released.Load()
	}()
	released.Store(true)
	accepted[0].Close()
	accepted[0].Close() // a second Close frees nothing more
	select {
	case afterRelease := <-third:
		if !afterRelease {
			t.Fatal("a third connection was accepted while two were open")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the third connection was not accepted after one closed")
	}
	// The closed connections freed their slots, the double Close did not
	// free another: one slot is taken, one is free.
	accepted[1].Close()
	if len(l.(*listener).slots) != 0 {
		t.Fatalf("%d slots taken with every connection closed", len(l.(*listener).slots))
	}

	// Close ends an Accept waiting for a slot.
	full := NewListener(inner, 1)
	c, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := full.Accept(); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { _, err := full.Accept(); errc <- err }()
	full.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("Accept after Close returned a connection")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end a waiting Accept")
	}
}
