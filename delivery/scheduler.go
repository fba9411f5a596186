package delivery

import (
	"context"
	"sync"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/internal/limiter"
	"github.com/hookline/hookline/internal/sender"
	"github.com/hookline/hookline/signature"
)

// maxPause is the longest a receiver's Retry-After holds its endpoint back.
const maxPause = time.Hour

// handBackPause is the shortest pause for which an endpoint's queued tasks
// go back to the store rather than wait in memory.
const handBackPause = 10 * time.Second

// schedConfig is what a scheduler needs.
type schedConfig struct {
	capacity    int   // most tasks held in memory
	capBytes    int64 // most payload bytes held in memory (0: no bound but capacity)
	maxInFlight int   // most requests in flight at once, all endpoints together
	perEndpoint int   // an endpoint's max_in_flight when it sets none
	breaker     limiter.Breaker
	disableFor  time.Duration // failing this long with no success disables an endpoint
	now         func() time.Time
	// base is the context every attempt runs under (the engine's: a hard
	// stop aborts them all); each partition's attempts run under a child
	// of it, cancelled when the partition is revoked.
	base context.Context
	// start runs a job on a goroutine of its own; the scheduler counts it
	// in running first.
	start func(j *job)
	// wake tells the poller that an endpoint with work in the store can
	// take some (room freed, circuit closed, pause over). It must not block.
	wake func()
	// profile makes the request profile of an endpoint with request
	// options (sender.Sender.Profile); nil makes none.
	profile func(*hookline.Endpoint) (*sender.Profile, error)
	// owned returns the partitions the node dispatches, as a mask, or nil
	// for all; when owned itself is nil, all are. admit reads it under the
	// scheduler's lock, so that a task claimed while its partition was
	// being lost is either admitted before the loss drops the partition's
	// tasks, or rejected.
	owned func() []bool
}

// job is one attempt to make: a task, its endpoint's state, the snapshot
// and signers to send it with (taken under the lock, so the sending
// goroutine reads no shared state), the context of its partition, and
// whether it is the probe of an open circuit.
type job struct {
	tasks  []*hookline.Task // one, or a batch
	e      *epState
	ctx    context.Context // cancelled when the partition is revoked
	ep     *hookline.Endpoint
	signer *signature.Signer
	prev   *signature.Signer // ep's previous secret; it signs too until it expires
	// profile and profileErr are the endpoint's request profile (nil for
	// plain requests) and why it could not be made ("" when it could).
	profile    *sender.Profile
	profileErr string
	probe      bool
	mark       uint64 // the rate limiter's mark of the send; 0 when not limited
}

// scheduler holds the deliveries this node has in memory and decides what
// is sent when. Each endpoint has its own queue and limits (epState); the
// endpoints that can send now wait in a ring per tenant, and the tenants in
// a ring of their own, so that work is taken tenant by tenant, then
// endpoint by endpoint, one request at a time.
//
// A request is a goroutine, not a worker slot: capacity follows the work.
// Requests in flight are bounded overall (maxInFlight); once half of that
// bound is taken, an endpoint may only add requests while it has fewer than
// its fair share, and the last quarter goes only to endpoints with none in
// flight, so endpoints that hang cannot take the room a healthy one needs.
// A goroutine that finishes a request takes the next job itself.
type scheduler struct {
	cfg schedConfig

	mu        sync.Mutex
	eps       map[string]*epState
	tenants   map[string]*tenantQueue
	ready     ring[*tenantQueue]
	deferred  []*epState          // sendable, but over their fair share of a full pool
	held      map[string]struct{} // delivery IDs queued or in flight
	heldBytes int64               // their taskBytes
	settling  map[string]struct{} // delivery IDs attempted whose outcomes are not written yet
	queued    int                 // endpoint states holding tasks
	inFlight  int
	busy      int // endpoints with requests in flight
	closed    bool
	running   sync.WaitGroup

	deadline time.Time // no request starts at or after it (zero: none)
	parts    [hookline.Partitions]partition

	hold      idSet // endpoints ingest must not claim for
	block     idSet // those of them that take no new work at all (an open circuit, a long pause)
	wantsRoom bool  // the poller waits for room in memory
}

// partition is the context the attempts of one partition run under.
type partition struct {
	ctx    context.Context // nil until an attempt needs it
	cancel context.CancelFunc
}

func newScheduler(cfg schedConfig) *scheduler {
	if cfg.base == nil {
		cfg.base = context.Background()
	}
	s := &scheduler{
		cfg:      cfg,
		eps:      make(map[string]*epState),
		tenants:  make(map[string]*tenantQueue),
		held:     make(map[string]struct{}),
		settling: make(map[string]struct{}),
	}
	return s
}

