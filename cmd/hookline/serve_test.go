package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testAPIKey is the API key of the Main of these tests.
const testAPIKey = "hk_serve-test-3vQ8xK2mZ7pL4nR9tW6yB1cD"

// logBuffer collects what a Main writes, safe for concurrent writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startMain runs a Main on 127.0.0.1:0 with a temp data dir, after opts
// have adjusted it, and closes it when the test ends. Its stdout and stderr
// go to the buffers returned.
func startMain(t *testing.T, opts ...func(*Main)) (m *Main, stdout, stderr *logBuffer) {
	t.Helper()
	m = NewMain()
	stdout, stderr = &logBuffer{}, &logBuffer{}
	m.Stdout, m.Stderr = stdout, stderr
	m.Config.Addr = "127.0.0.1:0"
	m.Config.DataDir = t.TempDir()
	m.Config.APIKey = testAPIKey
	for _, o := range opts {
		o(m)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return m, stdout, stderr
}

// TestSlowloris checks that a client that sends its headers slowly is cut
// off at ReadHeaderTimeout, without an answer.
func TestSlowloris(t *testing.T) {
	t.Parallel()
	m, _, _ := startMain(t, func(m *Main) { m.HTTP.ReadHeaderTimeout = 300 * time.Millisecond })
	c, err := net.Dial("tcp", m.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go func() { // one header byte every 50 ms, as a slowloris client does
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		req := "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 1000)
		for i := 0; i < len(req); i++ {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if _, err := c.Write([]byte{req[i]}); err != nil {
				return
			}
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	// net/http closes the connection, answering 400 when part of a
	// request came: JSON, like every error.
	got, err := io.ReadAll(c)
	if err != nil && !isReset(err) {
		t.Fatalf("read %q, %v; want the connection closed", got, err)
	}
	if len(got) > 0 && (!bytes.HasPrefix(got, []byte("HTTP/1.1 400 ")) || !bytes.Contains(got, []byte(`{"error":"invalid"`))) {
		t.Fatalf("answer %q, want none or a JSON 400", got)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("closed after %s, before ReadHeaderTimeout", d)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && strings.Contains(op.Err.Error(), "reset")
}

// TestMaxHeaderBytes checks that the headers are capped at 64 KiB (not
// net/http's 1 MiB), with a JSON 431.
func TestMaxHeaderBytes(t *testing.T) {
	t.Parallel()
	m, _, _ := startMain(t)
	get := func(header int) (*http.Response, []byte) {
		c, err := net.Dial("tcp", m.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go func() {
			_, _ = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", header)+"\r\n\r\n")
		}()
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	if resp, b := get(60 << 10); resp.StatusCode != 200 {
		t.Fatalf("60 KiB of headers: %d %s", resp.StatusCode, b)
	}
	resp, b := get(100 << 10)
	var e struct{ Error, Message string }
	if resp.StatusCode != 431 || resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &e) != nil || e.Error != "invalid" {
		t.Fatalf("100 KiB of headers: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
}

// TestMaxConnections checks --max-connections: past the cap a connection
// is served only once another closes.
func TestMaxConnections(t *testing.T) {
	t.Parallel()
	m, _, _ := startMain(t, func(m *Main) { m.Config.MaxConnections = 1 })
	idle, err := net.Dial("tcp", m.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	// Make sure the idle connection is the one accepted first.
	if _, err := io.WriteString(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	done := make(chan error, 1)
	go func() {
		resp, err := client.Get("http://" + m.Addr() + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("a second connection was served while the first was open: %v", err)
	case <-time.After(300 * time.Millisecond): // long enough to be served if it could be
	}
	idle.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second connection was not served after the first closed")
	}
}

// TestHTTPServerLimits checks that the server has the limits that keep one
// client from holding it: timeouts on reading and writing, small headers.
func TestHTTPServerLimits(t *testing.T) {
	t.Parallel()
	m, _, _ := startMain(t)
	s := m.server
	if s.ReadHeaderTimeout != 10*time.Second || s.ReadTimeout <= 0 || s.WriteTimeout <= s.ReadTimeout || s.IdleTimeout <= 0 || s.MaxHeaderBytes != 64<<10 {
		t.Fatalf("limits: read header %s, read %s, write %s, idle %s, headers %d",
			s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout, s.IdleTimeout, s.MaxHeaderBytes)
	}
	if os.Getenv("HOOKLINE_MAX_CONNECTIONS") == "" && m.Config.MaxConnections != 4096 {
		t.Fatalf("default --max-connections %d", m.Config.MaxConnections)
	}
}

// TestDataDirModes checks that the data dir, which holds the API key and
// every signing secret, is readable by its owner only, and so is every file
// in it, whatever the modes before and the umask.
func TestDataDirModes(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("%s: data dir mode %v, %v; want 0700", when, fi.Mode().Perm(), err)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, e := range entries {
			fi, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			names[e.Name()] = true
			if fi.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s: %s has mode %v, want 0600", when, e.Name(), fi.Mode().Perm())
			}
		}
		for _, n := range []string{"hookline.db", "hookline.db-wal", "hookline.db-shm", "api-key"} {
			if !names[n] {
				t.Errorf("%s: no %s in the data dir (%v)", when, n, names)
			}
		}
	}
	run := func() {
		m := NewMain()
		m.Stdout, m.Stderr = io.Discard, io.Discard
		m.Config.Addr, m.Config.DataDir = "127.0.0.1:0", dir
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		// Write, so that the WAL and its index exist.
		req, _ := http.NewRequest("POST", "http://"+m.Addr()+"/v1/events", strings.NewReader(`{"type":"a","data":1}`))
		key, _ := os.ReadFile(filepath.Join(dir, "api-key"))
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(key)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 202 {
			t.Fatalf("ingest: %d", resp.StatusCode)
		}
		check("running")
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
	run()

	// Files left readable by an older version are made private again.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if err := os.Chmod(filepath.Join(dir, e.Name()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run()
}

// TestSharedDataDirRefused checks that a data dir shared with other users
// (sticky and world-writable, like /tmp) is refused rather than changed.
func TestSharedDataDirRefused(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	m := NewMain()
	m.Stdout, m.Stderr = io.Discard, io.Discard
	m.Config.Addr, m.Config.DataDir, m.Config.APIKey = "127.0.0.1:0", dir, testAPIKey
	err := m.Run(context.Background())
	if err == nil {
		m.Close()
		t.Fatal("served from a shared directory")
	}
	if !strings.Contains(err.Error(), "other users") {
		t.Fatalf("error %q does not say why", err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o777 {
		t.Fatalf("the shared directory was changed to %v", fi.Mode())
	}
}

// do sends an API request to m with the test key and returns the status and
// the body.
func do(t *testing.T, m *Main, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+m.Addr()+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+m.Config.APIKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAllowDestinations checks --allow-destinations end to end: an allowed
// prefix is accepted at creation and delivered to; others, the cloud
// metadata address among them, are refused naming the flag.
func TestAllowDestinations(t *testing.T) {
	t.Parallel()
	got := make(chan string, 10)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("webhook-id")
	}))
	defer recv.Close()
	var c Config
	if err := c.parse("serve", []string{"--allow-destinations", "127.0.0.1/32,10.1.0.0/16"}, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if err := (&Config{}).parse("serve", []string{"--allow-destinations", "10.1.2.3/16"}, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "10.1.0.0/16") {
		t.Fatalf("a prefix with host bits: %v", err)
	}
	m, _, _ := startMain(t, func(m *Main) { m.Config.AllowDestinations = c.AllowDestinations })

	if code, body := do(t, m, "POST", "/v1/endpoints", `{"url":"`+recv.URL+`/hook"}`); code != 201 {
		t.Fatalf("create an endpoint on 127.0.0.1: %d %s", code, body)
	}
	for _, u := range []string{"http://169.254.169.254/latest/meta-data", "http://10.2.0.1/", "http://127.0.0.2/", "http://[::1]/", "http://0x7f000002/"} {
		code, body := do(t, m, "POST", "/v1/endpoints", `{"url":"`+u+`"}`)
		if code != 400 || !strings.Contains(body, "--allow-destinations") {
			t.Fatalf("create an endpoint on %s: %d %s", u, code, body)
		}
	}
	code, body := do(t, m, "POST", "/v1/events", `{"type":"a","data":1}`)
	var ev struct{ ID string }
	if code != 202 || json.Unmarshal([]byte(body), &ev) != nil {
		t.Fatalf("ingest: %d %s", code, body)
	}
	select {
	case id := <-got:
		if id != ev.ID {
			t.Fatalf("delivered %s, want %s", id, ev.ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("not delivered to the allowed destination")
	}
}

// TestAPIRateLimit checks --api-rate-limit on the real server: 429 with
// Retry-After, as JSON, once a key is over its rate.
func TestAPIRateLimit(t *testing.T) {
	t.Parallel()
	var c Config
	if err := c.parse("serve", []string{"--api-rate-limit", "0.001"}, func(string) string { return "" }); err != nil || c.APIRateLimit != 0.001 {
		t.Fatalf("parse: %v %v", c.APIRateLimit, err)
	}
	for _, bad := range []string{"-1", "x", "Inf"} {
		if err := (&Config{}).parse("serve", []string{"--api-rate-limit", bad}, func(string) string { return "" }); err == nil {
			t.Errorf("--api-rate-limit %s accepted", bad)
		}
	}
	m, _, _ := startMain(t, func(m *Main) { m.Config.APIRateLimit = c.APIRateLimit })
	if code, body := do(t, m, "GET", "/v1/stats", ""); code != 200 {
		t.Fatalf("first request: %d %s", code, body)
	}
	req, _ := http.NewRequest("GET", "http://"+m.Addr()+"/v1/stats", nil)
	req.Header.Set("Authorization", "Bearer "+m.Config.APIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Error, Message string }
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || resp.StatusCode != 429 || e.Error != "rate_limited" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second request: %d %+v Retry-After %q (%v)", resp.StatusCode, e, resp.Header.Get("Retry-After"), err)
	}
}

// TestProxy checks --proxy end to end: deliveries go through the proxy, by
// CONNECT to the checked address of the receiver; a bad --proxy is refused
// without repeating its password.
func TestProxy(t *testing.T) {
	t.Parallel()
	got := make(chan string, 10)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Get("webhook-id") }))
	defer recv.Close()
	connects := make(chan string, 10)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		connects <- r.Host
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			return
		}
		_, _ = brw.WriteString("HTTP/1.1 200 Connection established\r\n\r\n")
		_ = brw.Flush()
		go func() { _, _ = io.Copy(up, brw); up.Close() }()
		_, _ = io.Copy(c, up)
		c.Close()
	}))
	defer proxy.Close()

	m := NewMain()
	m.Stdout, m.Stderr = io.Discard, io.Discard
	m.Config.Addr, m.Config.DataDir, m.Config.APIKey = "127.0.0.1:0", t.TempDir(), testAPIKey
	m.Config.Proxy = "socks5://user:hunter2-proxy-pw@proxy:1080"
	if err := m.Run(context.Background()); err == nil {
		m.Close()
		t.Fatal("served with a socks5 proxy")
	} else if !strings.Contains(err.Error(), "--proxy") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %q: does not name the flag, or shows the password", err)
	}

	m, _, _ = startMain(t, func(m *Main) {
		m.Config.Proxy = strings.Replace(proxy.URL, "http://", "http://hook:hunter2-proxy-pw@", 1)
		m.Config.AllowDestinations = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	if code, body := do(t, m, "POST", "/v1/endpoints", `{"url":"`+recv.URL+`/hook"}`); code != 201 {
		t.Fatalf("create an endpoint: %d %s", code, body)
	}
	code, body := do(t, m, "POST", "/v1/events", `{"type":"a","data":1}`)
	if code != 202 {
		t.Fatalf("ingest: %d %s", code, body)
	}
	select {
	case target := <-connects:
		if target != recv.Listener.Addr().String() {
			t.Fatalf("CONNECT %s, want %s", target, recv.Listener.Addr())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the proxy was not asked")
	}
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("not delivered through the proxy")
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key as
// PEM files and returns their paths and the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "hookline test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// TestTLS checks --tls-cert and --tls-key: HTTPS with HTTP/2, a JSON 400 to
// plain HTTP on the port, and clear errors for a missing half or bad files.
func TestTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, cert := selfSigned(t)
	m, _, stderr := startMain(t, func(m *Main) { m.Config.TLSCert, m.Config.TLSKey = certFile, keyFile })
	if !strings.Contains(stderr.String(), "scheme=https") {
		t.Fatalf("the log does not say https:\n%s", stderr)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequest("GET", "https://"+m.Addr()+"/v1/stats", nil)
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("HTTPS: %d %s, TLS %v", resp.StatusCode, resp.Proto, resp.TLS != nil)
	}
	// HTTP/1.1 over TLS works too.
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
	if resp, err := h1.Get("https://" + m.Addr() + "/healthz"); err != nil || resp.Proto != "HTTP/1.1" {
		t.Fatalf("HTTP/1.1 over TLS: %v", err)
	} else {
		resp.Body.Close()
	}
	h1.CloseIdleConnections()
	// Plain HTTP on the TLS port: a JSON 400.
	resp, err = http.Get("http://" + m.Addr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(string(b), "https://") {
		t.Fatalf("plain HTTP to the TLS port: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}

	for _, tt := range []struct{ cert, key, want string }{
		{certFile, "", "go together"},
		{"", keyFile, "go together"},
		{certFile, certFile, "--tls-cert"},
		{filepath.Join(t.TempDir(), "missing.pem"), keyFile, "missing.pem"},
	} {
		m := NewMain()
		m.Stdout, m.Stderr = io.Discard, io.Discard
		m.Config.Addr, m.Config.DataDir, m.Config.APIKey = "127.0.0.1:0", t.TempDir(), testAPIKey
		m.Config.TLSCert, m.Config.TLSKey = tt.cert, tt.key
		err := m.Run(context.Background())
		if err == nil {
			m.Close()
			t.Fatalf("served with cert %q key %q", tt.cert, tt.key)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Fatalf("error %q, want %q", err, tt.want)
		}
	}
}
