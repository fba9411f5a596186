// Package delivery is Hookline's delivery engine: the group-commit writer of
// ingest, the scheduler with its per-endpoint queues, limits and circuit
// breakers, the retry policy, the outcome writer, the poller that pages due
// retries and recovered work in from the store endpoint by endpoint, the
// health writer, per-endpoint statistics, and the operational events that
// tell users about failing endpoints. Requests go out through
// internal/sender.
//
// The engine talks to the store only through hookline.Store, so the same code
// runs on SQLite and on PostgreSQL.
package delivery

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/internal/limiter"
	"github.com/hookline/hookline/internal/sender"
)

// Config configures an Engine. Zero values take the defaults named.
type Config struct {
	// Store is the durable record. Required.
	Store hookline.Store
	// MaxInFlight bounds the requests in flight at once, all endpoints
	// together (default 2048). Each costs a goroutine and a connection, not
	// a worker a healthy endpoint needed: past half of the bound, an endpoint
	// adds requests only below its fair share.
	MaxInFlight int
	// MaxInFlightPerEndpoint caps concurrent requests to an endpoint that
	// sets no max_in_flight (default 16).
	MaxInFlightPerEndpoint int
	// BreakerFailures is how many consecutive failed attempts open an
	// endpoint's circuit (default 10).
	BreakerFailures int
	// BreakerCooldown is how long an open circuit waits before its first
	// probe (default 30 s); it doubles after each failed probe, up to
	// BreakerMaxCooldown (default 10 min).
	BreakerCooldown    time.Duration
	BreakerMaxCooldown time.Duration
	// DisableAfter disables an endpoint that has failed with no successful
	// attempt for this long (default 120 h; negative: never).
	DisableAfter time.Duration
	// MemoryQueue caps the deliveries held in memory (default 50,000);
	// beyond it work waits in the store and is paged in as room frees up.
	MemoryQueue int
	// MemoryQueueBytes caps the payload bytes held in memory (default 256
	// MiB; negative: no bound but MemoryQueue), counted per delivery.
	MemoryQueueBytes int64
	// MaxFanout is the most deliveries one Ingest call's request may make
	// (default 100,000; negative: no bound); past it the request is refused
	// with ETOOLARGE and writes nothing.
	MaxFanout int
	// MaxBacklog is the number of pending deliveries past which ingest
	// answers 503 (default 10,000,000; negative means no bound).
	MaxBacklog int64
	// RetrySchedule is the delay before each attempt (default
	// DefaultSchedule).
	RetrySchedule []time.Duration
	// DeliveryTimeout bounds one attempt (default 15 s).
	DeliveryTimeout time.Duration
	// CommitTimeout bounds one group commit of ingest (default 10 s): past
	// it the commit is abandoned and its requests answered with EUNAVAILABLE
	// (whether it was written may then be unknown; see
	// hookline.ErrCommitUnknown).
	CommitTimeout time.Duration
	// AllowPrivateNetworks lets deliveries go to loopback and private
	// addresses.
	AllowPrivateNetworks bool
	// AllowDestinations lists the non-public prefixes deliveries may go to.
	AllowDestinations []netip.Prefix
	// Proxy, when set, is the HTTP proxy deliveries go through.
	Proxy *url.URL
	// Retention is how long events and their deliveries are kept (default
	// 720 h); pending deliveries are never pruned.
	Retention time.Duration
	// PollInterval is the longest the poller waits between looks at the
	// store for due retries (default 1 s).
	PollInterval time.Duration
	// EndpointPoll is the longest the engine waits between reads of the
	// endpoint writes of other nodes (EndpointChanges; default 1 s). A
	// store that signals them (PostgreSQL's NOTIFY) is read at once; this
	// is the bound when a notification is lost.
	EndpointPoll time.Duration
	// RescueAfter is how old a claim nothing in this node's memory holds
	// must be before the rescuer frees it (default 1 min, and at least
	// twice DeliveryTimeout: a claim another node still holds in flight
	// during a handover is younger than that). Such claims are left by a
	// failed Unclaim, a lost reply of a claim (an ingest's COMMIT, a
	// ClaimDue), or a node that stopped.
	RescueAfter time.Duration
	// RescueInterval is how often the rescuer looks for stale claims on the
	// partitions this node owns (default 15 s).
	RescueInterval time.Duration
	// Partitioned starts the node owning no partition until SetOwned is
	// called (for PostgreSQL clusters); otherwise it owns them all.
	Partitioned bool
	// NodeID names this node in stats and logs.
	NodeID string
	// Now is the clock (default hookline.Now).
	Now func() time.Time
	// Rand returns numbers in [0, 1) for jitter (default math/rand/v2).
	Rand func() float64
	// Logger receives errors (default slog.Default()).
	Logger *slog.Logger
	// Registerer receives the Prometheus collectors (default a new registry).
	Registerer prometheus.Registerer
	// RootCAs, when set, replaces the system's roots for the receivers'
	// certificates (tests, receivers under a private CA).
	RootCAs *x509.CertPool
	// Client overrides the HTTP client, for tests.
	Client *http.Client
}

