package sender

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"code.dny.dev/ssrf"
)

// ParseProxy reads the URL of an HTTP proxy: http://[user:password@]host[:port],
// port 80 when left out, nothing after the host.
func ParseProxy(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, errors.New("not a URL")
	case u.Scheme != "http":
		return nil, errors.New("must be an http:// URL (the proxy is sent CONNECT requests)")
	case u.Hostname() == "":
		return nil, errors.New("must have a host")
	case u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "":
		return nil, errors.New("must be only http://host:port")
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), "80")
	}
	u.Path = ""
	return u, nil
}

// proxyDialer connects through an HTTP proxy with CONNECT. The proxy itself
// is dialled without a check: the operator named it. Each target is
// resolved here and checked against the destinations before the proxy is
// asked to connect, and the proxy is asked to connect to the address
// checked, not to the name, so that the proxy's own DNS answer (a
// rebinding one) does not matter. TLS to the target runs over the tunnel,
// verified against the URL's host, as it is without a proxy.
type proxyDialer struct {
	proxy    *url.URL
	auth     string         // Proxy-Authorization value, "" for none
	guard    *ssrf.Guardian // nil: every address allowed
	dialer   *net.Dialer
	resolver *net.Resolver
}

func newProxyDialer(proxy *url.URL, dest Destinations, d *net.Dialer) *proxyDialer {
	p := &proxyDialer{proxy: proxy, guard: dest.guardian(), dialer: d, resolver: net.DefaultResolver}
	if u := proxy.User; u != nil {
		pw, _ := u.Password()
		p.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pw))
	}
	return p
}

// DialContext returns a tunnel to addr (host:port of the target) through
// the proxy.
func (p *proxyDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	addrs, err := p.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, a := range addrs {
		if g := p.guard; g != nil && g.SafeAddr(a) != nil {
			errs = append(errs, &RefusedError{Addr: a})
			continue
		}
		c, err := p.connect(ctx, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// resolve returns the addresses of host, an IP or a name, IPv4 ones as
// IPv4 (not IPv4-mapped IPv6).
func (p *proxyDialer) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap().WithZone("")}, nil
	}
	addrs, err := p.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	for i, a := range addrs {
		addrs[i] = a.Unmap()
	}
	return addrs, nil
}

// connect dials the proxy and asks it for a tunnel to target, an IP:port.
func (p *proxyDialer) connect(ctx context.Context, target string) (net.Conn, error) {
	c, err := p.dialer.DialContext(ctx, "tcp", p.proxy.Host)
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", p.proxy.Host, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	} else {
		_ = c.SetDeadline(time.Now().Add(p.dialer.Timeout))
	}
	req := "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n"
	if p.auth != "" {
		req += "Proxy-Authorization: " + p.auth + "\r\n"
	}
	if _, err := c.Write([]byte(req + "\r\n")); err != nil {
		c.Close()
		return nil, fmt.Errorf("proxy %s: %w", p.proxy.Host, err)
	}
	br := bufio.NewReaderSize(c, 1024)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("proxy %s: reading its answer to CONNECT: %w", p.proxy.Host, err)
	}
	// A 200 to CONNECT has no body, whatever its headers say (RFC 9110,
	// 9.3.6): what follows is the tunnel, so the body is not read.
	if resp.StatusCode != http.StatusOK {
		c.Close()
		return nil, fmt.Errorf("proxy %s refused CONNECT %s: %s", p.proxy.Host, target, strings.TrimSpace(resp.Status))
	}
	_ = c.SetDeadline(time.Time{})
	if br.Buffered() > 0 { // the target spoke first: keep what was read
		return &bufferedConn{Conn: c, r: br}, nil
	}
	return c, nil
}

// bufferedConn reads what its reader buffered before reading the
// connection.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }
