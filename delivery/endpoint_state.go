package delivery

import (
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/internal/limiter"
	"github.com/hookline/hookline/internal/sender"
	"github.com/hookline/hookline/signature"
)

// epState is what the scheduler knows of one endpoint: its queue of tasks
// in memory, its requests in flight, its limits (adaptive concurrency,
// rate, circuit breaker, Retry-After pause), its health, and whether the
// store holds more of its deliveries. The scheduler's lock guards it.
type epState struct {
	id        string
	tenant    *tenantQueue
	partition int

	ep     *hookline.Endpoint // the newest snapshot seen; nil until a task brings one
	signer *signature.Signer  // nil when the secret does not parse
	secret string             // the secret signer was made from
	// prev signs beside signer while the snapshot's previous secret has not
	// expired (a rotation); nil when there is none or it does not parse.
	prev       *signature.Signer
	prevSecret string // the secret prev was made from
	// profile is how requests to the endpoint differ from plain ones (nil:
	// they do not), made from the snapshot's options; profileErr says why
	// none could be made when they do not load.
	profile    *sender.Profile
	profileErr string

	tasks    taskQueue
	held     int // tasks queued or in flight
	inFlight int
	inReady  bool // in its tenant's ready ring
	probing  bool // the breaker's probe is in flight

	conc        *limiter.Concurrency
	rate        *limiter.Rate
	brk         limiter.Breaker
	pausedUntil time.Time // a Retry-After holds every delivery back until then
	// putOff: a claim of its deliveries failed alone (a poison row); the
	// poller does not claim for it again before then.
	putOff time.Time

	failingSince *time.Time // first failure since the last success
	lastSuccess  *time.Time
	savedSuccess time.Time // lastSuccess as last saved
	dirty        bool      // health changed since it was last saved

	// stored is the earliest known due time of the endpoint's pending
	// deliveries that wait in the store unclaimed; zero when none are known.
	// marked tells a claim in progress that stored was set meanwhile.
	stored time.Time
	marked bool

	timer   *time.Timer // re-checks readiness when a time-based limit ends
	timerAt time.Time

	holdFlag   bool      // in the scheduler's hold set
	blockFlag  bool      // in the scheduler's block set
	lastActive time.Time // last admit or completion, for forgetting idle states
}

// setEndpoint replaces the snapshot with ep if it is at least as new (by
// Version: the order of the store's endpoint writes, not the writers' clocks), and
// applies its limits. It reports whether ep re-enabled the endpoint.
func (e *epState) setEndpoint(ep *hookline.Endpoint, cfg *schedConfig) (reenabled bool) {
	if e.ep != nil && ep != e.ep && ep.Version < e.ep.Version {
		return false
	}
	reenabled = e.ep != nil && e.ep.Disabled && !ep.Disabled
	if e.ep == nil || !sender.SameProfile(e.ep, ep) {
		e.setProfile(ep, cfg)
	}
	e.ep = ep
	oldSigner, oldSecret := e.signer, e.secret
	if e.signer == nil || e.secret != ep.Secret {
		e.signer, _ = signature.NewSigner(ep.Secret)
		e.secret = ep.Secret
	}
	switch {
	case ep.PreviousSecret == "":
		e.prev, e.prevSecret = nil, ""
	case ep.PreviousSecret == e.prevSecret:
	case ep.PreviousSecret == oldSecret && oldSigner != nil:
		e.prev, e.prevSecret = oldSigner, oldSecret // a rotation: the secret replaced signs on
	default:
		e.prev, _ = signature.NewSigner(ep.PreviousSecret)
		e.prevSecret = ep.PreviousSecret
	}
	e.conc.SetMax(maxInFlight(ep, cfg.perEndpoint))
	if e.rate.Static() != ep.RateLimit {
		e.rate.SetStatic(ep.RateLimit)
	}
	return reenabled
}

// setProfile makes the request profile of ep, in place of the one kept
// (whose idle connections close).
func (e *epState) setProfile(ep *hookline.Endpoint, cfg *schedConfig) {
	e.profile.Close()
	e.profile, e.profileErr = nil, ""
	if !ep.HasRequestOptions() || cfg.profile == nil {
		return
	}
	p, err := cfg.profile(ep)
	if err != nil {
		e.profileErr = err.Error()
		return
	}
	e.profile = p
}

