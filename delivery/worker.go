package delivery

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/internal/sender"
	"github.com/hookline/hookline/signature"
)

// run makes the attempt of j, then of every job the scheduler hands this
// goroutine after it, and returns when there is none (workers.go).
func (e *Engine) run(j *job, sigbuf *[]byte) {
	for j != nil {
		next := e.attempt(j, sigbuf)
		e.sched.running.Done()
		j = next
	}
}

// attempt makes one delivery attempt (one request: one delivery, or a
// batch of them), feeds its result back to the scheduler, queues the
// outcomes, and returns the next job for this goroutine.
func (e *Engine) attempt(j *job, sigbuf *[]byte) *job {
	ep, first := j.ep, j.tasks[0]
	start := e.now()
	id, body, batchID := first.EventID, first.Payload, ""
	if ep.Batch != nil || len(j.tasks) > 1 || first.BatchID != "" {
		// A batch: a JSON array of the deliveries' messages, under an ID of
		// its own that its retries keep.
		batchID = first.BatchID
		if batchID == "" {
			batchID = hookline.NewID(hookline.BatchPrefix, start)
		}
		if !ep.FIFO() {
			// In delivery ID order, so that a retry of the batch, however
			// the store hands it back, sends the same array.
			slices.SortFunc(j.tasks, func(a, b *hookline.Task) int { return strings.Compare(a.DeliveryID, b.DeliveryID) })
		}
		id, body = batchID, batchBody(j.tasks)
	}
	var r sender.Result
	switch {
	case ep.Disabled:
		r = sender.Result{Err: "endpoint is disabled", Kind: sender.KindDisabled}
	case j.signer == nil:
		r = sender.Result{Err: "endpoint secret is not a valid whsec_ secret", Kind: sender.KindDisabled}
	case j.profileErr != "":
		r = sender.Result{Err: j.profileErr, Kind: sender.KindAuth}
	default:
		unix := start.Unix()
		if j.prev != nil && ep.SignsWithPrevious(start) {
			// A rotation: the new secret first, then the one it replaced,
			// until that one expires by the engine's clock.
			*sigbuf = signature.AppendSignatures((*sigbuf)[:0], id, unix, body, j.signer, j.prev)
		} else {
			*sigbuf = j.signer.AppendSignature((*sigbuf)[:0], id, unix, body)
		}
		req := &sender.Request{URL: ep.URL, ID: id, Timestamp: unix, Signature: string(*sigbuf), Body: body, Profile: j.profile}
		if j.mark != 0 {
			req.Wrote = func(at time.Time) { e.sched.wrote(j, at) }
		}
		r = e.sender.Send(j.ctx, req, start)
		if !r.Success && j.ctx.Err() != nil {
			return e.abort(j)
		}
	}
	if r.Aborted {
		// The engine ended the attempt (a hard stop): it tells nothing of
		// the receiver, so it is not recorded and uses up no attempt. The
		// deliveries go back to the store as they were, to be sent again.
		_, next := e.sched.complete(j, &r)
		e.metrics.aborted.Add(float64(len(j.tasks)))
		e.unclaims.add(j.tasks)
		return next
	}
	end := e.now()
	outs := e.outcome(j.tasks, ep, &r, start, end.Sub(start), batchID)
	fb, next := e.sched.complete(j, &r)
	e.record(j.tasks, ep, &r, outs, fb, end)
	return next
}

// abort ends an attempt whose context was cancelled before an answer came:
// its partition was revoked (the lease lost or at risk) or the engine is
// stopping hard. Nothing is known of the receiver, so nothing is recorded:
// the deliveries go back to the store unchanged, for their owner to send,
// and the endpoint's limits and breaker are left as they were. It returns
// the next job for this goroutine.
func (e *Engine) abort(j *job) *job {
	_, next := e.sched.complete(j, nil)
	e.metrics.aborted.Add(float64(len(j.tasks)))
	e.unclaims.add(j.tasks)
	return next
}

// batchBody returns the body of a batched request: the deliveries'
// payloads as a JSON array.
func batchBody(tasks []*hookline.Task) []byte {
	n := 2 + len(tasks)
	for _, t := range tasks {
		n += len(t.Payload)
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, t := range tasks {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, t.Payload...)
	}
	return append(b, ']')
}

