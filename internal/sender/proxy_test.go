package sender

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// connectProxy is an HTTP proxy that answers CONNECT only, recording each
// target and Proxy-Authorization.
type connectProxy struct {
	*httptest.Server
	mu      sync.Mutex
	targets []string
	auths   []string
	status  int // answer to CONNECT; 200 tunnels
}

func newConnectProxy(t *testing.T) *connectProxy {
	p := &connectProxy{status: http.StatusOK}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.targets = append(p.targets, r.Host)
		p.auths = append(p.auths, r.Header.Get("Proxy-Authorization"))
		status := p.status
		p.mu.Unlock()
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		if status != http.StatusOK {
			w.WriteHeader(status)
			return
		}
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			return
		}
		_ = brw.Flush() // the 200, still in the connection's buffer
		go func() { io.Copy(up, brw); up.Close() }()
		io.Copy(c, up)
		c.Close()
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *connectProxy) seen() ([]string, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...), append([]string(nil), p.auths...)
}

func TestParseProxy(t *testing.T) {
	t.Parallel()
	u, err := ParseProxy("http://user:pw@proxy.internal:3128")
	if err != nil || u.Host != "proxy.internal:3128" || u.User.Username() != "user" {
		t.Fatalf("%v %v", u, err)
	}
	if u, err := ParseProxy("http://proxy.internal/"); err != nil || u.Host != "proxy.internal:80" {
		t.Fatalf("default port: %v %v", u, err)
	}
	for _, bad := range []string{"proxy:3128", "https://proxy:3128", "socks5://proxy:1080", "http://", "http://proxy:3128/path", "http://proxy:3128?x=1"} {
		if _, err := ParseProxy(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestProxy checks deliveries through --proxy: each target is checked
// after resolving it and before the proxy is asked; the proxy is asked for
// the address checked; TLS runs over the tunnel; the proxy itself, on
// loopback, needs no allowing.
func TestProxy(t *testing.T) {
	t.Parallel()
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer recv.Close()
	proxy := newConnectProxy(t)
	proxyURL, _ := ParseProxy(strings.Replace(proxy.URL, "http://", "http://hook:s3cret-pw@", 1))
	_, port, _ := net.SplitHostPort(recv.Listener.Addr().String())
	allowed := Destinations{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}

	post := func(c *http.Client, u string) (string, error) {
		req, _ := http.NewRequestWithContext(context.Background(), "POST", u, strings.NewReader("{}"))
		resp, err := c.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), nil
	}

	t.Run("Allowed", func(t *testing.T) {
		c := newClient(allowed, proxyURL, 5*time.Second, 4, nil)
		defer c.CloseIdleConnections()
		// localhost resolves here to 127.0.0.1 (and maybe ::1, not allowed).
		if body, err := post(c, "http://localhost:"+port+"/hook"); err != nil || body != "ok" {
			t.Fatalf("through the proxy: %q %v", body, err)
		}
		targets, auths := proxy.seen()
		if len(targets) == 0 || targets[len(targets)-1] != "127.0.0.1:"+port {
			t.Fatalf("proxy asked for %v, want the address checked 127.0.0.1:%s", targets, port)
		}
		if auths[len(auths)-1] != "Basic aG9vazpzM2NyZXQtcHc=" {
			t.Fatalf("Proxy-Authorization %q", auths[len(auths)-1])
		}
	})
	t.Run("Refused", func(t *testing.T) {
		before, _ := proxy.seen()
		c := newClient(Destinations{}, proxyURL, 5*time.Second, 4, nil)
		_, err := post(c, "http://localhost:"+port+"/hook")
		if err == nil {
			t.Fatal("a loopback target was reached through the proxy")
		}
		if r := classifyError(err, time.Second); r.Kind != KindRefused || !strings.Contains(r.Err, "--allow-destinations") {
			t.Fatalf("classified as %q %q", r.Kind, r.Err)
		}
		if after, _ := proxy.seen(); len(after) != len(before) {
			t.Fatalf("the proxy was asked for %v", after[len(before):])
		}
	})
	t.Run("TLS", func(t *testing.T) {
		tlsRecv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Proto) }))
		defer tlsRecv.Close()
		c := newClient(allowed, proxyURL, 5*time.Second, 4, nil)
		defer c.CloseIdleConnections()
		pool := x509.NewCertPool()
		pool.AddCert(tlsRecv.Certificate())
		c.Transport.(*transport).base.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		if body, err := post(c, tlsRecv.URL); err != nil || !strings.HasPrefix(body, "HTTP/") {
			t.Fatalf("TLS through the proxy: %q %v", body, err)
		}
	})
	t.Run("ProxyRefuses", func(t *testing.T) {
		p := newConnectProxy(t)
		p.status = http.StatusProxyAuthRequired
		u, _ := ParseProxy(strings.Replace(p.URL, "http://", "http://hook:s3cret-pw@", 1))
		_, err := post(newClient(allowed, u, 5*time.Second, 4, nil), recv.URL)
		if err == nil || !strings.Contains(err.Error(), "407") {
			t.Fatalf("error %v, want the proxy's 407", err)
		}
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Fatalf("the error shows the proxy password: %v", err)
		}
	})
}

// TestNoEnvironmentProxy checks that without --proxy the client never
// takes a proxy from the environment, which would dial around the guard.
func TestNoEnvironmentProxy(t *testing.T) {
	t.Parallel()
	for _, dest := range []Destinations{{}, {AllowPrivate: true}} {
		if p := newClient(dest, nil, time.Second, 1, nil).Transport.(*transport).base.Proxy; p != nil {
			t.Fatal("the delivery client has a Proxy function")
		}
	}
	u, _ := url.Parse("http://proxy.internal:3128")
	if p := newClient(Destinations{}, u, time.Second, 1, nil).Transport.(*transport).base.Proxy; p != nil {
		t.Fatal("with --proxy, the transport's Proxy is set: the proxy would not be checked by proxyDialer")
	}
}
