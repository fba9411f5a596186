package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the hookline binary built once for the tests of this package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hookline-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "hookline")
	// Built as make build and make release build it (static, -trimpath), so
	// that TestRelease's build of this platform reuses the compiled packages.
	build := exec.Command("go", "build", "-trimpath", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build hookline: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running `hookline serve`.
type proc struct {
	cmd    *exec.Cmd
	url    string
	key    string
	stderr *lockedBuffer
	// done is closed when the process has exited; waitErr is then its
	// exit error.
	done    chan struct{}
	waitErr error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var servingRE = regexp.MustCompile(`addr=(\S+)`)

// serve starts the binary with args and waits until it listens.
func serve(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{stderr: &lockedBuffer{}, done: make(chan struct{}), key: "hk_e2e-test-7Hq2Lm9Xc4Vb8Nz1Pk6Rt3Wy5"}
	p.cmd = exec.Command(binary, append([]string{"serve", "--addr", "127.0.0.1:0", "--api-key", p.key}, args...)...)
	p.cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	p.cmd.Stderr = io.MultiWriter(p.stderr, pw)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.waitErr = p.cmd.Wait(); close(p.done); pw.Close() }()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "hookline serving") {
				if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
					addr <- m[1]
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case a := <-addr:
		p.url = "http://" + a
	case <-p.done:
		t.Fatalf("hookline exited: %v\n%s", p.waitErr, p.stderr)
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("hookline did not start\n%s", p.stderr)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill() // an error when it has exited already
		<-p.done
	})
	return p
}

// stop sends SIGTERM and checks the process exits 0.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.waitErr != nil {
			t.Fatalf("hookline exited with %v after SIGTERM\n%s", p.waitErr, p.stderr)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("hookline did not exit after SIGTERM")
	}
}

// kill sends SIGKILL and waits for the process to go.
func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// do makes an API request and decodes a JSON answer into out (if not nil).
func (p *proc) do(t *testing.T, method, path string, body any, out any, hdr ...string) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.url+path, r)
	req.Header.Set("Authorization", "Bearer "+p.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sink is a receiver that records webhook-ids and can be told to fail.
type sink struct {
	*httptest.Server
	mu     sync.Mutex
	seen   map[string]int
	bodies map[string][]byte
	hdrs   map[string]http.Header
	status int
}

func newSink(t *testing.T) *sink {
	s := &sink{seen: map[string]int{}, bodies: map[string][]byte{}, hdrs: map[string]http.Header{}, status: 200}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		id := r.Header.Get("webhook-id")
		s.mu.Lock()
		status := s.status
		s.seen[id]++
		s.bodies[id], s.hdrs[id] = b, r.Header.Clone()
		s.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sink) setStatus(code int) {
	s.mu.Lock()
	s.status = code
	s.mu.Unlock()
}

func (s *sink) count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[id]
}