// maxInFlight returns an endpoint's cap on concurrent requests.
func maxInFlight(ep *hookline.Endpoint, defMax int) int {
	if ep != nil && ep.MaxInFlight > 0 {
		return ep.MaxInFlight
	}
	return defMax
}

// batching returns the endpoint's batch settings, nil when it does not
// batch.
func (e *epState) batching() *hookline.Batch {
	if e.ep == nil {
		return nil
	}
	return e.ep.Batch
}

// disabled reports whether the endpoint's snapshot is disabled (or its
// secret unusable): its tasks then fail at once, whatever the limits.
func (e *epState) disabled() bool { return e.ep != nil && (e.ep.Disabled || e.signer == nil) }

// paused reports whether a Retry-After holds the endpoint at now.
func (e *epState) paused(now time.Time) bool { return now.Before(e.pausedUntil) }

// health returns the endpoint's health as the API shows it and the store
// keeps it.
func (e *epState) health(now time.Time) hookline.EndpointHealth {
	h := hookline.EndpointHealth{
		EndpointID:          e.id,
		Circuit:             circuitOf(e.brk.State()),
		ConsecutiveFailures: e.brk.Failures(),
		FailingSince:        e.failingSince,
		LastSuccessAt:       e.lastSuccess,
		UpdatedAt:           now,
	}
	if e.paused(now) {
		p := e.pausedUntil
		h.PausedUntil = &p
	}
	h.OpenedAt, h.Cooldown = e.brk.OpenedAt()
	return h
}

// restore sets the health saved by an earlier owner.
func (e *epState) restore(h hookline.EndpointHealth) {
	e.brk.Restore(stateOf(h.Circuit), h.ConsecutiveFailures, h.OpenedAt, h.Cooldown)
	e.failingSince, e.lastSuccess = h.FailingSince, h.LastSuccessAt
	if h.LastSuccessAt != nil {
		e.savedSuccess = *h.LastSuccessAt
	}
	if h.PausedUntil != nil {
		e.pausedUntil = *h.PausedUntil
	}
}

// reset forgets every failure: the endpoint was enabled again.
func (e *epState) reset() {
	e.brk.Reset()
	e.failingSince, e.pausedUntil = nil, time.Time{}
	e.conc.Restart()
	e.rate.Reset()
	e.dirty = true
}

// pristine reports whether the state holds nothing worth keeping: no work,
// no limit lowered, a healthy closed circuit, everything saved.
func (e *epState) pristine(now time.Time) bool {
	return e.held == 0 && e.inFlight == 0 && e.stored.IsZero() && !e.dirty &&
		e.brk.State() == limiter.Closed && e.brk.Failures() == 0 && !e.paused(now) &&
		e.conc.Limit() == e.conc.Max() && e.rate.Adaptive() == 0
}

func circuitOf(s limiter.State) hookline.Circuit {
	switch s {
	case limiter.Open:
		return hookline.CircuitOpen
	case limiter.HalfOpen:
		return hookline.CircuitHalfOpen
	}
	return hookline.CircuitClosed
}

func stateOf(c hookline.Circuit) limiter.State {
	switch c {
	case hookline.CircuitOpen:
		return limiter.Open
	case hookline.CircuitHalfOpen:
		return limiter.HalfOpen
	}
	return limiter.Closed
}

// tenantQueue is a tenant's ring of ready endpoints.
type tenantQueue struct {
	name    string
	ready   ring[*epState]
	inReady bool // in the scheduler's ring of tenants
	eps     int  // endpoint states of the tenant
}

// ring is a growable FIFO queue.
type ring[T any] struct {
	buf        []T
	head, size int
}

func (r *ring[T]) len() int { return r.size }

func (r *ring[T]) push(v T) {
	if r.size == len(r.buf) {
		n := make([]T, max(8, 2*len(r.buf)))
		for i := range r.size {
			n[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = n, 0
	}
	r.buf[(r.head+r.size)%len(r.buf)] = v
	r.size++
}

// peek returns the first element; the ring must not be empty.
func (r *ring[T]) peek() T { return r.buf[r.head] }

func (r *ring[T]) pop() T {
	var zero T
	v := r.buf[r.head]
	r.buf[r.head] = zero
	r.head = (r.head + 1) % len(r.buf)
	r.size--
	if r.size == 0 && len(r.buf) > 64 {
		r.buf, r.head = nil, 0 // give back the memory of a burst
	}
	return v
}
