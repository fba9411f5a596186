package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/signature"
)

// maxDrain is how much of a response body beyond the stored part is read, so
// that keep-alive connections are reused; a larger body closes the
// connection instead.
const maxDrain = 64 << 10

// result is what one attempt produced.
type result struct {
	statusCode int
	err        string // "" on success
	body       []byte
	retryAfter time.Duration
	gone       bool // 410: the receiver asks us to stop
	success    bool
	kind       string // metrics label
}

// Attempt outcome kinds, the label of hookline_delivery_attempts_total.
const (
	kindSuccess  = "success"
	kindHTTP     = "http_error"
	kindTimeout  = "timeout"
	kindNetwork  = "network_error"
	kindRefused  = "refused"
	kindDisabled = "endpoint_disabled"
)

// worker sends tasks until the dispatcher closes.
func (e *Engine) worker() {
	defer e.workers.Done()
	buf := make([]byte, 0, 64)
	for {
		t, q := e.dispatcher.next()
		if t == nil {
			return
		}
		e.attempt(t, q, &buf)
		e.dispatcher.done(t, q)
	}
}

// attempt makes one delivery attempt and queues its outcome.
func (e *Engine) attempt(t *hookline.Task, q *endpointQueue, sigbuf *[]byte) {
	ep := q.ep
	start := e.now()
	var r result
	switch {
	case ep.Disabled:
		r = result{err: "endpoint is disabled", kind: kindDisabled}
	case q.signer == nil:
		r = result{err: "endpoint secret is not a valid whsec_ secret", kind: kindDisabled}
	default:
		r = e.send(t, ep, q.signer, start, sigbuf)
	}
	elapsed := e.now().Sub(start)
	e.finish(t, ep, r, start, elapsed)
}

// send POSTs the payload, signed for this attempt, and classifies the answer.
func (e *Engine) send(t *hookline.Task, ep *hookline.Endpoint, s *signature.Signer, now time.Time, sigbuf *[]byte) result {
	ctx, cancel := context.WithTimeout(e.ctx, e.cfg.DeliveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(t.Payload))
	if err != nil {
		return result{err: "bad endpoint URL: " + err.Error(), kind: kindNetwork}
	}
	unix := now.Unix()
	*sigbuf = s.AppendSignature((*sigbuf)[:0], t.EventID, unix, t.Payload)
	req.Header = http.Header{
		"Content-Type":      {"application/json"},
		"User-Agent":        {e.userAgent},
		"Webhook-Id":        {t.EventID},
		"Webhook-Timestamp": {strconv.FormatInt(unix, 10)},
		"Webhook-Signature": {string(*sigbuf)},
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return classifyError(err, e.cfg.DeliveryTimeout)
	}
	defer resp.Body.Close()
	body := make([]byte, hookline.MaxStoredResponse)
	n, _ := io.ReadFull(resp.Body, body)
	body = body[:n]
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)

	r := result{statusCode: resp.StatusCode, body: body}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		r.success, r.kind = true, kindSuccess
	case code >= 300 && code < 400:
		r.err, r.kind = fmt.Sprintf("redirect (%d) not followed", code), kindHTTP
	case code == http.StatusGone:
		r.err, r.kind, r.gone = "410 Gone: endpoint disabled", kindHTTP, true
	default:
		r.err, r.kind = fmt.Sprintf("unexpected status %d", code), kindHTTP
		if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
			r.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
		}
	}
	return r
}

// classifyError turns a transport error into a short message for a person.
func classifyError(err error, timeout time.Duration) result {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return result{err: fmt.Sprintf("timeout after %s", timeout), kind: kindTimeout}
	case errors.Is(err, errPrivate):
		return result{err: errPrivate.Error(), kind: kindRefused}
	case errors.Is(err, syscall.ECONNREFUSED):
		return result{err: "connection refused", kind: kindNetwork}
	case errors.Is(err, syscall.ECONNRESET):
		return result{err: "connection reset", kind: kindNetwork}
	case errors.As(err, &dnsErr):
		return result{err: "DNS lookup failed: " + dnsErr.Err, kind: kindNetwork}
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return result{err: inner.Error(), kind: kindNetwork}
		}
	}
	return result{err: err.Error(), kind: kindNetwork}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// finish turns an attempt's result into an outcome: delivered, retried
// later, or failed (the dead-letter state), records it, and counts it.
func (e *Engine) finish(t *hookline.Task, ep *hookline.Endpoint, r result, start time.Time, elapsed time.Duration) {
	o := hookline.Outcome{
		Attempt: hookline.Attempt{
			DeliveryID:   t.DeliveryID,
			Attempt:      t.Attempts + 1,
			StartedAt:    start,
			Duration:     elapsed,
			StatusCode:   r.statusCode,
			Error:        r.err,
			ResponseBody: string(r.body),
		},
	}
	switch {
	case r.success:
		o.Status = hookline.StatusDelivered
	case r.gone || r.kind == kindDisabled:
		o.Status = hookline.StatusFailed
	default:
		if d, ok := e.retry.Next(t.Attempts+1-t.ScheduleOffset, r.retryAfter); ok {
			o.Status, o.NextAttemptAt = hookline.StatusPending, start.Add(elapsed).Add(d)
		} else {
			o.Status = hookline.StatusFailed
		}
	}
	e.metrics.attempt(r.kind, elapsed)
	e.live.attempt(start.Add(elapsed), r.success, start.Add(elapsed).Sub(t.EventCreatedAt))
	if r.success {
		e.metrics.delivered(start.Add(elapsed).Sub(t.EventCreatedAt))
	}
	if r.gone {
		e.disableEndpoint(ep.ID)
	}
	e.outcomes.add(o)
}
