package delivery

import (
	"fmt"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/internal/sender"
)

// run makes the attempt of j, then of every job the scheduler hands this
// goroutine after it, and returns when there is none.
func (e *Engine) run(j *job) {
	sigbuf := make([]byte, 0, 64)
	for j != nil {
		next := e.attempt(j, &sigbuf)
		e.sched.running.Done()
		j = next
	}
}

// attempt makes one delivery attempt, feeds its result back to the
// scheduler, queues its outcome, and returns the next job for this
// goroutine.
func (e *Engine) attempt(j *job, sigbuf *[]byte) *job {
	t, ep := j.t, j.ep
	start := e.now()
	var r sender.Result
	switch {
	case ep.Disabled:
		r = sender.Result{Err: "endpoint is disabled", Kind: sender.KindDisabled}
	case j.signer == nil:
		r = sender.Result{Err: "endpoint secret is not a valid whsec_ secret", Kind: sender.KindDisabled}
	default:
		unix := start.Unix()
		*sigbuf = j.signer.AppendSignature((*sigbuf)[:0], t.EventID, unix, t.Payload)
		r = e.sender.Send(e.ctx, &sender.Request{
			URL: ep.URL, ID: t.EventID, Timestamp: unix, Signature: string(*sigbuf), Body: t.Payload,
		}, start)
	}
	end := e.now()
	elapsed := end.Sub(start)
	o := e.outcome(t, &r, start, elapsed)
	fb, next := e.sched.complete(j, &r)
	e.record(t, ep, &r, o, fb, end)
	return next
}

// outcome turns an attempt's result into an outcome: delivered, retried
// later, or failed (the dead-letter state).
func (e *Engine) outcome(t *hookline.Task, r *sender.Result, start time.Time, elapsed time.Duration) hookline.Outcome {
	o := hookline.Outcome{
		EndpointID: t.Endpoint.ID,
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
		// A Retry-After pauses the whole endpoint (the scheduler holds it
		// back); this delivery is due no sooner than the pause ends.
		if d, ok := e.retry.Next(t.Attempts+1-t.ScheduleOffset, min(r.RetryAfter, maxPause)); ok {
			o.Status, o.NextAttemptAt = hookline.StatusPending, start.Add(elapsed).Add(d)
		} else {
			o.Status = hookline.StatusFailed
		}
	}
	return o
}

// record counts an attempt, queues its outcome for the store, and acts on
// what the scheduler reported: operational events, disabling the endpoint,
// tasks handed back to the store.
func (e *Engine) record(t *hookline.Task, ep *hookline.Endpoint, r *sender.Result, o hookline.Outcome, fb outcome, end time.Time) {
	latency := end.Sub(t.EventCreatedAt)
	e.metrics.attempt(r.Kind, o.Attempt.Duration)
	e.live.attempt(end, r.Success, latency)
	if r.Kind != sender.KindDisabled {
		e.epStats.get(ep.ID).attempt(end, r.Success, latency)
	}
	if r.Success {
		e.metrics.delivered(latency)
	}
	if r.RetryAfter > 0 && fb.paused {
		e.metrics.pauses.Inc()
	}
	e.outcomes.add(o)
	if len(fb.handBack) > 0 {
		go e.unclaim(fb.handBack)
	}
	if fb.opened {
		e.metrics.circuitOpened.Inc()
		e.log.Warn("endpoint circuit opened", "endpoint", ep.ID, "consecutive_failures", fb.failures, "last_error", r.Err)
		e.opEvents.endpoint(ep, hookline.EventEndpointFailing,
			fmt.Sprintf("%d consecutive failed attempts", fb.failures), r.Err)
	}
	if fb.recovered {
		e.metrics.circuitClosed.Inc()
		e.log.Info("endpoint circuit closed", "endpoint", ep.ID)
		e.opEvents.endpoint(ep, hookline.EventEndpointRecovered, "an attempt succeeded", "")
	}
	if o.Status == hookline.StatusFailed && r.Kind != sender.KindDisabled {
		e.opEvents.deliveryFailed(ep, t, &o)
	}
	if fb.disable != "" && !ep.Disabled {
		detail := r.Err
		if fb.disable == hookline.DisabledFailing {
			detail = fmt.Sprintf("no successful attempt for %s; last error: %s", e.cfg.DisableAfter, r.Err)
		}
		go e.disableEndpoint(ep, fb.disable, detail)
	}
}