// context returns the context of a partition's attempts. The caller holds
// s.mu.
func (s *scheduler) context(p int) context.Context {
	pc := &s.parts[p]
	if pc.ctx == nil {
		pc.ctx, pc.cancel = context.WithCancel(s.cfg.base)
	}
	return pc.ctx
}

// state returns the state of an endpoint, made on first use, and updates
// its snapshot from ep when ep is not nil. The caller holds s.mu.
func (s *scheduler) state(id string, ep *hookline.Endpoint) *epState {
	e := s.eps[id]
	if e == nil {
		e = &epState{
			id:        id,
			partition: hookline.PartitionOf(id),
			conc:      limiter.NewConcurrency(s.cfg.perEndpoint),
			rate:      limiter.NewRate(0),
			brk:       s.cfg.breaker,
		}
		s.eps[id] = e
	}
	if ep != nil {
		if e.tenant == nil {
			tq := s.tenants[ep.Tenant]
			if tq == nil {
				tq = &tenantQueue{name: ep.Tenant}
				s.tenants[ep.Tenant] = tq
			}
			tq.eps++
			e.tenant = tq
		}
		if e.setEndpoint(ep, &s.cfg) {
			e.reset()
		}
	}
	return e
}

// taskOverhead is what a held task costs in memory beside its payload: the
// Task, its IDs and the queue's bookkeeping, roughly.
const taskOverhead = 512

// taskBytes is what a held task counts against capBytes. Deliveries of one
// event share its payload in memory, so this errs on the safe side.
func taskBytes(t *hookline.Task) int64 { return int64(len(t.Payload)) + taskOverhead }

// keep and unhold add a task to, and take it from, what is held. The caller
// holds s.mu.
func (s *scheduler) keep(t *hookline.Task) {
	s.held[t.DeliveryID] = struct{}{}
	s.heldBytes += taskBytes(t)
}

func (s *scheduler) unhold(t *hookline.Task) {
	if _, ok := s.held[t.DeliveryID]; ok {
		delete(s.held, t.DeliveryID)
		s.heldBytes -= taskBytes(t)
	}
}

// used returns how full memory is, in tasks: the tasks held, or their
// bytes in proportion of capBytes to capacity when that is more, so that
// 50,000 large payloads cannot fill the heap. The caller holds s.mu.
func (s *scheduler) used() int {
	n := len(s.held)
	if b := s.cfg.capBytes; b > 0 {
		n = max(n, int(s.heldBytes*int64(s.cfg.capacity)/b))
	}
	return n
}

// reserve returns the room in memory, past its capacity, that only
// deliveries of a priority above the default may take: an eighth, so that
// they need not wait in the store behind a backlog that fills memory.
func (s *scheduler) reserve() int { return max(1, s.cfg.capacity/8) }

// limitOf returns how full memory may be for t to be taken in: the
// capacity, and the reserve besides for a priority above the default.
func (s *scheduler) limitOf(t *hookline.Task) int {
	if t.Priority > hookline.DefaultPriority {
		return s.cfg.capacity + s.reserve()
	}
	return s.cfg.capacity
}

// free returns how many more tasks of the default priority fit in memory
// (negative when higher priorities use the reserve).
func (s *scheduler) free() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.capacity - s.used()
}

// counts returns how many tasks are held and how many are in flight.
func (s *scheduler) counts() (held, inFlight int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held), s.inFlight
}

// capOf returns the most tasks an endpoint may hold in memory: a quarter of
// the memory queue, or ten seconds of its rate when it is rate-limited.
func (s *scheduler) capOf(e *epState) int {
	c := max(1, s.cfg.capacity/4)
	if r := e.rate.Limit(); r > 0 {
		c = min(c, max(64, int(r*10)))
	}
	return c
}

// room returns how many more tasks an endpoint can take into memory now:
// none while its circuit is open (but the probe's one when it is due) or a
// pause holds it, none past its cap, and, once memory is three-quarters
// full, none past its fair share of it. The caller holds s.mu.
func (s *scheduler) room(e *epState, now time.Time) int {
	free := s.cfg.capacity - s.used()
	if free <= 0 {
		return 0
	}
	if e.disabled() {
		return free // its tasks fail at once: let them drain
	}
	switch e.brk.State() {
	case limiter.HalfOpen:
		return 0
	case limiter.Open:
		if ok, _ := e.brk.Ready(now); !ok || e.held > 0 {
			return 0
		}
		return 1
	}
	if e.paused(now) {
		return 0
	}
	limit := s.capOf(e)
	if s.used() > s.cfg.capacity*3/4 {
		limit = min(limit, max(64, s.cfg.capacity/(4*max(1, s.queued))))
	}
	return max(0, min(limit-e.held, free))
}

