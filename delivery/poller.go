package delivery

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/hookline/hookline"
)

// claimPage is the most deliveries claimed from the store at once.
const claimPage = 1000

// discoverEvery bounds how often a signal from other nodes makes the poller
// ask the store which endpoints have work.
const discoverEvery = 20 * time.Millisecond

// poller pages due deliveries in from the store, endpoint by endpoint:
// retries whose time has come, deliveries that did not fit in memory or
// whose endpoint was held when they were ingested, and everything pending
// after a restart or a change of partition ownership. Fresh deliveries never
// wait for it: ingest hands them to the scheduler.
//
// The scheduler knows which endpoints have work in the store (every write
// of this node that leaves work there marks its endpoint once it commits),
// so the poller claims only for endpoints that have work and room, and an
// endpoint with a huge backlog or an open circuit never stands in front of
// the others. To learn of work it did not write (at start, when it gains
// partitions, when another node signals, and every PollInterval as a
// backstop) it asks the store which endpoints have any (DueEndpoints, one
// index seek per endpoint).
type poller struct {
	e    *Engine
	kick chan struct{}

	mu       sync.Mutex
	due      time.Time // earliest known time to look, zero when unknown
	wake     *time.Timer
	discover bool // ask the store at the next poll
	lastAsk  time.Time
}

func newPoller(e *Engine) *poller {
	return &poller{e: e, kick: make(chan struct{}, 1), discover: true}
}

// poke makes the poller look now.
func (p *poller) poke() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// rediscover makes the next poll ask the store which endpoints have work.
func (p *poller) rediscover() {
	p.mu.Lock()
	p.discover = true
	p.mu.Unlock()
	p.poke()
}

// wakeAt makes the poller look no later than t.
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
// time, a signal from another node, or PollInterval, whichever comes first;
// the interval also makes it ask the store for work it was not told of.
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
			p.mu.Lock()
			p.discover = true
			p.mu.Unlock()
		case <-p.e.storeSignal():
			p.mu.Lock()
			p.discover = true
			p.mu.Unlock()
		}
		p.mu.Lock()
		p.due = time.Time{}
		discover := p.discover && time.Since(p.lastAsk) >= discoverEvery
		if discover {
			p.discover, p.lastAsk = false, time.Now()
		} else if p.discover {
			p.wakeAfterLocked(discoverEvery)
		}
		p.mu.Unlock()
		p.poll(ctx, discover)
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(p.e.cfg.PollInterval)
	}
}

// wakeAfterLocked pokes the poller after d. The caller holds p.mu.
func (p *poller) wakeAfterLocked(d time.Duration) {
	if p.wake != nil {
		p.wake.Stop()
	}
	p.wake = time.AfterFunc(d, p.poke)
}

// poll asks the store which endpoints have work (when discover), then claims
// for endpoints with due work and room until there is none, and arranges to
// look again when more becomes due.
func (p *poller) poll(ctx context.Context, discover bool) {
	e := p.e
	parts, any := e.owned()
	if !any {
		return
	}
	if discover {
		due, err := e.store.DueEndpoints(ctx, parts)
		if err != nil {
			if ctx.Err() == nil {
				e.log.Error("find endpoints with due deliveries", "err", err)
			}
		} else {
			e.sched.discovered(due, e.ownedMask())
		}
	}
	for ctx.Err() == nil {
		now := e.now()
		reqs, next := e.sched.claimPlan(now, claimPage)
		if len(reqs) == 0 {
			if !next.IsZero() {
				p.wakeAt(next)
			}
			return
		}
		res, err := p.claim(ctx, reqs, now)
		if err != nil {
			if ctx.Err() == nil {
				e.log.Error("claim due deliveries", "err", err)
			}
			p.wakeAt(now.Add(e.cfg.PollInterval))
			return
		}
		n := 0
		for _, r := range res {
			n += len(r.Tasks)
		}
		e.metrics.claimed(n)
		if rejected := e.sched.claimed(reqs, res); len(rejected) > 0 {
			e.unclaims.add(rejected)
		}
		if n == 0 {
			// Nothing came back: the marks were stale, or (PostgreSQL) the
			// rows were locked by another claim. Look again a little later
			// rather than spin.
			if slices.ContainsFunc(res, func(r hookline.ClaimResult) bool { return !r.Next.IsZero() && !r.Next.After(now) }) {
				next = now.Add(discoverEvery)
			}
			if !next.IsZero() {
				p.wakeAt(next)
			}
			return
		}
	}
}

// poisonDelay is how long an endpoint whose deliveries could not be claimed
// is left out of the claims.
const poisonDelay = time.Minute

// claim claims reqs from the store. When the store fails for a reason other
// than being unavailable (a row it cannot read), it halves the requests
// until the one that fails is alone, and puts that endpoint off for
// poisonDelay, logged and counted, with an empty result: one poison row
// must not keep every other endpoint's work in the store. It returns an
// error only when nothing was claimed.
func (p *poller) claim(ctx context.Context, reqs []hookline.ClaimRequest, now time.Time) ([]hookline.ClaimResult, error) {
	e := p.e
	res, err := e.store.ClaimDue(ctx, reqs, now)
	if err == nil || ctx.Err() != nil || !poison(err) {
		return res, err
	}
	if len(reqs) == 1 {
		e.log.Error("claim due deliveries: this endpoint's cannot be claimed; putting them off", "endpoint", reqs[0].EndpointID,
			"for", poisonDelay.String(), "err", err)
		e.metrics.poison.WithLabelValues("claim").Inc()
		e.sched.putOff(reqs[0].EndpointID, now.Add(poisonDelay))
		return []hookline.ClaimResult{{}}, nil
	}
	half := len(reqs) / 2
	a, err := p.claim(ctx, reqs[:half], now)
	if err != nil {
		return nil, err
	}
	b, err := p.claim(ctx, reqs[half:], now)
	if err != nil { // a is claimed: keep it, and look again for b later
		e.log.Error("claim due deliveries", "err", err)
		b = make([]hookline.ClaimResult, len(reqs)-half)
	}
	return append(a, b...), nil
}

// markStored tells the scheduler that tasks wait in the store unclaimed,
// due at due, for the endpoints this node owns.
func (e *Engine) markStored(tasks []*hookline.Task, due time.Time) {
	if len(tasks) == 0 {
		return
	}
	owned := e.ownedMask()
	var ids []string
	var last string
	for _, t := range tasks {
		id := t.Endpoint.ID
		if id == last || (owned != nil && !owned[t.Partition]) {
			continue
		}
		last = id
		ids = append(ids, id)
	}
	e.sched.markStored(ids, due)
}

// unclaim gives tasks back to the store, so they are claimed again later,
// and marks their endpoints' stored work once that is written.
func (e *Engine) unclaim(tasks []*hookline.Task) {
	if len(tasks) == 0 {
		return
	}
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		ids[i] = t.DeliveryID
	}
	ctx, cancel := context.WithTimeout(e.storeCtx, 30*time.Second) // cut short when a stop gives up on the store
	defer cancel()
	if err := e.store.Unclaim(ctx, ids); err != nil {
		// Not fatal: the rescuer frees the claims once they are older than
		// RescueAfter, and a node that takes the partition over resets them.
		e.log.Error("unclaim deliveries", "err", err, "count", len(ids))
		return
	}
	e.markStored(tasks, e.now())
}
