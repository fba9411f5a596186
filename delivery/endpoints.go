package delivery

import (
	"context"
	"time"
)

// endpointChangesPage is how many endpoint changes one EndpointChanges call
// returns.
const endpointChangesPage = 1000

// watchEndpoints applies the endpoint writes of every node (this one's
// included, which it applied already) to the endpoints this node holds, in
// the store's Version order, until ctx ends: when the store signals that
// endpoints changed (PostgreSQL's NOTIFY, through EndpointSignal) and every
// EndpointPoll, the backstop for a lost notification. since is the version
// the engine started at.
func (e *Engine) watchEndpoints(ctx context.Context, since int64) {
	defer e.bg.Done()
	t := time.NewTicker(e.cfg.EndpointPoll)
	defer t.Stop()
	signal := e.endpointSignal()
	for {
		select {
		case <-ctx.Done():
			return
		case <-signal:
		case <-t.C:
		}
		since = e.applyEndpointChanges(ctx, since)
	}
}

// applyEndpointChanges reads the endpoint changes after since, a page at a
// time, hands each to EndpointChanged and returns the since of the next
// call. On an error it logs and returns what it got to: the next call
// resumes there.
func (e *Engine) applyEndpointChanges(ctx context.Context, since int64) int64 {
	for {
		eps, next, err := e.store.EndpointChanges(ctx, since, endpointChangesPage)
		if err != nil {
			if ctx.Err() == nil {
				e.log.Error("read endpoint changes", "since", since, "err", err)
			}
			return since
		}
		for _, ep := range eps {
			e.EndpointChanged(ep.ID, ep)
		}
		e.metrics.endpointVersion.Set(float64(next))
		since = next
		if len(eps) < endpointChangesPage {
			return since
		}
	}
}

// endpointSignal returns a channel on which a store that can tell when any
// node wrote an endpoint (PostgreSQL's LISTEN) signals; nil otherwise.
func (e *Engine) endpointSignal() <-chan struct{} {
	if s, ok := e.store.(interface{ EndpointSignal() <-chan struct{} }); ok {
		return s.EndpointSignal()
	}
	return nil
}