// blocked reports whether an endpoint refuses new tasks into memory: its
// circuit is open (and no probe is due) or half-open, or a long pause holds
// it. Its tasks wait in the store instead.
func (s *scheduler) blocked(e *epState, now time.Time) bool {
	if e.disabled() {
		return false
	}
	switch e.brk.State() {
	case limiter.HalfOpen:
		return true
	case limiter.Open:
		ok, _ := e.brk.Ready(now)
		return !ok || e.held > 0
	}
	return e.pausedUntil.Sub(now) > handBackPause
}

// sendable reports whether an endpoint can send a request now, as far as
// its own limits go; if not, at is when a time-based limit ends (zero: the
// end of a request in flight decides).
func (s *scheduler) sendable(e *epState, now time.Time) (ok bool, at time.Time) {
	if e.tasks.len() == 0 {
		return false, time.Time{}
	}
	if e.disabled() {
		return true, time.Time{}
	}
	if b := e.batching(); b != nil {
		if ok, at := e.tasks.ready(b.MaxEvents, time.Duration(b.MaxWaitMS)*time.Millisecond, now); !ok {
			return false, at
		}
	}
	if full(e) {
		return false, time.Time{}
	}
	if e.paused(now) {
		return false, e.pausedUntil
	}
	if ok, at := e.brk.Ready(now); !ok {
		return false, at
	}
	return e.rate.Ready(now)
}

// full reports whether an endpoint has no slot in flight for its next
// task: its concurrency limit is reached, or only the last slot is left and
// the task's priority is below the default. That slot is left free (when
// the limit is above one) so that a backlog sent at a low priority never
// holds every slot, and a delivery of the default priority or above, put at
// the head of the queue, goes as soon as it comes instead of after a
// request of the backlog. The queue's head is looked at only then.
func full(e *epState) bool {
	n := e.conc.Limit()
	if e.inFlight >= n {
		return true
	}
	return n > 1 && e.inFlight == n-1 && e.tasks.headPriority() < hookline.DefaultPriority
}

// fair reports whether an endpoint may add a request to the pool: always
// while the pool is less than half full; then only below its fair share of
// the bound (the bound divided among the endpoints with requests in
// flight, rounded up); and in the last quarter only if it has none in
// flight, so that endpoints holding requests (hanging receivers) can never
// take the room of one that has none.
func (s *scheduler) fair(e *epState) bool {
	g := s.cfg.maxInFlight
	switch {
	case s.inFlight < g/2:
		return true
	case s.inFlight < g-g/4:
		busy := max(1, s.busy)
		return e.inFlight < (g+busy-1)/busy
	}
	return e.inFlight == 0
}

// markReady puts an endpoint in its tenant's ring if it can send now, or
// arms its timer for when it can. The caller holds s.mu.
func (s *scheduler) markReady(e *epState, now time.Time) {
	if e.inReady {
		return
	}
	ok, at := s.sendable(e, now)
	if !ok {
		if !at.IsZero() {
			s.arm(e, at, now)
		}
		return
	}
	e.inReady = true
	tq := e.tenant
	tq.ready.push(e)
	if !tq.inReady {
		tq.inReady = true
		s.ready.push(tq)
	}
}

// arm makes the endpoint's timer fire at at, unless it fires earlier.
func (s *scheduler) arm(e *epState, at, now time.Time) {
	if !e.timerAt.IsZero() && !at.Before(e.timerAt) {
		return
	}
	e.timerAt = at
	d := max(at.Sub(now), time.Millisecond)
	if e.timer == nil {
		e.timer = time.AfterFunc(d, func() { s.fire(e) })
	} else {
		e.timer.Reset(d)
	}
}

// fire re-checks an endpoint whose time-based limit ended.
func (s *scheduler) fire(e *epState) {
	s.mu.Lock()
	now := s.cfg.now()
	e.timerAt = time.Time{}
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.markReady(e, now)
	s.updateHold(e, now)
	s.dispatch(now)
	wake := !e.stored.IsZero() && s.room(e, now) > 0
	s.mu.Unlock()
	if wake {
		s.cfg.wake()
	}
}

