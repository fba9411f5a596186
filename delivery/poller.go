package delivery

import (
	"context"
	"sync"
	"time"

	"github.com/hookline/hookline"
)

// claimPage is the most deliveries claimed from the store at once.
const claimPage = 1000

// poller pages due deliveries in from the store: retries whose time has
// come, deliveries that did not fit in memory when they were ingested, and
// everything pending after a restart or a change of partition ownership.
// Fresh deliveries never wait for it: ingest hands them to the dispatcher.
type poller struct {
	e    *Engine
	kick chan struct{}

	mu   sync.Mutex
	due  time.Time // earliest known due time, zero when unknown
	wake *time.Timer
}

func newPoller(e *Engine) *poller {
	return &poller{e: e, kick: make(chan struct{}, 1)}
}

// poke makes the poller look at the store now.
func (p *poller) poke() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// wakeAt makes the poller look at the store no later than t.
func (p *poller) wakeAt(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.due.IsZero() && !t.Before(p.due) {
		return
	}
	p.due = t
	d := t.Sub(p.e.now())
	if d <= 0 {
		p.poke()
		return
	}
	if p.wake != nil {
		p.wake.Stop()
	}
	p.wake = time.AfterFunc(d, p.poke)
}

// run polls until ctx ends. Between polls it waits for a poke, a known due
// time, or PollInterval, whichever comes first.
func (p *poller) run(ctx context.Context) {
	defer p.e.bg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
		case <-t.C:
		case <-p.e.storeSignal():
		}
		p.mu.Lock()
		p.due = time.Time{}
		p.mu.Unlock()
		p.poll(ctx)
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(p.e.cfg.PollInterval)
	}
}

// poll claims due deliveries while there is room in memory.
func (p *poller) poll(ctx context.Context) {
	e := p.e
	parts, any := e.owned()
	if !any {
		return
	}
	for ctx.Err() == nil {
		room := e.dispatcher.free()
		if room <= 0 {
			if e.dispatcher.waitForRoom() {
				return // lowWater pokes us
			}
			continue
		}
		tasks, err := e.store.ClaimDue(ctx, parts, e.now(), min(room, claimPage))
		if err != nil {
			if ctx.Err() == nil {
				e.log.Error("claim due deliveries", "err", err)
			}
			return
		}
		e.metrics.claimed(len(tasks))
		if rejected := e.dispatcher.admit(tasks); len(rejected) > 0 {
			e.unclaim(rejected)
			return
		}
		if len(tasks) < min(room, claimPage) {
			return
		}
	}
}

// unclaim gives tasks back to the store so they are claimed again later.
func (e *Engine) unclaim(tasks []*hookline.Task) {
	if len(tasks) == 0 {
		return
	}
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		ids[i] = t.DeliveryID
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.store.Unclaim(ctx, ids); err != nil {
		// Not fatal: claims are reset when a node starts owning a partition.
		e.log.Error("unclaim deliveries", "err", err, "count", len(ids))
	}
}
