package sender

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"code.dny.dev/ssrf"

	"github.com/hookline/hookline"
)

// errPrivate marks a dial refused because the address is not public.
var errPrivate = errors.New("destination is a loopback, private, link-local or otherwise non-public address; start hookline with --allow-private-networks to allow it")

// newGuard returns the dial-time check of the address actually dialled, or
// nil when private networks are allowed. It refuses loopback, private,
// link-local, unspecified and the other special-purpose ranges, including
// their IPv4-mapped IPv6, NAT64 and 6to4 forms, on any port.
func newGuard(allowPrivate bool) func(network, address string, c syscall.RawConn) error {
	if allowPrivate {
		return nil
	}
	return func(network, address string, c syscall.RawConn) error {
		if err := publicOnly.Safe(network, address, c); err != nil {
			if errors.Is(err, ssrf.ErrProhibitedIP) {
				return errPrivate
			}
			return err
		}
		return nil
	}
}

// publicOnly refuses every non-public address, on any port.
var publicOnly = ssrf.New(ssrf.WithAnyPort())

// CheckURL validates an endpoint URL: absolute http or https with a host
// that can be dialled (see ParseHost). An IPv4 address written in another
// form than dotted decimal (127.1, 2130706433, 0x7f000001, ①②⑦.0.0.1) is
// refused, naming the usual form, since resolvers disagree on whether it is
// an address. Unless allowPrivate is set, a host that is a loopback name
// (localhost, *.localhost) or an address that is not public is refused with
// a message that names the flag. Other names are checked when dialled.
func CheckURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return hookline.Errorf(hookline.EINVALID, "url: must be an absolute http or https URL")
	} else if u.Scheme != "http" && u.Scheme != "https" {
		return hookline.Errorf(hookline.EINVALID, "url: scheme must be http or https, not %q", u.Scheme)
	} else if u.Hostname() == "" {
		return hookline.Errorf(hookline.EINVALID, "url: must have a host")
	} else if u.User != nil {
		return hookline.Errorf(hookline.EINVALID, "url: must not carry credentials; use the signature to authenticate")
	}
	h, err := ParseHost(u.Hostname())
	if err != nil {
		return hookline.Errorf(hookline.EINVALID, "url: the host %v", err)
	}
	private := !allowPrivate && (h.Name == "localhost" || strings.HasSuffix(h.Name, ".localhost") ||
		h.Addr.IsValid() && publicOnly.SafeAddr(h.Addr) != nil)
	switch {
	case private && h.Name != "":
		return hookline.Errorf(hookline.EINVALID, "url: %s is a loopback host; start hookline with --allow-private-networks to allow it", h.Name)
	case private:
		return hookline.Errorf(hookline.EINVALID, "url: %s is a loopback, private, link-local or otherwise non-public address; start hookline with --allow-private-networks to allow it", hostAddr(u.Hostname(), h))
	case h.NonStandard:
		return hookline.Errorf(hookline.EINVALID, "url: %.100s is the IPv4 address %s in a form resolvers disagree on; write it as %s", u.Hostname(), h.Addr, h.Addr)
	}
	return nil
}

// hostAddr names the address of an IP host for a message: "127.0.0.1", or
// "0x7f000001 (127.0.0.1)" when it was written in another form.
func hostAddr(host string, h Host) string {
	if h.Addr.String() == host {
		return host
	}
	return fmt.Sprintf("%.100s (%s)", host, h.Addr)
}

// newClient returns the HTTP client that makes deliveries: redirects are not
// followed, every dial is checked by the guard, HTTP/2 stays on, and idle
// connections are kept for reuse.
func newClient(allowPrivate bool, timeout time.Duration, maxConnsPerHost int) *http.Client {
	d := &net.Dialer{
		Timeout:   min(timeout, 10*time.Second),
		KeepAlive: 30 * time.Second,
		Control:   newGuard(allowPrivate),
	}
	t := &http.Transport{
		Proxy:                  nil, // a proxy would dial for us and bypass the guard
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true, // a custom DialContext turns HTTP/2 off unless asked
		MaxIdleConns:           0,    // no global cap
		MaxIdleConnsPerHost:    maxConnsPerHost,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    min(timeout, 10*time.Second),
		ExpectContinueTimeout:  time.Second,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: MaxResponseHeaderBytes,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
	}
	return &http.Client{
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