// wrote tells the rate limiter when a job's request was written, so that
// the time between taking it and writing it (connecting) does not let the
// receiver see more than the limit in a second.
func (s *scheduler) wrote(j *job, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j.e.rate.Wrote(j.mark, s.cfg.now().Add(at.Sub(time.Now())))
}

// next takes the next job, tenant by tenant and endpoint by endpoint, or
// returns nil when nothing can be sent now. The caller holds s.mu.
func (s *scheduler) next(now time.Time) *job {
	if !s.deadline.IsZero() && !now.Before(s.deadline) {
		// The leases may have moved: wait for the leaser. (Attempts in
		// flight past the deadline are aborted by the leaser's watchdog,
		// through Engine.Revoke.)
		return nil
	}
	for s.ready.len() > 0 && s.inFlight < s.cfg.maxInFlight && !s.closed {
		tq := s.ready.pop()
		tq.inReady = false
		for n := tq.ready.len(); n > 0; n-- {
			e := tq.ready.pop()
			e.inReady = false
			if ok, at := s.sendable(e, now); !ok {
				if !at.IsZero() {
					s.arm(e, at, now)
				}
				continue
			}
			if !s.fair(e) {
				s.deferred = append(s.deferred, e)
				continue
			}
			j := s.take(e, now)
			s.markReady(e, now)
			if tq.ready.len() > 0 && !tq.inReady {
				tq.inReady = true
				s.ready.push(tq)
			}
			return j
		}
	}
	return nil
}

// take pops an endpoint's next task as a job and counts it in flight.
func (s *scheduler) take(e *epState, now time.Time) *job {
	n := 1
	if b := e.batching(); b != nil {
		n = b.MaxEvents
	}
	j := &job{tasks: e.tasks.take(n), e: e, ctx: s.context(e.partition), ep: e.ep, signer: e.signer, prev: e.prev,
		profile: e.profile, profileErr: e.profileErr}
	if !e.disabled() {
		j.probe = e.brk.Acquire(now)
		e.probing = e.probing || j.probe
		j.mark = e.rate.Sent(now)
	}
	e.inFlight++
	if e.inFlight == 1 {
		s.busy++
	}
	s.inFlight++
	return j
}

// dispatch starts a goroutine for every job that can go now. The caller
// holds s.mu.
func (s *scheduler) dispatch(now time.Time) {
	for {
		j := s.next(now)
		if j == nil {
			return
		}
		s.running.Add(1)
		s.cfg.start(j)
	}
}

// admit queues tasks, skipping those already held, and starts what can go.
// It returns the tasks it did not take, which the caller gives back to the
// store: those past the memory bound (with the reserve for a priority above
// the default), those of endpoints that refuse new work (an open
// circuit, a long pause), and those of partitions the node no longer owns.
func (s *scheduler) admit(tasks []*hookline.Task) (rejected []*hookline.Task) {
	if len(tasks) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.now()
	var owned []bool
	if s.cfg.owned != nil {
		owned = s.cfg.owned()
	}
	var last *epState
	for i, t := range tasks {
		if _, ok := s.held[t.DeliveryID]; ok {
			continue
		}
		if owned != nil && !owned[t.Partition] {
			// Its partition went between its claim and now: the next
			// owner sends it, once it is unclaimed.
			rejected = append(rejected, t)
			continue
		}
		if _, ok := s.settling[t.DeliveryID]; ok {
			// Attempted, and its outcome not written yet: its claim was
			// freed meanwhile (a takeover of a partition lost and gained
			// again) and made again. Sending it again now would repeat the
			// attempt under the same number: it goes back to the store,
			// for a claim once its outcome is written.
			rejected = append(rejected, t)
			continue
		}
		if s.closed {
			rejected = append(rejected, tasks[i:]...)
			break
		}
		if s.used() >= s.limitOf(t) {
			rejected = append(rejected, t)
			continue
		}
		e := last
		if e == nil || e.id != t.Endpoint.ID {
			if last != nil {
				s.updateHold(last, now)
			}
			e = s.state(t.Endpoint.ID, t.Endpoint)
			last = e
		} else if t.Endpoint != e.ep {
			e.setEndpoint(t.Endpoint, &s.cfg)
		}
		if s.blocked(e, now) {
			rejected = append(rejected, t)
			continue
		}
		s.keep(t)
		s.addHeld(e, 1)
		e.tasks.push(t, e.ep.FIFO())
		e.lastActive = now
		s.markReady(e, now)
	}
	if last != nil {
		s.updateHold(last, now)
	}
	s.dispatch(now)
	return rejected
}

