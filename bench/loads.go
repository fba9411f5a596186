package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// namedLoad is one stream of events in a scenario that runs several at once
// (noisy-tenant's two tenants; priority's backlog and its priority-9
// events). Each has its own run ID, so the receivers route its deliveries
// to its own sink, and its own loader, over a range of the phase's
// endpoints.
type namedLoad struct {
	name     string
	first, n int // its endpoints: e.eps[first : first+n]
	// rate is its events per second (open model); 0 sends back to back
	// from clients senders (closed loop). idle: it sends nothing.
	rate    float64
	clients int
	idle    bool
	sink    *sink
	loader  *loader

	// sentBy is when it sent its last event, set by runLoads: a load that
	// finished before the others (which a loaded machine makes late) is
	// measured over its own window, not theirs.
	sentBy time.Time

	// Set by drainLoads.
	drained      bool
	drainSeconds float64
}

// addEndpoints registers n endpoints of tenant (empty: the default one),
// subscribed to eventType, after those the phase has, and returns the
// index of the first. The receivers learn their signing keys.
func (e *env) addEndpoints(ctx context.Context, eventType, tenant string, n int) (int, error) {
	c := &e.cfg
	first := len(e.eps)
	urls := make([]string, n)
	for i := range urls {
		urls[i] = e.rs.url(first + i)
	}
	progress := func(k int) {
		if c.Progress != nil && (k%1000 == 0 || k == n) {
			fmt.Fprintf(c.Progress, "registered %d/%d endpoints of tenant %q\n", k, n, tenant)
		}
	}
	eps, err := e.api.createEndpoints(ctx, urls, eventType, tenant, 16, progress)
	if err != nil {
		return 0, err
	}
	e.eps = append(e.eps, eps...)
	keys := make([][]byte, len(e.eps))
	for i, ep := range e.eps {
		keys[i] = ep.Key
	}
	e.rs.setKeys(keys)
	return first, nil
}

// newLoad makes a load of events of eventType, tenant and priority (0: not
// sent) in requests of batch events, to endpoints first … first+n-1, with a
// run ID and sink of its own. Deliveries of its run that reach other
// endpoints are counted as foreign.
func (e *env) newLoad(name, eventType, tenant string, priority, first, n, batch int) *namedLoad {
	var b [4]byte
	_, _ = rand.Read(b[:])
	run := hex.EncodeToString(b[:])
	sk := newSink(first + n)
	sk.first = first
	e.rs.route(run, sk)
	l := newLoader(e.api, eventType, run, e.cfg.PayloadSize, batch, e.errs)
	l.tenant, l.priority = tenant, priority
	return &namedLoad{name: name, first: first, n: n, clients: e.cfg.Clients, sink: sk, loader: l}
}

// measure makes ld the phase's measured load: its deliveries' latency
// from their 202s is kept, for the events its open model sends (rate ×
// the warm-up and the window, and a request's worth to spare).
func (e *env) measure(ld *namedLoad) {
	c := &e.cfg
	ld.sink.track = true
	ld.loader.trackAccepted(int(ld.rate*(c.Warmup+c.Duration).Seconds()) + ld.loader.batch + 1)
	e.sink, e.loader = ld.sink, ld.loader
}

// sample reads the load's counters for the timeline, and its end-to-end
// p99 since the previous sample.
func (ld *namedLoad) sample() LoadSample {
	l, s := ld.loader, ld.sink
	x := LoadSample{Sent: l.sent.Load(), Accepted: l.accepted.Load(), Expected: l.expected.Load(), Delivered: s.received.Load()}
	if h := s.perSecond.Swap(NewHistogram()); h != nil {
		x.P99 = ms(h.Quantile(0.99))
	}
	return x
}

// runLoads runs loads together from now on, each for the warm-up and the
// measured window (open model at its rate, or a closed loop), then waits
// for all their deliveries. The caller has begun the clock (env.begin).
// Its progress phases are named after prefix.
func (e *env) runLoads(ctx context.Context, prefix string, loads []*namedLoad) (span, error) {
	c, p := &e.cfg, e.prog
	start := time.Now()
	warmEnd := start.Add(c.Warmup)
	end := warmEnd.Add(c.Duration)
	for _, ld := range loads {
		ld.loader.recordFrom = warmEnd
		ld.sink.e2eFromNS.Store(warmEnd.UnixNano())
		ld.sink.perSecond.CompareAndSwap(nil, NewHistogram())
	}
	p.setPhase(prefix + "warm-up")
	t := time.AfterFunc(c.Warmup, func() { p.mark(); p.setPhase(prefix + "load") })
	defer t.Stop()
	var wg sync.WaitGroup
	for _, ld := range loads {
		if ld.idle {
			continue
		}
		wg.Go(func() {
			if ld.rate > 0 {
				ld.loader.runOpen(ctx, ld.rate, ld.clients, start, end)
			} else {
				ld.loader.runClosed(ctx, ld.clients, end)
			}
			ld.sentBy = time.Now()
		})
	}
	wg.Wait()
	loadEnd := time.Now()
	p.mark()
	p.setPhase(prefix + "drain")
	err := e.drainLoads(ctx, loads, loadEnd)
	return span{start: start, from: warmEnd, to: loadEnd}, err
}

