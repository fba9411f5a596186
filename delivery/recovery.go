package delivery

import (
	"context"
	"time"

	"github.com/hookline/hookline"
)

// ReplayMissing implements api.Engine: it runs the store's ReplayMissing
// page by page (each page one bounded transaction) over [since, until)
// until the window is done, and tells the scheduler the endpoint has stored
// work when it made any. The deliveries are unclaimed: the scheduler pages
// them in like any stored backlog, so a wide window never floods memory.
func (e *Engine) ReplayMissing(ctx context.Context, endpointID string, since, until time.Time) (int, error) {
	r := hookline.ReplayMissingRequest{EndpointID: endpointID, Since: since, Until: until}
	total := 0
	defer func() {
		if total > 0 && e.ownsEndpoint(endpointID) {
			e.sched.markStored([]string{endpointID}, e.now())
		}
	}()
	for {
		page, err := e.store.ReplayMissing(ctx, r, e.now())
		if err != nil {
			return total, err
		}
		total += page.Created
		e.pending.Add(int64(page.Created))
		if page.Next == "" {
			return total, nil
		}
		r.After = page.Next
	}
}

// RetryDeliveries implements api.Engine: it makes the failed deliveries f
// selects pending and due now in batches of hookline.DefaultRetryBatch (one
// transaction each) and returns how many. It stops after a short batch, or
// once it has requeued as many as were failed when it began, so that
// deliveries that fail again meanwhile are not retried in a loop.
func (e *Engine) RetryDeliveries(ctx context.Context, f hookline.DeliveryFilter) (int, error) {
	f.Status = hookline.StatusFailed
	before, err := e.store.CountDeliveries(ctx, f)
	if err != nil {
		return 0, err
	}
	total := 0
	for int64(total) < before {
		now := e.now()
		res, err := e.store.RetryDeliveries(ctx, f, hookline.DefaultRetryBatch, now)
		if err != nil {
			return total, err
		}
		total += res.Requeued
		e.pending.Add(int64(res.Requeued))
		var owned []string
		for _, id := range res.Endpoints {
			if e.ownsEndpoint(id) {
				owned = append(owned, id)
			}
		}
		e.sched.markStored(owned, now)
		if res.Requeued < hookline.DefaultRetryBatch {
			break
		}
	}
	return total, nil
}