// addHeld changes an endpoint's count of held tasks by n.
func (s *scheduler) addHeld(e *epState, n int) {
	was := e.held
	e.held += n
	switch {
	case was == 0 && e.held > 0:
		s.queued++
	case was > 0 && e.held == 0:
		s.queued--
	}
}

// updateHold keeps the endpoint in the hold set exactly while ingest should
// not claim for it, and in the block set while it takes no new work at all.
// The caller holds s.mu.
func (s *scheduler) updateHold(e *epState, now time.Time) {
	if want := s.room(e, now) <= 0 && !e.disabled(); want != e.holdFlag {
		e.holdFlag = want
		s.hold.put(e.id, want)
	}
	if want := s.blocked(e, now); want != e.blockFlag {
		e.blockFlag = want
		s.block.put(e.id, want)
	}
}

// holdSets returns, as snapshots, the hold set and the block set: the
// endpoints that take no new work at all, which ingest must not claim for
// even with the priority reserve.
func (s *scheduler) holdSets() (hold, block map[string]struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hold.snapshot(), s.block.snapshot()
}

// outcome is what the engine must do after an attempt, beyond recording
// it: tell users, disable the endpoint, give queued tasks back.
type outcome struct {
	opened    bool   // the circuit opened
	recovered bool   // the circuit closed again
	disable   string // disable the endpoint for this reason
	paused    bool   // a Retry-After paused the endpoint
	handBack  []*hookline.Task
	failures  int
}

// complete takes the result of a job: it updates the endpoint's limits,
// breaker and health, releases the job's slot, and returns what the engine
// must do and the next job for the calling goroutine (nil: none). The job's
// tasks settle: they wait for their outcomes to be written (settled). A
// nil r is an attempt aborted (its partition revoked, a hard stop): it
// tells nothing of the receiver, and its tasks go back to the store.
func (s *scheduler) complete(j *job, r *sender.Result) (out outcome, next *job) {
	s.mu.Lock()
	now := s.cfg.now()
	e := j.e
	if r != nil {
		out = s.feedback(j, r, now)
	} else {
		e.brk.Abandon(j.probe)
	}
	e.inFlight--
	if e.inFlight == 0 {
		s.busy--
	}
	s.inFlight--
	if j.probe {
		e.probing = false
	}
	for _, t := range j.tasks {
		s.unhold(t)
		if r != nil {
			s.settling[t.DeliveryID] = struct{}{}
		}
	}
	s.addHeld(e, -len(j.tasks))
	e.lastActive = now
	s.markReady(e, now)
	for _, d := range s.deferred {
		s.markReady(d, now)
	}
	s.deferred = s.deferred[:0]
	s.updateHold(e, now)
	next = s.next(now)
	s.dispatch(now)
	wake := out.recovered || (!e.stored.IsZero() && s.room(e, now) > 0)
	if s.wantsRoom && s.used() <= s.cfg.capacity/2 {
		s.wantsRoom, wake = false, true
	}
	if next != nil {
		s.running.Add(1)
	}
	s.mu.Unlock()
	if wake {
		s.cfg.wake()
	}
	return out, next
}

// congestion reports whether a failed attempt tells of an overloaded
// receiver, which shrinks its concurrency: a timeout, a connection error,
// a 5xx or a 429.
func congestion(r *sender.Result) bool {
	return r.Timeout || r.Kind == sender.KindNetwork || r.StatusCode >= 500 || r.StatusCode == 429
}