// drainLoads waits for every delivery the loads expect, for at most the
// drain timeout from from, and notes for each whether it drained and when
// its last delivery arrived. A drain that timed out is reported as
// undelivered, not as an error, unless the server died.
func (e *env) drainLoads(ctx context.Context, loads []*namedLoad, from time.Time) error {
	deadline := from.Add(e.cfg.DrainTimeout)
	for _, ld := range loads {
		err := e.waitSink(ctx, ld.sink, ld.loader.expected.Load(), waitDeadline(deadline))
		ld.drained = err == nil
		if last := ld.sink.last(); last.After(from) {
			ld.drainSeconds = last.Sub(from).Seconds()
		}
		if err != nil && (ctx.Err() != nil || e.alive() != nil) {
			return err
		}
	}
	return nil
}

// LoadFigures are one load's figures in one phase: what it sent, what its
// endpoints received, and how late.
type LoadFigures struct {
	// Name names the load: "B" and "A" (noisy-tenant), "priority-9" and
	// "priority-1" (priority).
	Name string `json:"name"`
	// Tenant is its events' and endpoints' tenant ("" the default one);
	// Priority its events' priority (0: not sent, the server's default).
	Tenant   string `json:"tenant,omitempty"`
	Priority int    `json:"priority,omitempty"`
	// Endpoints is how many endpoints it goes to, numbered from First.
	Endpoints int `json:"endpoints"`
	First     int `json:"first_endpoint"`
	// Rate is the events/s it offered (open model); 0 means as fast as its
	// senders could (closed loop, or the backlog's queueing); Idle that it
	// sent nothing in this phase. Batch is the events per request.
	Rate  float64 `json:"rate"`
	Idle  bool    `json:"idle,omitempty"`
	Batch int     `json:"batch"`

	Events EventCounts `json:"events"`
	// Deliveries' PerSecond is the median per-second rate over the phase's
	// measured window; DrainSeconds is from the end of the load to its last
	// delivery.
	Deliveries DeliveryCounts `json:"deliveries"`
	// Announced is the deliveries the 202 answers promised: Endpoints per
	// accepted event when the server fans out to the load's tenant only.
	Announced int64 `json:"announced"`
	// Foreign counts the load's deliveries that reached endpoints not its
	// own (another tenant's); Duplicates those received more than once.
	Foreign    int64 `json:"foreign"`
	Duplicates int64 `json:"duplicates"`

	// The latencies are of requests due and events scheduled in the
	// measured window, except for the priority backlog's, which count
	// every event from its queueing.
	IngestLatency   Latency `json:"ingest_latency"`
	EndToEndLatency Latency `json:"end_to_end_latency"`
	SendLag         Latency `json:"send_lag"`
	// AfterAccepted is, for the measured load only, from the 202 of each
	// event (when the loader read it) to each of its deliveries' arrival:
	// the engine's part of the end-to-end latency, without ingest. A
	// delivery may arrive before its 202 is read (the engine hands it to
	// the scheduler before it answers); it counts as 0.
	AfterAccepted Latency `json:"after_202_latency"`
}

// sentBy returns the end of a load's own window within sp: when it sent its
// last event (sent), if that came before the phase's load ended.
func (sp span) sentBy(sent time.Time) time.Time {
	if !sent.IsZero() && sent.Before(sp.to) {
		return sent
	}
	return sp.to
}

// figures returns the load's figures over the phase's window sp.
func (e *env) figures(ld *namedLoad, sp span) LoadFigures {
	tl := e.prog.timeline()
	l, s := ld.loader, ld.sink
	to := sp.sentBy(ld.sentBy)
	rate := func(f func(LoadSample) int64) float64 {
		return medianRate(tl, sp.from, to, func(x Sample) int64 { return f(x.Loads[ld.name]) })
	}
	f := LoadFigures{
		Name: ld.name, Tenant: l.tenant, Priority: l.priority, Endpoints: ld.n, First: ld.first,
		Rate: ld.rate, Idle: ld.idle, Batch: l.batch,
		Events: EventCounts{Sent: l.sent.Load(), Accepted: l.accepted.Load(), Rejected: l.rejected.Load(),
			SentPerSecond:     rate(func(x LoadSample) int64 { return x.Sent }),
			AcceptedPerSecond: rate(func(x LoadSample) int64 { return x.Accepted })},
		Deliveries: DeliveryCounts{Expected: l.expected.Load(), Received: s.received.Load(),
			PerSecond:    rate(func(x LoadSample) int64 { return x.Delivered }),
			DrainSeconds: ld.drainSeconds, Drained: ld.drained},
		Announced:       l.announced.Load(),
		Foreign:         s.foreign.Load(),
		Duplicates:      s.duplicates.Load(),
		IngestLatency:   l.ingest.Summary(),
		EndToEndLatency: s.e2e.Summary(),
	}
	if ld.idle {
		f.Rate = 0
	}
	if ld.rate > 0 {
		f.SendLag = l.lag.Summary()
	}
	if s.track {
		f.AfterAccepted = s.afterAccepted(l.acceptedAt, sp.from).Summary()
	}
	return f
}

// account adds a load's delivery errors to the run's: duplicates, foreign
// deliveries, and those expected but not received (or received beyond).
// The run's own load (env.sink and env.loader at the end) is accounted by
// finish instead.
func (e *env) account(ld *namedLoad) {
	e.errs.add("duplicate", ld.sink.duplicates.Load())
	e.errs.add("foreign", ld.sink.foreign.Load())
	if d := ld.loader.expected.Load() - ld.sink.received.Load(); d > 0 {
		e.errs.add("undelivered", d)
	} else if d < 0 {
		e.errs.add("unexpected", -d)
	}
}
