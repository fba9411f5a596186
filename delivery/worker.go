package delivery

import (
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/internal/sender"
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
	var r sender.Result
	switch {
	case ep.Disabled:
		r = sender.Result{Err: "endpoint is disabled", Kind: sender.KindDisabled}
	case q.signer == nil:
		r = sender.Result{Err: "endpoint secret is not a valid whsec_ secret", Kind: sender.KindDisabled}
	default:
		unix := start.Unix()
		*sigbuf = q.signer.AppendSignature((*sigbuf)[:0], t.EventID, unix, t.Payload)
		r = e.sender.Send(e.ctx, &sender.Request{
			URL: ep.URL, ID: t.EventID, Timestamp: unix, Signature: string(*sigbuf), Body: t.Payload,
		}, start)
	}
	elapsed := e.now().Sub(start)
	e.finish(t, ep, r, start, elapsed)
}

// finish turns an attempt's result into an outcome: delivered, retried
// later, or failed (the dead-letter state), records it, and counts it.
func (e *Engine) finish(t *hookline.Task, ep *hookline.Endpoint, r sender.Result, start time.Time, elapsed time.Duration) {
	o := hookline.Outcome{
		Attempt: hookline.Attempt{
			DeliveryID:   t.DeliveryID,
			Attempt:      t.Attempts + 1,
			StartedAt:    start,
			Duration:     elapsed,
			StatusCode:   r.StatusCode,
			Error:        r.Err,
			ResponseBody: string(r.Body),
		},
	}
	switch {
	case r.Success:
		o.Status = hookline.StatusDelivered
	case r.Gone || r.Kind == sender.KindDisabled:
		o.Status = hookline.StatusFailed
	default:
		if d, ok := e.retry.Next(t.Attempts+1-t.ScheduleOffset, r.RetryAfter); ok {
			o.Status, o.NextAttemptAt = hookline.StatusPending, start.Add(elapsed).Add(d)
		} else {
			o.Status = hookline.StatusFailed
		}
	}
	e.metrics.attempt(r.Kind, elapsed)
	e.live.attempt(start.Add(elapsed), r.Success, start.Add(elapsed).Sub(t.EventCreatedAt))
	if r.Success {
		e.metrics.delivered(start.Add(elapsed).Sub(t.EventCreatedAt))
	}
	if r.Gone {
		e.disableEndpoint(ep.ID)
	}
	e.outcomes.add(o)
}
