package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
)

// smallBufListener gives accepted connections a small send buffer, so that
// an answer a client does not read blocks the server after a few KiB.
type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// dialNonReading connects with a small receive window, and never reads.
func dialNonReading(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestWriteDeadline checks that a client that never reads its answer holds
// the handler only until the write deadline: the request ends (and is
// logged) although the answer was not read.
func TestWriteDeadline(t *testing.T) {
	t.Parallel()
	b := setup(t)
	desc := strings.Repeat("d", MaxDescription)
	for i := range 40 {
		b.createEndpoint(t, fmt.Sprintf(`{"url":"https://example.com/%d/%s","description":"%s"}`, i, strings.Repeat("u", 1800), desc))
	}
	dashboardErr := make(chan error, 1)
	logs := &syncBuffer{}
	srv := httptest.NewUnstartedServer(NewServer(Config{
		Store: b.store, Engine: b.engine, APIKey: testKey, WriteTimeout: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Dashboard: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// A handler of its own, under the default deadline.
			chunk := []byte(strings.Repeat("x", 64<<10))
			for {
				if _, err := w.Write(chunk); err != nil {
					dashboardErr <- err
					return
				}
			}
		}),
	}))
	srv.Listener = smallBufListener{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close) // after the clients' connections close

	list := dialNonReading(t, srv.Listener.Addr().String())
	fmt.Fprintf(list, "GET /v1/endpoints?limit=1000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", testKey)
	dash := dialNonReading(t, srv.Listener.Addr().String())
	fmt.Fprintf(dash, "GET /dashboard HTTP/1.1\r\nHost: x\r\n\r\n")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case err := <-dashboardErr:
		if !strings.Contains(err.Error(), "timeout") {
			t.Fatalf("dashboard write: %v, want a timeout", err)
		}
	case <-ctx.Done():
		t.Fatal("the dashboard handler is still writing to a client that does not read")
	}
	for !strings.Contains(logs.String(), "path=/v1/endpoints status=200") {
		if ctx.Err() != nil {
			t.Fatalf("the list is still being written to a client that does not read; logs:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond) // polling the log, with a deadline
	}
	// The client got a part of the answer, not all of it.
	_ = list.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(list)
	if len(got) == 0 || strings.HasSuffix(string(got), "\"next_cursor\":null}\n") {
		t.Fatalf("read %d bytes after the deadline, want a part of the answer", len(got))
	}
}
