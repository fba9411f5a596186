package delivery

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hookline/hookline"
)

// A node is not ready while ingest commits fail: once readyFailures commits
// in a row have failed, the last within readyWindow. A commit that succeeds
// makes it ready at once; without one (a load balancer sends nothing to a
// node that is not ready), it is ready again readyWindow after the last
// failure, to be tried.
const (
	readyFailures = 3
	readyWindow   = 5 * time.Second
)

// readyLogEvery bounds how often a lasting reason not to be ready is logged
// again (a change of reason is logged at once).
const readyLogEvery = 30 * time.Second

// readiness is what GET /readyz shows of this node. It names no host, user
// or database: /readyz needs no key. The errors behind it are logged.
type readiness struct {
	Node hookline.NodeStats `json:"node"`
	// Store is "ok", "unavailable" (it does not answer a ping), or "n/a"
	// while the node shuts down.
	Store string `json:"store"`
	// Ingest is "ok", "failing" (the last commits failed), "refusing" (the
	// backlog is over its bound), or "stopped".
	Ingest string `json:"ingest"`
	// Reason says why the node is not ready; empty when it is.
	Reason string `json:"reason,omitempty"`
}

// commitHealth follows the outcomes of ingest commits, for readiness.
type commitHealth struct {
	mu       sync.Mutex
	failures int       // commits failed in a row
	lastFail time.Time // of the latest
}

// record notes the outcome of one group commit.
func (c *commitHealth) record(err error, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.failures = 0
		return
	}
	c.failures++
	c.lastFail = now
}

// failing returns how many commits failed in a row, when that makes the
// node not ready at now; 0 otherwise.
func (c *commitHealth) failing(now time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failures >= readyFailures && now.Sub(c.lastFail) < readyWindow {
		return c.failures
	}
	return 0
}

// readyLog logs the changes of readiness, and a lasting reason not to be
// ready every readyLogEvery.
type readyLog struct {
	mu     sync.Mutex
	reason string
	logged time.Time
}

// Ready implements api.Engine: nil when this node can take traffic. It is
// not ready while it shuts down, while the store does not answer a ping,
// while ingest commits fail (see readyFailures), and while the backlog of
// pending deliveries is over its bound, when ingest refuses. The detail is
// shown either way; the store's own error is logged, not shown.
func (e *Engine) Ready(ctx context.Context) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	r := readiness{Node: e.nodeStats(), Store: "ok", Ingest: "ok"}
	var cause error
	select {
	case <-e.stopping:
		r.Store, r.Ingest, r.Reason = "n/a", "stopped", "shutting down"
	default:
		if err := e.store.Ping(ctx); err != nil {
			r.Store, r.Reason, cause = "unavailable", "the store does not answer", err
		}
		if n := e.commits.failing(time.Now()); n > 0 {
			r.Ingest = "failing"
			if r.Reason == "" {
				r.Reason = "the last ingest commits failed; see the log"
			}
		} else if e.overBacklog() {
			r.Ingest = "refusing"
			if r.Reason == "" {
				r.Reason = "the backlog of pending deliveries is over its bound (--max-backlog)"
			}
		}
	}
	e.readyLog.note(e, r.Reason, cause)
	if r.Reason != "" {
		return r, errors.New(r.Reason)
	}
	return r, nil
}

// overBacklog reports whether the pending backlog is over its bound, when
// ingest refuses.
func (e *Engine) overBacklog() bool {
	max := e.cfg.MaxBacklog
	return max > 0 && e.pending.Load() >= max
}

// note logs reason (empty: ready) if it changed, or if it lasts and was
// last logged readyLogEvery ago, with cause, the error behind it.
func (l *readyLog) note(e *Engine, reason string, cause error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if reason == l.reason && (reason == "" || now.Sub(l.logged) < readyLogEvery) {
		return
	}
	switch {
	case reason == "":
		e.log.Info("ready again")
	case cause != nil:
		e.log.Warn("not ready", "reason", reason, "err", cause)
	default:
		e.log.Warn("not ready", "reason", reason)
	}
	l.reason, l.logged = reason, now
}
