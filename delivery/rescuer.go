package delivery

import (
	"context"
	"time"

	"github.com/hookline/hookline"
)

// rescuePage is the most stale claims the rescuer reads at once.
const rescuePage = 1000

// rescuer frees the claims that nothing holds (as River's JobRescuer): a
// delivery is claimed while a node holds it in memory, and a claim whose
// holder forgot it (a failed Unclaim, a lost reply of an ingest COMMIT or a
// ClaimDue, a node that stopped without handing its claims back) would keep
// the delivery from ever being sent on a stable cluster. Every
// RescueInterval it looks, on the partitions this node owns, for claims
// older than RescueAfter, and frees those that nothing in this node's
// memory holds (neither queued, nor in flight, nor waiting for its outcome
// to be written). The store frees a claim only while it is still older than
// the bound, so a delivery claimed again meanwhile keeps its new claim.
type rescuer struct{ e *Engine }

func newRescuer(e *Engine) *rescuer { return &rescuer{e: e} }

// run rescues every RescueInterval until ctx ends.
func (r *rescuer) run(ctx context.Context) {
	defer r.e.bg.Done()
	t := time.NewTicker(r.e.cfg.RescueInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := r.rescue(ctx); err != nil && ctx.Err() == nil {
			r.e.log.Error("rescue stale claims", "err", err)
		}
	}
}

// rescue makes one round and returns how many claims it freed.
func (r *rescuer) rescue(ctx context.Context) (int, error) {
	e := r.e
	parts, any := e.owned()
	if !any {
		return 0, nil
	}
	before := e.now().Add(-e.cfg.RescueAfter)
	total := 0
	f := hookline.StaleClaimFilter{Partitions: parts, Before: before, Limit: rescuePage}
	for {
		ids, err := e.store.FindStaleClaims(ctx, f)
		if err != nil {
			return total, err
		}
		if len(ids) == 0 {
			break
		}
		if free := e.sched.unheld(ids); len(free) > 0 {
			n, err := e.store.RescueClaims(ctx, free, before)
			if err != nil {
				return total, err
			}
			total += n
		}
		if len(ids) < rescuePage {
			break
		}
		f.After = ids[len(ids)-1]
	}
	if total > 0 {
		e.log.Warn("rescued stale claims", "deliveries", total)
		e.metrics.rescued.Add(float64(total))
		e.poller.rediscover() // they are in the store, unclaimed: page them in
	}
	return total, nil
}
