package delivery

import (
	"context"
	"slices"
	"time"

	"github.com/hookline/hookline"
)

// SetOwned sets the partitions this node dispatches, as its leases change.
// Partitions it gains have their claims reset, so the deliveries another node
// held in memory are paged in here; queued tasks of partitions it loses are
// dropped and unclaimed (the new owner pages them in), and the health of
// their endpoints saved; the health of gained ones is loaded. Deliveries
// already in flight finish.
func (e *Engine) SetOwned(ctx context.Context, parts []int) error {
	parts = slices.Clone(parts)
	slices.Sort(parts)
	e.ownMu.Lock()
	old, wasAll := e.ownedParts, e.all
	e.ownedParts, e.all = parts, len(parts) == hookline.Partitions
	e.mask = make([]bool, hookline.Partitions)
	for _, p := range parts {
		e.mask[p] = true
	}
	e.ownMu.Unlock()

	var gained []int
	for _, p := range parts {
		if !wasAll && !slices.Contains(old, p) {
			gained = append(gained, p)
		}
	}
	if !e.all {
		mask := e.ownedMask()
		// Hand the queued tasks of lost partitions back at once, so the
		// partition can move as soon as its in-flight attempts end, and
		// their endpoints' health with them, for the next owner.
		e.unclaim(e.sched.drop(func(t *hookline.Task) bool { return mask[t.Partition] }))
		if hs := e.sched.lose(func(p int) bool { return mask[p] }); len(hs) > 0 {
			e.healthW.save(ctx, hs)
		}
	}
	if len(gained) > 0 {
		if err := e.store.ResetClaims(ctx, gained); err != nil {
			return err
		}
		hs, err := e.store.LoadHealth(ctx, gained)
		if err != nil {
			return err
		}
		e.sched.restore(hs)
		e.poller.rediscover()
	}
	return nil
}

// owned returns the partitions to claim from (nil for all) and whether the
// node owns any.
func (e *Engine) owned() ([]int, bool) {
	e.ownMu.Lock()
	defer e.ownMu.Unlock()
	if e.all {
		return nil, true
	}
	return e.ownedParts, len(e.ownedParts) > 0
}

// ownedMask returns nil when the node owns every partition, and otherwise a
// mask indexed by partition.
func (e *Engine) ownedMask() []bool {
	e.ownMu.Lock()
	defer e.ownMu.Unlock()
	if e.all {
		return nil
	}
	return e.mask
}

func (e *Engine) ownedCount() int {
	e.ownMu.Lock()
	defer e.ownMu.Unlock()
	if e.all {
		return hookline.Partitions
	}
	return len(e.ownedParts)
}

// ownsEndpoint reports whether this node dispatches the endpoint.
func (e *Engine) ownsEndpoint(id string) bool {
	mask := e.ownedMask()
	return mask == nil || mask[hookline.PartitionOf(id)]
}

// SetDispatchDeadline stops the engine from starting requests at or after
// t, until it is called again with a later time; a zero t lifts it. The
// partition leaser calls it at each renewal with the time until which the
// leases are surely this node's: a node that paused past its leases sends
// nothing more when it wakes, before it learns that it lost them.
func (e *Engine) SetDispatchDeadline(t time.Time) { e.sched.setDeadline(t) }