// feedback applies an attempt's result to its endpoint. The caller holds
// s.mu.
func (s *scheduler) feedback(j *job, r *sender.Result, now time.Time) (out outcome) {
	e := j.e
	if r.Kind == sender.KindDisabled || r.Kind == sender.KindRefused || r.Aborted {
		// Nothing was sent (disabled, or a destination the guard refuses:
		// not the receiver's doing), or nothing was learnt.
		e.brk.Abandon(j.probe)
		return out
	}
	if r.Success {
		e.conc.Success()
		e.rate.Succeeded(now)
		if e.brk.Success() {
			// Back from an outage: the push-back of the outage is
			// forgotten, and requests in flight grow again from one.
			out.recovered = true
			e.conc.Restart()
			e.rate.Reset()
			e.dirty = true
		}
		t := now
		e.lastSuccess = &t
		if e.failingSince != nil {
			e.failingSince, e.dirty = nil, true
		}
		if now.Sub(e.savedSuccess) > healthSaveInterval {
			e.dirty = true
		}
		return out
	}
	if congestion(r) {
		e.conc.Congested()
	}
	if r.PushBack {
		e.rate.PushedBack(now)
	}
	if r.RetryAfter > 0 {
		if until := now.Add(min(r.RetryAfter, maxPause)); until.After(e.pausedUntil) {
			e.pausedUntil, out.paused, e.dirty = until, true, true
			s.arm(e, until, now)
		}
	}
	if e.failingSince == nil {
		t := now
		e.failingSince, e.dirty = &t, true
	}
	wasOpen := e.brk.State() != limiter.Closed
	if e.brk.Failure(now, j.probe) {
		out.opened, e.dirty = true, true
	} else if j.probe {
		e.dirty = true // reopened, with a longer cooldown
	}
	out.failures = e.brk.Failures()
	if out.opened || (wasOpen && j.probe) || e.pausedUntil.Sub(now) > handBackPause {
		out.handBack = s.drainQueue(e)
	}
	switch {
	case r.Gone:
		out.disable = hookline.DisabledGone
	case s.cfg.disableFor > 0 && now.Sub(*e.failingSince) >= s.cfg.disableFor:
		out.disable = hookline.DisabledFailing
	}
	return out
}

// drainQueue takes an endpoint's queued tasks out of memory and returns
// them, for the store. The caller holds s.mu.
func (s *scheduler) drainQueue(e *epState) []*hookline.Task {
	out := e.tasks.drain()
	for _, t := range out {
		s.unhold(t)
	}
	s.addHeld(e, -len(out))
	return out
}

// settled forgets the deliveries whose outcomes are written now.
func (s *scheduler) settled(outs []hookline.Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range outs {
		delete(s.settling, outs[i].Attempt.DeliveryID)
	}
}

// unheld returns those of ids that nothing in memory holds: neither queued
// nor in flight nor waiting for their outcomes to be written.
func (s *scheduler) unheld(ids []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, id := range ids {
		_, held := s.held[id]
		_, settling := s.settling[id]
		if !held && !settling {
			out = append(out, id)
		}
	}
	return out
}

// holds reports whether a delivery is in memory (queued, in flight, or
// waiting for its outcome to be written).
func (s *scheduler) holds(id string) bool { return len(s.unheld([]string{id})) == 0 }

// revoke aborts the attempts in flight of the partitions for which keep is
// false (their contexts are cancelled: each comes back through complete,
// aborted) and returns their queued tasks, for the store.
func (s *scheduler) revoke(keep func(partition int) bool) []*hookline.Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range s.parts {
		if pc := &s.parts[p]; pc.ctx != nil && !keep(p) {
			pc.cancel()
			pc.ctx, pc.cancel = nil, nil
		}
	}
	var out []*hookline.Task
	for _, e := range s.eps {
		if keep(e.partition) {
			continue
		}
		out = append(out, s.drainQueue(e)...)
		s.updateHold(e, s.cfg.now())
	}
	return out
}

// markStored notes that an endpoint's deliveries wait in the store,
// unclaimed, due at due, once the write that put them there committed.
func (s *scheduler) markStored(ids []string, due time.Time) {
	if len(ids) == 0 {
		return
	}
	s.mu.Lock()
	wake := false
	now := s.cfg.now()
	for _, id := range ids {
		e := s.state(id, nil)
		if e.stored.IsZero() || due.Before(e.stored) {
			e.stored = due
		}
		e.marked = true
		s.updateHold(e, now)
		wake = wake || !due.After(now)
	}
	s.mu.Unlock()
	if wake {
		s.cfg.wake()
	}
}

// putOff makes claimPlan leave an endpoint out until until: its deliveries
// could not be claimed.
func (s *scheduler) putOff(id string, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.eps[id]; e != nil {
		e.putOff = until
	}
}

// discovered records what DueEndpoints found: endpoints of the owned
// partitions (owned nil: all) with work in the store, due at the times given.
func (s *scheduler) discovered(due []hookline.EndpointDue, owned []bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.now()
	for _, d := range due {
		if owned != nil && !owned[d.Partition] {
			continue
		}
		e := s.state(d.EndpointID, nil)
		if e.stored.IsZero() || d.Due.Before(e.stored) {
			e.stored = d.Due
		}
		s.updateHold(e, now)
	}
}

