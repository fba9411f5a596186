package sender

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// CheckURL is Destinations{AllowPrivate: allowPrivate}.CheckURL(raw).
func CheckURL(raw string, allowPrivate bool) error {
	return Destinations{AllowPrivate: allowPrivate}.CheckURL(raw)
}

// newClient returns the HTTP client that makes deliveries: redirects are not
// followed, every dial is checked by the guard of dest, HTTP/2 stays on, and
// idle connections are kept for reuse.
func newClient(dest Destinations, timeout time.Duration, maxConnsPerHost int) *http.Client {
	d := &net.Dialer{
		Timeout:   min(timeout, 10*time.Second),
		KeepAlive: 30 * time.Second,
		Control:   dest.newGuard(),
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
