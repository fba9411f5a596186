package delivery

import (
	"context"
	"time"
)

const (
	// purgeBatch is how many deliveries of deleted endpoints one
	// PurgeDeleted call deletes (storetest.PurgeBatch).
	purgeBatch = 500
	// purgeKeep is how long the row of a deleted endpoint outlives its
	// deliveries, so that every node reads its deletion from
	// EndpointChanges (each reads them every EndpointPoll) before it goes.
	purgeKeep = time.Minute
)

// purge deletes the deliveries and attempts of deleted endpoints of the
// partitions this node owns, purgeBatch at a time, until ctx ends: when an
// endpoint is deleted (on any node; see EndpointChanged) and every minute.
// After each batch it waits as long as the batch took, so that it keeps the
// store's writer at most half of the time and ingest goes on between
// batches.
func (e *Engine) purge(ctx context.Context) {
	defer e.bg.Done()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			parts, any := e.owned()
			if !any {
				break
			}
			start := time.Now()
			n, err := e.store.PurgeDeleted(ctx, parts, e.now().Add(-purgeKeep), purgeBatch)
			if err != nil && ctx.Err() == nil {
				e.log.Error("purge deleted endpoints", "err", err)
			}
			e.metrics.purged.Add(float64(n))
			if err != nil || n < purgeBatch {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Since(start)):
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-e.purgeKick:
		case <-t.C:
		}
	}
}

// kickPurge wakes the purger. It does not block.
func (e *Engine) kickPurge() {
	select {
	case e.purgeKick <- struct{}{}:
	default:
	}
}
