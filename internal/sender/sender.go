// Package sender makes the HTTP requests of deliveries: one signed POST per
// attempt, through a client that refuses non-public destinations at dial
// time, follows no redirect and bounds what a receiver can make it read.
// It classifies each answer for the engine (success, retryable failure,
// push-back, gone) and knows nothing of queues, retries or the store.
package sender

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hookline/hookline"
)

// MaxResponseHeaderBytes bounds the response headers a receiver may send; a
// larger answer is a failed attempt.
const MaxResponseHeaderBytes = 64 << 10

// maxDrain is how much of a response body beyond the stored part is read, so
// that keep-alive connections are reused; a larger body closes the
// connection instead.
const maxDrain = 64 << 10

// Kinds of attempt outcome, the label of hookline_delivery_attempts_total.
const (
	KindSuccess  = "success"
	KindHTTP     = "http_error"
	KindTimeout  = "timeout"
	KindNetwork  = "network_error"
	KindRefused  = "refused"
	KindDisabled = "endpoint_disabled"
	// KindAuth is an attempt that could not authenticate: no OAuth2 token,
	// or an endpoint auth that does not load.
	KindAuth = "auth_error"
)

// Kinds lists every Kind, for metrics.
var Kinds = []string{KindSuccess, KindHTTP, KindTimeout, KindNetwork, KindRefused, KindDisabled, KindAuth}

// Options configure a Sender.
type Options struct {
	// AllowPrivateNetworks lets requests go to loopback and private
	// addresses.
	AllowPrivateNetworks bool
	// AllowDestinations lists the non-public prefixes requests may go to
	// besides public addresses (see Destinations.Allow).
	AllowDestinations []netip.Prefix
	// Proxy, when set, is an HTTP proxy every request goes through, by
	// CONNECT to the target's address once it is checked (see ParseProxy).
	// Nil means no proxy: environment variables such as HTTPS_PROXY are
	// never read.
	Proxy *url.URL
	// Timeout bounds one request, from dial to the end of the body read.
	Timeout time.Duration
	// IdleConnsPerHost is how many idle connections are kept per host.
	IdleConnsPerHost int
	// UserAgent is sent with every request.
	UserAgent string
	// RootCAs, when set, replaces the system's roots for the receivers'
	// certificates (tests, receivers under a private CA).
	RootCAs *x509.CertPool
	// Client overrides the HTTP client, for tests.
	Client *http.Client
}

// Sender sends deliveries. It is safe for concurrent use.
type Sender struct {
	client    *http.Client
	timeout   time.Duration
	userAgent []string
}

// New returns a Sender for o.
func New(o Options) *Sender {
	s := &Sender{client: o.Client, timeout: o.Timeout, userAgent: []string{o.UserAgent}}
	if s.client == nil {
		dest := Destinations{AllowPrivate: o.AllowPrivateNetworks, Allow: o.AllowDestinations}
		s.client = newClient(dest, o.Proxy, o.Timeout, o.IdleConnsPerHost, o.RootCAs)
	}
	return s
}

// CloseIdleConnections closes the connections kept for reuse.
func (s *Sender) CloseIdleConnections() { s.client.CloseIdleConnections() }

// Request is one attempt: a POST of Body to URL with the Standard Webhooks
// headers.
type Request struct {
	URL string
	// ID is the webhook-id; Timestamp the webhook-timestamp (unix seconds).
	ID        string
	Timestamp int64
	// Signature is the webhook-signature value, e.g. "v1,<base64>".
	Signature string
	Body      []byte
	// Wrote, when set, is told when the request has been written out.
	Wrote func(time.Time)
	// Profile is the endpoint's (Sender.Profile); nil for plain requests.
	Profile *Profile
}

// Result is what one attempt produced.
type Result struct {
	StatusCode int    // 0 when no answer arrived
	Err        string // "" on success; for a person
	Body       string // at most hookline.MaxStoredResponse bytes
	// RetryAfter is the receiver's Retry-After on a 429 or 503, 0 if none.
	RetryAfter time.Duration
	Success    bool
	// Gone is a 410: the receiver asks to stop.
	Gone bool
	// PushBack is a 429 or 503: the receiver asks to slow down.
	PushBack bool
	// Timeout is an attempt that ran out of time.
	Timeout bool
	// Aborted is an attempt that the caller's context ended (a shutdown, a
	// partition handed over) before an answer arrived: it says nothing of
	// the receiver, so it is no attempt failure and Kind is empty.
	Aborted bool
	Kind    string // one of the Kind constants; "" when Aborted
}