func (c *Config) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxInFlight, 2048)
	def(&c.MaxInFlightPerEndpoint, 16)
	def(&c.BreakerFailures, 10)
	if c.BreakerCooldown <= 0 {
		c.BreakerCooldown = 30 * time.Second
	}
	if c.BreakerMaxCooldown <= 0 {
		c.BreakerMaxCooldown = 10 * time.Minute
	}
	c.BreakerMaxCooldown = max(c.BreakerMaxCooldown, c.BreakerCooldown)
	if c.DisableAfter == 0 {
		c.DisableAfter = 120 * time.Hour
	}
	def(&c.MemoryQueue, 50_000)
	if c.MemoryQueueBytes == 0 {
		c.MemoryQueueBytes = 256 << 20
	}
	if c.MaxFanout == 0 {
		c.MaxFanout = 100_000
	}
	if c.MaxBacklog == 0 {
		c.MaxBacklog = 10_000_000
	}
	if len(c.RetrySchedule) == 0 {
		c.RetrySchedule = DefaultSchedule
	}
	if c.DeliveryTimeout <= 0 {
		c.DeliveryTimeout = 15 * time.Second
	}
	if c.CommitTimeout <= 0 {
		c.CommitTimeout = 10 * time.Second
	}
	if c.Retention <= 0 {
		c.Retention = 720 * time.Hour
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.EndpointPoll <= 0 {
		c.EndpointPoll = time.Second
	}
	if c.RescueAfter <= 0 {
		c.RescueAfter = max(time.Minute, 2*c.DeliveryTimeout)
	}
	if c.RescueInterval <= 0 {
		c.RescueInterval = 15 * time.Second
	}
	if c.Now == nil {
		c.Now = hookline.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
	if c.NodeID == "" {
		c.NodeID = hookline.NewID("node_", time.Now())
	}
}

// Engine delivers events. Make one with New, start it with Start, stop it
// with Close.
type Engine struct {
	cfg       Config
	store     hookline.Store
	log       *slog.Logger
	now       func() time.Time
	retry     *RetryPolicy
	sender    *sender.Sender
	sched     *scheduler
	workers   *workers
	committer *committer
	outcomes  *outcomeWriter
	unclaims  *unclaimer
	rescuer   *rescuer
	poller    *poller
	healthW   *healthWriter
	opEvents  *opEvents
	epStats   *statsRegistry
	metrics   *metrics
	live      live

	pending  atomic.Int64 // pending deliveries, refreshed from the store
	commits  commitHealth // of ingest, for readiness
	readyLog readyLog

	statsMu sync.Mutex
	stats   hookline.StoreStats

	ownMu      sync.Mutex
	ownedParts []int  // partitions owned, unless all
	mask       []bool // ownedParts by partition
	all        bool
	// takeMu serializes takeovers (SetOwned, and its retries); wanted is
	// what SetOwned was last given: the partitions of wanted not in
	// ownedParts are being taken over, and are neither dispatched nor
	// claimed for until the takeover succeeds.
	takeMu    sync.Mutex
	wanted    []int
	takeRetry chan struct{} // a takeover failed: try again

	ctx    context.Context // cancelled on a hard stop: in-flight requests abort
	cancel context.CancelFunc
	// storeCtx bounds the writes that must not be lost while the store
	// answers (outcomes, hand-backs, health): cancelled closeGrace/2 after
	// a hard stop began, and when the engine has stopped.
	storeCtx    context.Context
	storeCancel context.CancelFunc
	bgCtx       context.Context // cancelled when background loops must stop
	bgCancel    context.CancelFunc
	stopping    chan struct{}
	hardStop    chan struct{}
	bg          sync.WaitGroup
	closeOnce   sync.Once
	abortOnce   sync.Once
	started     bool // Start got as far as starting the goroutines

	purgeKick chan struct{} // an endpoint was deleted: purge its deliveries
}

// New returns an engine ready to Start.
func New(cfg Config) *Engine {
	cfg.setDefaults()
	e := &Engine{
		cfg:       cfg,
		store:     cfg.Store,
		log:       cfg.Logger,
		now:       cfg.Now,
		retry:     &RetryPolicy{Schedule: cfg.RetrySchedule, Jitter: 0.2, Rand: cfg.Rand},
		all:       !cfg.Partitioned,
		mask:      make([]bool, hookline.Partitions),
		stopping:  make(chan struct{}),
		hardStop:  make(chan struct{}),
		purgeKick: make(chan struct{}, 1),

		takeRetry: make(chan struct{}, 1),
	}
	e.sender = sender.New(sender.Options{
		AllowPrivateNetworks: cfg.AllowPrivateNetworks,
		AllowDestinations:    cfg.AllowDestinations,
		Proxy:                cfg.Proxy,
		Timeout:              cfg.DeliveryTimeout,
		// Endpoints share hosts (one receiver, many paths): a host may have
		// as many requests in flight as the engine, and keeps as many
		// connections, or each one past an endpoint's share is closed after
		// its request and dialled again (with TLS, a handshake each time).
		// Idle ones close after the transport's idle timeout.
		IdleConnsPerHost: cfg.MaxInFlight,
		UserAgent:        "Hookline/" + hookline.Version,
		RootCAs:          cfg.RootCAs,
		Client:           cfg.Client,
	})
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.storeCtx, e.storeCancel = context.WithCancel(context.Background())
	e.bgCtx, e.bgCancel = context.WithCancel(context.Background())
	e.poller = newPoller(e)
	e.workers = newWorkers(e.run, workerIdle)
	e.sched = newScheduler(schedConfig{
		capacity:    cfg.MemoryQueue,
		capBytes:    max(0, cfg.MemoryQueueBytes),
		maxInFlight: cfg.MaxInFlight,
		perEndpoint: cfg.MaxInFlightPerEndpoint,
		breaker: limiter.Breaker{Threshold: cfg.BreakerFailures, Cooldown: cfg.BreakerCooldown,
			MaxCooldown: cfg.BreakerMaxCooldown},
		disableFor: cfg.DisableAfter,
		now:        cfg.Now,
		base:       e.ctx,
		start:      func(j *job) { e.workers.start(j) },
		wake:       e.poller.poke,
		profile:    e.sender.Profile,
		owned:      e.ownedMask,
	})
	e.committer = newCommitter(e, 4096)
	e.outcomes = newOutcomeWriter(e, 4*outcomeBatchSize)
	e.unclaims = newUnclaimer(e)
	e.rescuer = newRescuer(e)
	e.healthW = newHealthWriter(e)
	e.opEvents = newOpEvents(e)
	e.epStats = newStatsRegistry()
	e.metrics = newMetrics(cfg.Registerer, e)
	return e
}

// Start recovers what a previous run left claimed, then starts the
// committer, workers, poller and background loops.
func (e *Engine) Start(ctx context.Context) error {
	if e.all {
		if err := e.store.ResetClaims(ctx, nil); err != nil {
			return fmt.Errorf("reset claims: %w", err)
		}
		hs, err := e.store.LoadHealth(ctx, nil)
		if err != nil {
			return fmt.Errorf("load endpoint health: %w", err)
		}
		e.sched.restore(hs)
	}
	if n, err := e.store.PendingCount(ctx); err != nil {
		return fmt.Errorf("count pending: %w", err)
	} else {
		e.pending.Store(n)
	}
	_, _ = e.refreshStats(ctx)
	// Endpoint writes from here on reach this node's queues, whichever
	// node makes them; those before are in every snapshot it reads.
	_, since, err := e.store.EndpointChanges(ctx, 0, 0)
	if err != nil {
		return fmt.Errorf("read endpoint version: %w", err)
	}
	e.started = true
	e.bg.Add(8) // poller, maintain, prune, health writer, rescuer, takeovers, endpoint watcher, purger
	go e.watchEndpoints(e.bgCtx, since)
	go e.purge(e.bgCtx)
	go e.committer.run()
	go e.outcomes.run()
	go e.unclaims.run()
	go e.poller.run(e.bgCtx)
	go e.maintain(e.bgCtx)
	go e.prune(e.bgCtx)
	go e.healthW.run(e.bgCtx)
	go e.rescuer.run(e.bgCtx)
	go e.takeovers(e.bgCtx)
	go e.opEvents.run()
	return nil
}

// ErrStoreNotAnswering is wrapped by the error of a Close that gave up on
// the store: its calls had not returned closeGrace after the deadline.
var ErrStoreNotAnswering = errors.New("the store did not answer")

// closeGrace is how long Close waits, once its ctx has ended, for the store
// calls it cut short to return; a store that ignores its context (a hung
// disk) is then left behind.
const closeGrace = 2 * time.Second

// Close stops the engine gracefully: no new ingest, every accepted event
// committed, queued deliveries handed back to the store, in-flight attempts
// finished, and every outcome written. When ctx ends first, the stop turns
// hard: attempts in flight are aborted and left claimed for the next start,
// a failed write is not tried again, and the store calls of the stop
// (hand-backs, outcomes, health) still under way closeGrace/2 later are cut
// short, so a store that does not answer cannot hold Close past ctx and
// closeGrace; Close then returns ctx's error (wrapped with what it gave up
// on if the store still had not answered). Ingest commits are bounded by
// CommitTimeout. The store stays open.
func (e *Engine) Close(ctx context.Context) error {
	var err error
	e.closeOnce.Do(func() {
		close(e.stopping)
		if !e.started {
			e.cancel()
			e.storeCancel()
			e.bgCancel()
			return
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			e.stop()
		}()
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		err = ctx.Err()
		e.stopHard()
		cut := time.AfterFunc(closeGrace/2, e.storeCancel) // the store had its chance to answer
		defer cut.Stop()
		select {
		case <-done:
		case <-time.After(closeGrace):
			err = fmt.Errorf("stop engine: %w %s after the deadline; stopped without it: %w", ErrStoreNotAnswering, closeGrace, err)
		}
	})
	return err
}

// stop is the graceful stop of Close, in order.
func (e *Engine) stop() {
	e.opEvents.close()  // what is queued is ingested before the committer closes
	e.committer.close() // waits for the last group commit
	e.bgCancel()        // poller, maintenance, pruning, health
	e.sched.close()
	e.unclaim(e.sched.drop(func(*hookline.Task) bool { return false }))
	e.sched.running.Wait() // until the attempts finish, or abort ends them
	e.workers.close()
	close(e.outcomes.ch)
	<-e.outcomes.done
	e.bg.Wait()
	close(e.unclaims.ch) // after the poller, which adds to it
	<-e.unclaims.done
	e.healthW.flush() // after the last outcome, with the final health
	e.cancel()
	e.storeCancel()
	e.sender.CloseIdleConnections()
}

// stopHard makes the stop hard: in-flight attempts are aborted (and handed
// back unrecorded), and the outcome writer stops retrying failed writes.
func (e *Engine) stopHard() {
	e.abortOnce.Do(func() {
		close(e.hardStop)
		e.cancel()
	})
}

// Ingest implements api.Engine.
func (e *Engine) Ingest(ctx context.Context, events []*hookline.Event) ([]hookline.IngestResult, error) {
	if e.overBacklog() {
		return nil, hookline.Errorf(hookline.EUNAVAILABLE,
			"the backlog of pending deliveries is over its bound (%d); try again later", e.cfg.MaxBacklog)
	}
	now := e.now()
	for _, ev := range events {
		ev.ID = hookline.NewID(hookline.EventPrefix, now)
		ev.CreatedAt = now
	}
	req := &hookline.IngestRequest{Events: events, MaxDeliveries: max(0, e.cfg.MaxFanout)}
	if err := e.committer.submit(ctx, req); err != nil {
		return nil, err
	}
	return req.Results, nil
}

// ReplayEvent implements api.Engine.
func (e *Engine) ReplayEvent(ctx context.Context, eventID string) (int, error) {
	claim := e.ownedMask() == nil && e.sched.free() > 0
	now := e.now()
	tasks, err := e.store.ReplayEvent(ctx, eventID, claim, now)
	if err != nil {
		return 0, err
	}
	e.pending.Add(int64(len(tasks)))
	if claim {
		e.unclaim(e.sched.admit(tasks))
	} else {
		e.markStored(tasks, now)
	}
	return len(tasks), nil
}

// RetryDelivery implements api.Engine.
func (e *Engine) RetryDelivery(ctx context.Context, id string) (*hookline.Delivery, error) {
	now := e.now()
	d, err := e.store.RetryDelivery(ctx, id, now)
	if err != nil {
		return nil, err
	}
	if e.ownsEndpoint(d.EndpointID) {
		// A claim nothing here holds, older than the rescuer's bound, is
		// freed now, so that the operator's retry is not stranded by it.
		if !e.sched.holds(d.ID) {
			if n, err := e.store.RescueClaims(ctx, []string{d.ID}, now.Add(-e.cfg.RescueAfter)); err != nil {
				e.log.Error("rescue the claim of a delivery retried", "delivery", d.ID, "err", err)
			} else if n > 0 {
				e.metrics.rescued.Add(float64(n))
			}
		}
		e.sched.markStored([]string{d.EndpointID}, now)
	}
	return d, nil
}

// RecoverEndpoint implements api.Engine.
func (e *Engine) RecoverEndpoint(ctx context.Context, endpointID string, since time.Time) (int, error) {
	now := e.now()
	n, err := e.store.RecoverEndpoint(ctx, endpointID, since, now)
	if err != nil {
		return 0, err
	}
	e.pending.Add(int64(n))
	if n > 0 && e.ownsEndpoint(endpointID) {
		e.sched.markStored([]string{endpointID}, now)
	}
	return n, nil
}

// EndpointChanged implements api.Engine.
func (e *Engine) EndpointChanged(id string, ep *hookline.Endpoint) {
	if ep == nil || ep.Deleted {
		e.kickPurge()
		ep = nil
	}
	e.sched.updateEndpoint(id, ep)
	if ep == nil {
		e.epStats.remove(id)
	}
}

// disableEndpoint disables an endpoint for reason (DisabledGone,
// DisabledFailing) and tells its tenant.
func (e *Engine) disableEndpoint(ep *hookline.Endpoint, reason, detail string) {
	disabled := true
	got, err := e.store.UpdateEndpoint(context.Background(), ep.ID,
		hookline.EndpointUpdate{Disabled: &disabled, DisabledReason: &reason}, e.now())
	if err != nil {
		if hookline.ErrorCode(err) != hookline.ENOTFOUND {
			e.log.Error("disable endpoint", "endpoint", ep.ID, "reason", reason, "err", err)
		}
		return
	}
	e.log.Warn("endpoint disabled", "endpoint", ep.ID, "reason", reason, "detail", detail)
	e.sched.updateEndpoint(ep.ID, got)
	e.metrics.disabled.WithLabelValues(reason).Inc()
	e.opEvents.endpoint(got, hookline.EventEndpointDisabled, reason, detail)
}

// Stats implements api.Engine.
func (e *Engine) Stats(ctx context.Context) (hookline.Stats, error) {
	st, err := e.refreshStats(ctx)
	if err != nil {
		return hookline.Stats{}, err
	}
	out := hookline.Stats{StoreStats: st, Node: e.nodeStats()}
	out.DeliveriesPerSecond, out.LatencyMS, out.SuccessRate = e.live.stats(time.Now())
	return out, nil
}

func (e *Engine) nodeStats() hookline.NodeStats {
	held, inFlight := e.sched.counts()
	return hookline.NodeStats{ID: e.cfg.NodeID, Partitions: e.ownedCount(), InMemory: held, InFlight: inFlight}
}

// cachedStats returns the store counts from the last refresh.
func (e *Engine) cachedStats() hookline.StoreStats {
	e.statsMu.Lock()
	defer e.statsMu.Unlock()
	return e.stats
}

// refreshStats reads the store counts and keeps them for cachedStats.
func (e *Engine) refreshStats(ctx context.Context) (hookline.StoreStats, error) {
	st, err := e.store.Stats(ctx)
	if err != nil {
		return st, err
	}
	e.statsMu.Lock()
	e.stats = st
	e.statsMu.Unlock()
	return st, nil
}

// maintain refreshes the pending count every second and the store counts
// every ten, until ctx ends.
func (e *Engine) maintain(ctx context.Context) {
	defer e.bg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for i := 1; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := e.store.PendingCount(ctx); err == nil {
			e.pending.Store(n)
		}
		if i%10 == 0 {
			_, _ = e.refreshStats(ctx)
			e.sched.sweep(e.now().Add(-time.Minute))
			e.epStats.sweep(time.Now().Add(-time.Hour))
		}
	}
}

// prune deletes what is older than the retention, a small batch at a time,
// every minute.
func (e *Engine) prune(ctx context.Context) {
	defer e.bg.Done()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			n, err := e.store.Prune(ctx, e.now().Add(-e.cfg.Retention), 500)
			if err != nil && ctx.Err() == nil {
				e.log.Error("prune", "err", err)
			}
			if err != nil || n < 500 {
				break
			}
			runtime.Gosched() // let ingest have the writer between batches
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// storeSignal returns a channel on which a store that can tell when other
// nodes made work due (PostgreSQL's LISTEN) signals; nil otherwise.
func (e *Engine) storeSignal() <-chan struct{} {
	if s, ok := e.store.(interface{ DueSignal() <-chan struct{} }); ok {
		return s.DueSignal()
	}
	return nil
}
