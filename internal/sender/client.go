package sender

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/url"
	"time"
)

// CheckURL is Destinations{AllowPrivate: allowPrivate}.CheckURL(raw).
func CheckURL(raw string, allowPrivate bool) error {
	return Destinations{AllowPrivate: allowPrivate}.CheckURL(raw)
}

// newClient returns the HTTP client that makes deliveries: redirects are not
// followed, every dial is checked by the guard of dest, HTTP/2 stays on, and
// idle connections are kept for reuse (plain HTTP by transport, the rest
// by net/http's Transport). Environment proxies (HTTP_PROXY and
// the like) are ignored: a proxy dials for the client, around the guard.
// With proxy, every connection is a CONNECT tunnel through it, to an
// address checked first (see proxyDialer).
func newClient(dest Destinations, proxy *url.URL, timeout time.Duration, maxConnsPerHost int, roots *x509.CertPool) *http.Client {
	d := &net.Dialer{
		Timeout:   min(timeout, 10*time.Second),
		KeepAlive: 30 * time.Second,
		Control:   dest.newGuard(),
	}
	dial := d.DialContext
	if proxy != nil {
		// The proxy is dialled without the guard: the operator named it.
		pd := &net.Dialer{Timeout: d.Timeout, KeepAlive: d.KeepAlive}
		dial = newProxyDialer(proxy, dest, pd).DialContext
	}
	t := &http.Transport{
		Proxy:                  nil, // never from the environment: see above
		DialContext:            dial,
		ForceAttemptHTTP2:      true, // a custom DialContext turns HTTP/2 off unless asked
		MaxIdleConns:           0,    // no global cap
		MaxIdleConnsPerHost:    maxConnsPerHost,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    min(timeout, 10*time.Second),
		ExpectContinueTimeout:  time.Second,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: MaxResponseHeaderBytes,
		DisableCompression:     true, // see TestSendAsksForNoCompression
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots},
	}
	return &http.Client{
		Transport: newTransport(t, maxConnsPerHost),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
