package delivery

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hookline/hookline"
)

// SetOwned sets the partitions this node dispatches, as its leases change.
// Queued tasks of partitions it loses are dropped and unclaimed at once (the
// new owner pages them in), and the health of their endpoints saved;
// deliveries already in flight finish (Revoke aborts them). A partition it
// gains is taken over first: its claims are reset, so the deliveries another
// node held in memory are paged in here, and its endpoints' health is
// loaded. Only then is it dispatched from, and claimed for by ingest. When
// the takeover fails, SetOwned returns the error and the engine tries the
// takeover again on its own, with backoff, until it succeeds or the
// partitions are no longer wanted; meanwhile they are not owned.
func (e *Engine) SetOwned(ctx context.Context, parts []int) error {
	parts = slices.Clone(parts)
	slices.Sort(parts)
	e.takeMu.Lock()
	defer e.takeMu.Unlock()
	e.wanted = parts
	e.ownMu.Lock()
	wasAll, old := e.all, e.ownedParts
	if wasAll {
		old = allParts()
	}
	var kept []int
	for _, p := range old {
		if slices.Contains(parts, p) {
			kept = append(kept, p)
		}
	}
	e.setOwnedLocked(kept)
	e.ownMu.Unlock()
	if len(kept) < len(old) {
		mask := e.ownedMask()
		keep := func(p int) bool { return mask == nil || mask[p] }
		// Hand the queued tasks of lost partitions back at once, so the
		// partition can move as soon as its in-flight attempts end, and
		// their endpoints' health with them, for the next owner.
		e.unclaim(e.sched.drop(func(t *hookline.Task) bool { return keep(t.Partition) }))
		if hs := e.sched.lose(keep); len(hs) > 0 {
			e.healthW.save(ctx, hs)
		}
	}
	return e.takeOverLocked(ctx)
}

// allParts returns every partition.
func allParts() []int {
	parts := make([]int, hookline.Partitions)
	for i := range parts {
		parts[i] = i
	}
	return parts
}

// setOwnedLocked makes parts (sorted) the partitions dispatched. The caller
// holds e.ownMu.
func (e *Engine) setOwnedLocked(parts []int) {
	e.ownedParts, e.all = parts, len(parts) == hookline.Partitions
	e.mask = make([]bool, hookline.Partitions)
	for _, p := range parts {
		e.mask[p] = true
	}
}

// takeOverLocked takes over the partitions wanted and not owned yet: it
// resets their claims and loads their endpoints' health, then owns them.
// On failure it asks the takeover loop to try again. The caller holds
// e.takeMu.
func (e *Engine) takeOverLocked(ctx context.Context) error {
	e.ownMu.Lock()
	owned := slices.Clone(e.ownedParts)
	if e.all {
		owned = allParts()
	}
	e.ownMu.Unlock()
	var gained []int
	for _, p := range e.wanted {
		if !slices.Contains(owned, p) {
			gained = append(gained, p)
		}
	}
	if len(gained) == 0 {
		return nil
	}
	err := e.store.ResetClaims(ctx, gained)
	if err != nil {
		err = fmt.Errorf("take over partitions: reset claims: %w", err)
	} else {
		var hs []hookline.EndpointHealth
		if hs, err = e.store.LoadHealth(ctx, gained); err != nil {
			err = fmt.Errorf("take over partitions: load endpoint health: %w", err)
		} else {
			e.sched.restore(hs)
		}
	}
	if err != nil {
		select {
		case e.takeRetry <- struct{}{}:
		default:
		}
		return err
	}
	owned = append(owned, gained...)
	slices.Sort(owned)
	e.ownMu.Lock()
	e.setOwnedLocked(owned)
	e.ownMu.Unlock()
	e.poller.rediscover()
	return nil
}

// takeovers tries failed takeovers again, with backoff from 50 ms to 5 s,
// until ctx ends.
func (e *Engine) takeovers(ctx context.Context) {
	defer e.bg.Done()
	backoff := 50 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.takeRetry:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		e.takeMu.Lock()
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := e.takeOverLocked(tctx)
		cancel()
		e.takeMu.Unlock()
		if err != nil {
			if ctx.Err() == nil {
				e.log.Error("partitions", "err", err)
			}
			backoff = min(2*backoff, 5*time.Second)
		} else {
			backoff = 50 * time.Millisecond
		}
	}
}

// Revoke aborts at once the attempts in flight from partitions whose leases
// this node can no longer count on, and hands their queued tasks back to the
// store: the partition leaser calls it when its watchdog finds the leases
// unrenewed at the dispatch deadline (however long a database call blocks
// the lease round), and when a round finds partitions taken by another node.
// An aborted attempt is recorded nowhere: the receiver's answer is unknown,
// and the delivery goes back unchanged, for its owner to send (a duplicate
// if the receiver got it). Ownership itself changes with SetOwned; Revoke
// does not block.
func (e *Engine) Revoke(parts []int) {
	var lost [hookline.Partitions]bool
	for _, p := range parts {
		if p >= 0 && p < hookline.Partitions {
			lost[p] = true
		}
	}
	if tasks := e.sched.revoke(func(p int) bool { return !lost[p] }); len(tasks) > 0 {
		go e.unclaim(tasks) // a store call: Revoke must not block
	}
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
