package main_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestShutdownWithClientThatDoesNotRead stops a node while a client that
// asked for a 12 MiB event never reads its answer: the HTTP drain ends at
// its own budget, the connection is closed, the engine stops with a
// deadline of its own (not one the drain used up: nothing is aborted), and
// the process exits 0, well inside 30 s, logging each step. Before, it
// exited 1 after 30 s.
func TestShutdownWithClientThatDoesNotRead(t *testing.T) {
	t.Parallel()
	p := serve(t, nil, "--data-dir", t.TempDir(), "--max-payload", "16MiB")
	var ev struct{ ID string }
	data := strings.Repeat("x", 12<<20)
	if code := p.do(t, "POST", "/v1/events", map[string]any{"type": "a", "data": data}, &ev); code != 202 {
		t.Fatalf("POST /v1/events: %d", code)
	}
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /v1/events/%s HTTP/1.1\r\nHost: hookline\r\nAuthorization: Bearer %s\r\n\r\n", ev.ID, p.key)
	status, err := bufio.NewReaderSize(conn, 16).ReadString('\n') // the answer has begun; the rest is never read
	if err != nil || !strings.Contains(status, "200") {
		t.Fatalf("GET the event: %q, %v", status, err)
	}

	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		t.Fatalf("hookline did not exit 40 s after SIGTERM\n%s", p.stderr)
	}
	took := time.Since(start)
	if p.waitErr != nil || took > 20*time.Second {
		t.Fatalf("after SIGTERM hookline exited with %v in %s; want 0 within 20 s\n%s", p.waitErr, took, p.stderr)
	}
	logs := p.stderr.String()
	for _, step := range []string{"hookline stopping", "closing their connections", "HTTP server closed", "engine stopped", "aborted=false", "hookline stopped"} {
		if !strings.Contains(logs, step) {
			t.Errorf("the logs do not say %q:\n%s", step, logs)
		}
	}
}

// TestShutdownWithConnectionThatSentNothing stops a node that holds a
// connection on which no request ever came (an HTTP client's pool dials one
// spare when requests wait, and keeps it): the connection is closed and the
// HTTP step ends at once, not after net/http's 5 s for such connections,
// which held up a node's hand-over of its partitions by as much.
func TestShutdownWithConnectionThatSentNothing(t *testing.T) {
	t.Parallel()
	p := serve(t, nil, "--data-dir", t.TempDir())
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A request answered on another connection: the server has accepted the
	// silent one by then (it was dialled first, and one goroutine accepts).
	if code := p.do(t, "GET", "/v1/stats", nil, nil); code != 200 {
		t.Fatalf("GET /v1/stats: %d", code)
	}

	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		t.Fatalf("hookline did not exit 40 s after SIGTERM\n%s", p.stderr)
	}
	if p.waitErr != nil {
		t.Fatalf("after SIGTERM hookline exited with %v\n%s", p.waitErr, p.stderr)
	}
	var took time.Duration
	for line := range strings.Lines(p.stderr.String()) {
		if _, rest, ok := strings.Cut(line, `msg="hookline stopping: HTTP server closed" took=`); ok {
			took, err = time.ParseDuration(strings.Fields(rest)[0])
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	// net/http waits 5 s for a connection that has sent nothing; a node that
	// waits for none is done in well under 2 s.
	if took == 0 || took >= 2*time.Second {
		t.Errorf("the HTTP server closed in %s, want under 2 s (not net/http's 5 s for a silent connection)\n%s", took, p.stderr)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := conn.Read(make([]byte, 1)); err == nil {
		t.Errorf("the silent connection read %d bytes after the stop, want it closed", n)
	}
}