// claimPlan returns what the poller should claim from the store now: for
// each endpoint with due stored work and room, how many; budget bounds the
// total. next is when to look again (zero: when something wakes the
// poller).
func (s *scheduler) claimPlan(now time.Time, budget int) (reqs []hookline.ClaimRequest, next time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	soon := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	type cand struct {
		e    *epState
		room int
	}
	var cands []cand
	for _, e := range s.eps {
		if e.stored.IsZero() {
			continue
		}
		if e.stored.After(now) {
			soon(e.stored)
			continue
		}
		if e.putOff.After(now) {
			soon(e.putOff)
			continue
		}
		r := s.room(e, now)
		if r <= 0 {
			soon(e.brk.ProbeAt())
			if e.paused(now) {
				soon(e.pausedUntil)
			}
			continue
		}
		cands = append(cands, cand{e, r})
	}
	budget = min(budget, s.cfg.capacity-s.used())
	if len(cands) == 0 || budget <= 0 {
		if budget <= 0 && len(cands) > 0 {
			s.wantsRoom = true
		}
		return nil, next
	}
	// Tenant by tenant, then endpoint by endpoint, each a fair share of
	// the budget: a tenant with many endpoints with work in the store gets
	// no more of the memory than one with a few.
	byTenant := make(map[*tenantQueue][]cand)
	var order []*tenantQueue
	for _, c := range cands {
		tq := c.e.tenant
		if _, ok := byTenant[tq]; !ok {
			order = append(order, tq)
		}
		byTenant[tq] = append(byTenant[tq], c)
	}
	share := max(16, budget/len(cands))
	for left := len(cands); left > 0 && budget > 0; {
		for _, tq := range order {
			list := byTenant[tq]
			if len(list) == 0 {
				continue
			}
			if budget <= 0 {
				break
			}
			c := list[0]
			byTenant[tq] = list[1:]
			left--
			n := min(c.room, share, budget)
			budget -= n
			c.e.marked = false
			reqs = append(reqs, hookline.ClaimRequest{EndpointID: c.e.id, Limit: n})
		}
	}
	if len(reqs) < len(cands) {
		soon(now) // more to claim: come back at once
	}
	return reqs, next
}

// claimed records what a claim returned for reqs: the tasks are admitted
// (those refused are returned, for the store), and each endpoint's stored
// due time becomes what the store says is left, unless a write marked more
// meanwhile.
func (s *scheduler) claimed(reqs []hookline.ClaimRequest, res []hookline.ClaimResult) (rejected []*hookline.Task) {
	s.mu.Lock()
	for i, r := range reqs {
		e := s.eps[r.EndpointID]
		if e == nil || i >= len(res) {
			continue
		}
		next := res[i].Next
		if len(res[i].Tasks) > 0 && len(res[i].Tasks) == r.Limit && next.IsZero() {
			// The store may hold more than it could tell of in this
			// transaction's view; look again.
			next = s.cfg.now()
		}
		if e.marked {
			if !next.IsZero() && (e.stored.IsZero() || next.Before(e.stored)) {
				e.stored = next
			}
		} else {
			e.stored = next
		}
	}
	s.mu.Unlock()
	for _, r := range res {
		rejected = append(rejected, s.admit(r.Tasks)...)
	}
	return rejected
}

// waitForRoom asks for the poller to be woken once half the memory is free.
// It reports false when that is already the case.
func (s *scheduler) waitForRoom() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.used() <= s.cfg.capacity/2 {
		return false
	}
	s.wantsRoom = true
	return true
}

// updateEndpoint replaces the snapshot of an endpoint in memory; a nil ep
// (the endpoint was deleted) drops its queued tasks, which the store
// deleted, and its state.
func (s *scheduler) updateEndpoint(id string, ep *hookline.Endpoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.eps[id]
	if e == nil {
		return
	}
	now := s.cfg.now()
	if ep != nil {
		if e.setEndpoint(ep, &s.cfg) {
			e.reset()
		}
		s.markReady(e, now)
		s.updateHold(e, now)
		s.dispatch(now)
		return
	}
	s.drainQueue(e)
	e.stored = time.Time{}
	e.dirty = false
	if e.inFlight == 0 {
		s.forget(e)
	}
}

// forget drops an endpoint's state. The caller holds s.mu; e holds nothing.
func (s *scheduler) forget(e *epState) {
	if s.eps[e.id] != e {
		return
	}
	delete(s.eps, e.id)
	e.profile.Close()
	if e.timer != nil {
		e.timer.Stop()
	}
	if e.holdFlag {
		s.hold.put(e.id, false)
	}
	if e.blockFlag {
		s.block.put(e.id, false)
	}
	if tq := e.tenant; tq != nil {
		if tq.eps--; tq.eps == 0 && !tq.inReady && s.tenants[tq.name] == tq {
			delete(s.tenants, tq.name)
		}
	}
}