// Send makes one attempt. parent bounds it together with the Sender's
// timeout (or the request profile's); now is the attempt's time, for an
// HTTP-date Retry-After. An attempt that parent ends before an answer
// arrives is Aborted, whatever the error the transport saw; one that runs
// out of the timeout is a Timeout.
func (s *Sender) Send(parent context.Context, r *Request, now time.Time) Result {
	p, timeout, client := r.Profile, s.timeout, s.client
	if p != nil {
		if p.timeout > 0 {
			timeout = p.timeout
		}
		if p.client != nil {
			client = p.client
		}
	}
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	if r.Wrote != nil {
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { r.Wrote(time.Now()) },
		})
	}
	var token string
	for try := 0; ; try++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
		if err != nil {
			return Result{Err: "bad endpoint URL: " + err.Error(), Kind: KindNetwork}
		}
		req.Header = http.Header{
			"Content-Type":      {"application/json"},
			"User-Agent":        s.userAgent,
			"Webhook-Id":        {r.ID},
			"Webhook-Timestamp": {strconv.FormatInt(r.Timestamp, 10)},
			"Webhook-Signature": {r.Signature},
		}
		if p != nil {
			for k, v := range p.header {
				req.Header[k] = v
			}
			if p.auth != "" {
				req.Header["Authorization"] = []string{p.auth}
			}
			if p.oauth != nil {
				// The token endpoint is asked through the sender's client:
				// the same destination guard as deliveries.
				if token, err = p.oauth.get(ctx, s.client, token); err != nil {
					if cause := context.Cause(parent); cause != nil {
						return Result{Err: "attempt aborted: " + cause.Error(), Aborted: true}
					}
					if ctx.Err() != nil {
						return classifyError(ctx.Err(), timeout)
					}
					return Result{Err: err.Error(), Kind: KindAuth}
				}
				req.Header["Authorization"] = []string{"Bearer " + token}
			}
		}
		resp, err := client.Do(req)
		if err != nil {
			if cause := context.Cause(parent); cause != nil {
				return Result{Err: "attempt aborted: " + cause.Error(), Aborted: true}
			}
			return classifyError(err, timeout)
		}
		if resp.StatusCode == http.StatusUnauthorized && p != nil && p.oauth != nil && try == 0 {
			// The token may have been revoked or expired early: one more
			// try with a new one.
			_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
			resp.Body.Close()
			continue
		}
		return s.result(resp, now)
	}
}

// readBuffers are the buffers answers are read into: most answers are
// empty or short, so each keeps the string of what it read (the attempt's
// response body as stored), not a whole buffer.
var readBuffers = sync.Pool{New: func() any { return new([hookline.MaxStoredResponse]byte) }}

// result reads a receiver's answer and classifies it.
func (s *Sender) result(resp *http.Response, now time.Time) Result {
	defer resp.Body.Close()
	buf := readBuffers.Get().(*[hookline.MaxStoredResponse]byte)
	n, _ := io.ReadFull(resp.Body, buf[:])
	body := string(buf[:n])
	readBuffers.Put(buf)
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)

	res := Result{StatusCode: resp.StatusCode, Body: body}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		res.Success, res.Kind = true, KindSuccess
	case code >= 300 && code < 400:
		res.Err, res.Kind = fmt.Sprintf("redirect (%d) not followed", code), KindHTTP
	case code == http.StatusGone:
		res.Err, res.Kind, res.Gone = "410 Gone: endpoint disabled", KindHTTP, true
	default:
		res.Err, res.Kind = fmt.Sprintf("unexpected status %d", code), KindHTTP
		if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
			res.PushBack = true
			res.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), now)
		}
	}
	return res
}

// classifyError turns a transport error into a short message for a person.
func classifyError(err error, timeout time.Duration) Result {
	var (
		dnsErr  *net.DNSError
		refused *RefusedError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return Result{Err: fmt.Sprintf("timeout after %s", timeout), Kind: KindTimeout, Timeout: true}
	case errors.As(err, &refused):
		return Result{Err: refused.Error(), Kind: KindRefused}
	case errors.Is(err, syscall.ECONNREFUSED):
		return Result{Err: "connection refused", Kind: KindNetwork}
	case errors.Is(err, syscall.ECONNRESET):
		return Result{Err: "connection reset", Kind: KindNetwork}
	case errors.As(err, &dnsErr):
		return Result{Err: "DNS lookup failed: " + dnsErr.Err, Kind: KindNetwork}
	case strings.Contains(err.Error(), "server response headers exceeded"):
		return Result{Err: fmt.Sprintf("response headers larger than %d KiB", MaxResponseHeaderBytes>>10), Kind: KindNetwork}
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return Result{Err: inner.Error(), Kind: KindNetwork}
		}
	}
	return Result{Err: err.Error(), Kind: KindNetwork}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ParseRetryAfter reads a Retry-After header, in seconds or as an HTTP date,
// and returns 0 when it is absent or malformed. Values over a week are
// clamped to a week.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, 7*24*3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 7*24*time.Hour)
	}
	return 0
}
