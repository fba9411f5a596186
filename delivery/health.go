package delivery

import (
	"context"
	"time"

	"github.com/hookline/hookline"
)

// healthSaveInterval is how stale the saved last success of a healthy
// endpoint may grow; every other change of health is saved at the next
// flush.
const healthSaveInterval = 30 * time.Second

// healthFlushEvery is how often changed health is written.
const healthFlushEvery = 500 * time.Millisecond

// healthWriter saves the health of endpoints (circuit, failures, pause) that
// changed, in batches, so that a restart or the next owner of a partition
// starts from it.
type healthWriter struct{ e *Engine }

func newHealthWriter(e *Engine) *healthWriter { return &healthWriter{e: e} }

// run flushes every healthFlushEvery until ctx ends.
func (w *healthWriter) run(ctx context.Context) {
	defer w.e.bg.Done()
	t := time.NewTicker(healthFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.save(ctx, w.e.sched.dirtyHealth())
		}
	}
}

// flush writes what changed, for a graceful stop.
func (w *healthWriter) flush() {
	ctx, cancel := context.WithTimeout(w.e.storeCtx, 10*time.Second) // cut short when a stop gives up on the store
	defer cancel()
	w.save(ctx, w.e.sched.dirtyHealth())
}

// save writes hs; on failure the endpoints are marked changed again, to be
// written at the next flush.
func (w *healthWriter) save(ctx context.Context, hs []hookline.EndpointHealth) {
	if len(hs) == 0 {
		return
	}
	if err := w.e.store.SaveHealth(ctx, hs); err != nil {
		if ctx.Err() == nil {
			w.e.log.Error("save endpoint health", "err", err, "endpoints", len(hs))
		}
		w.e.sched.redirty(hs)
	}
}

// EndpointHealth returns the health of an endpoint: live when this node
// dispatches it, else as saved; ENOTFOUND when it does not exist.
func (e *Engine) EndpointHealth(ctx context.Context, id string) (hookline.EndpointHealth, error) {
	if h, ok := e.sched.healthOf(id); ok {
		return h.Normalized(), nil
	}
	h, err := e.store.FindHealth(ctx, id)
	if err != nil {
		return h, err
	}
	h.EndpointID = id
	if h.PausedUntil != nil && !e.now().Before(*h.PausedUntil) {
		h.PausedUntil = nil
	}
	return h.Normalized(), nil
}