// sweep forgets the states of endpoints idle since before idleBefore that
// hold nothing worth keeping, so memory follows the active endpoints.
func (s *scheduler) sweep(idleBefore time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.now()
	for _, e := range s.eps {
		if !e.inReady && e.lastActive.Before(idleBefore) && e.pristine(now) {
			s.forget(e)
		}
	}
}

// drop removes the queued (not in-flight) tasks for which keep is false and
// returns them; states of endpoints whose tasks all go are kept only for
// what is in flight.
func (s *scheduler) drop(keep func(*hookline.Task) bool) []*hookline.Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*hookline.Task
	for _, e := range s.eps {
		e.tasks.filter(keep, func(t *hookline.Task) {
			s.unhold(t)
			s.addHeld(e, -1)
			out = append(out, t)
		})
	}
	return out
}

// lose forgets the endpoints of the partitions for which keep is false,
// returning their health for the store, so that the next owner starts from
// it. Endpoints with requests in flight keep their state until those end.
func (s *scheduler) lose(keep func(partition int) bool) []hookline.EndpointHealth {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.now()
	var out []hookline.EndpointHealth
	for _, e := range s.eps {
		if keep(e.partition) {
			continue
		}
		if e.dirty {
			out = append(out, e.health(now))
			e.dirty = false
		}
		e.stored = time.Time{}
		if e.inFlight == 0 && e.held == 0 {
			s.forget(e)
		}
	}
	return out
}

// restore applies health saved earlier to the endpoints it names.
func (s *scheduler) restore(hs []hookline.EndpointHealth) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range hs {
		e := s.state(h.EndpointID, nil)
		if e.inFlight > 0 || e.dirty {
			continue // this node's own view is newer
		}
		e.restore(h)
	}
}

// dirtyHealth returns the health of every endpoint changed since it was
// last saved, and marks it saved.
func (s *scheduler) dirtyHealth() []hookline.EndpointHealth {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.now()
	var out []hookline.EndpointHealth
	for _, e := range s.eps {
		if !e.dirty {
			continue
		}
		out = append(out, e.health(now))
		e.dirty = false
		if e.lastSuccess != nil {
			e.savedSuccess = *e.lastSuccess
		}
	}
	return out
}

// redirty marks endpoints whose health could not be saved as changed again.
func (s *scheduler) redirty(hs []hookline.EndpointHealth) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range hs {
		if e := s.eps[h.EndpointID]; e != nil {
			e.dirty = true
		}
	}
}

// healthOf returns the live health of an endpoint this node holds.
func (s *scheduler) healthOf(id string) (hookline.EndpointHealth, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.eps[id]
	if e == nil {
		return hookline.EndpointHealth{}, false
	}
	return e.health(s.cfg.now()), true
}

// circuitCounts counts the endpoints in memory by circuit state, and those
// paused by a Retry-After now.
func (s *scheduler) circuitCounts() (c hookline.CircuitCounts, paused int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.now()
	for _, e := range s.eps {
		switch e.brk.State() {
		case limiter.Open:
			c.Open++
		case limiter.HalfOpen:
			c.HalfOpen++
		default:
			c.Closed++
		}
		if e.paused(now) {
			paused++
		}
	}
	return c, paused
}

// limited is one endpoint whose adaptive limits are below their ceiling.
type limited struct {
	id          string
	concurrency int     // the adaptive limit on requests in flight
	max         int     // its ceiling
	rate        float64 // the adaptive rate, 0 when none
}

// limitedEndpoints returns the endpoints whose adaptive limits are lowered.
func (s *scheduler) limitedEndpoints() []limited {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []limited
	for _, e := range s.eps {
		if l, m, r := e.conc.Limit(), e.conc.Max(), e.rate.Adaptive(); l < m || r > 0 {
			out = append(out, limited{id: e.id, concurrency: l, max: m, rate: r})
		}
	}
	return out
}

// setDeadline sets the time from which no request starts, and starts what
// can go when it moves later.
func (s *scheduler) setDeadline(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	later := s.deadline.IsZero() || t.IsZero() || t.After(s.deadline)
	s.deadline = t
	if later && !s.closed {
		s.dispatch(s.cfg.now())
	}
}

// close stops dispatching; jobs in flight finish, queued tasks stay for
// drop. It does not wait.
func (s *scheduler) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, e := range s.eps {
		if e.timer != nil {
			e.timer.Stop()
		}
	}
}