// outcome turns an attempt's result into the outcome of each of its
// deliveries: delivered, retried later, or failed (the dead-letter state).
// The deliveries of a batch share their fate: the first one's retry
// schedule decides for all, and they are due again together.
func (e *Engine) outcome(tasks []*hookline.Task, ep *hookline.Endpoint, r *sender.Result, start time.Time, elapsed time.Duration, batchID string) []hookline.Outcome {
	var status hookline.DeliveryStatus
	var next time.Time
	first := tasks[0]
	switch {
	case r.Success:
		status = hookline.StatusDelivered
	case r.Gone || r.Kind == sender.KindDisabled || r.Kind == sender.KindRefused:
		// A refused destination (the guard: a non-public address not
		// allowed) cannot succeed on a retry while the configuration
		// stands: it fails at once, its error naming the flag that allows it.
		status = hookline.StatusFailed
	default:
		// A Retry-After pauses the whole endpoint (the scheduler holds it
		// back); the delivery is due no sooner than the pause ends.
		policy := e.retry
		if len(ep.RetrySchedule) > 0 {
			// The endpoint's own schedule, with the server's jitter.
			policy = &RetryPolicy{Schedule: ep.RetrySchedule, Jitter: e.retry.Jitter, Rand: e.retry.Rand}
		}
		if d, ok := policy.Next(first.Attempts+1-first.ScheduleOffset, min(r.RetryAfter, maxPause)); ok {
			status, next = hookline.StatusPending, start.Add(elapsed).Add(d)
		} else {
			status = hookline.StatusFailed
		}
	}
	outs := make([]hookline.Outcome, len(tasks))
	for i, t := range tasks {
		outs[i] = hookline.Outcome{
			EndpointID: ep.ID,
			Ordered:    ep.FIFO(),
			BatchID:    batchID,
			Status:     status,
			Attempt: hookline.Attempt{
				DeliveryID:   t.DeliveryID,
				Attempt:      t.Attempts + 1,
				StartedAt:    start,
				Duration:     elapsed,
				StatusCode:   r.StatusCode,
				Error:        r.Err,
				ResponseBody: r.Body,
			},
			NextAttemptAt: next,
		}
	}
	return outs
}

// failReason is the reason of hookline.delivery.failed for a delivery that
// failed with r.
func failReason(r *sender.Result) string {
	switch {
	case r.Gone:
		return "gone"
	case r.Kind == sender.KindRefused:
		return "destination not allowed"
	}
	return "retries exhausted"
}

// record counts an attempt, queues its outcomes for the store, and acts on
// what the scheduler reported: operational events, disabling the endpoint,
// tasks handed back to the store.
func (e *Engine) record(tasks []*hookline.Task, ep *hookline.Endpoint, r *sender.Result, outs []hookline.Outcome, fb outcome, end time.Time) {
	st := e.epStats.get(ep.ID)
	for i, t := range tasks {
		latency := end.Sub(t.EventCreatedAt)
		e.metrics.attempt(r.Kind, outs[i].Attempt.Duration)
		e.live.attempt(end, r.Success, latency)
		if r.Kind != sender.KindDisabled {
			st.attempt(end, r.Success, latency)
		}
		if r.Success {
			e.metrics.delivered(latency)
		}
		e.outcomes.add(outs[i])
		if outs[i].Status == hookline.StatusFailed && r.Kind != sender.KindDisabled {
			e.opEvents.deliveryFailed(ep, t, &outs[i], failReason(r))
		}
	}
	if r.RetryAfter > 0 && fb.paused {
		e.metrics.pauses.Inc()
	}
	if len(fb.handBack) > 0 {
		e.unclaims.add(fb.handBack)
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
	if fb.disable != "" && !ep.Disabled {
		detail := r.Err
		if fb.disable == hookline.DisabledFailing {
			detail = fmt.Sprintf("no successful attempt for %s; last error: %s", e.cfg.DisableAfter, r.Err)
		}
		go e.disableEndpoint(ep, fb.disable, detail)
	}
}
