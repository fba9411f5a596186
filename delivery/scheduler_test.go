package delivery

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/internal/limiter"
	"github.com/hookline/hookline/internal/sender"
)

// testSched is a scheduler whose jobs are collected, not run, with an
// injected clock.
type testSched struct {
	*scheduler
	mu   sync.Mutex
	now  time.Time
	jobs []*job
}

func newTestSched(capacity, maxInFlight, perEndpoint int) *testSched {
	ts := &testSched{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	ts.scheduler = newScheduler(schedConfig{
		capacity: capacity, maxInFlight: maxInFlight, perEndpoint: perEndpoint,
		breaker: limiter.Breaker{Threshold: 3, Cooldown: time.Minute, MaxCooldown: time.Hour},
		now:     func() time.Time { ts.mu.Lock(); defer ts.mu.Unlock(); return ts.now },
		start:   func(j *job) { ts.jobs = append(ts.jobs, j) }, // under s.mu
		wake:    func() {},
	})
	return ts
}

// started takes the jobs started so far.
func (ts *testSched) started() []*job {
	ts.scheduler.mu.Lock()
	defer ts.scheduler.mu.Unlock()
	js := ts.jobs
	ts.jobs = nil
	return js
}

// finish completes a job with r; the job the scheduler hands back, if any,
// counts as started.
func (ts *testSched) finish(j *job, r sender.Result) outcome {
	out, next := ts.complete(j, &r)
	// The outcomes are written at once, as the engine's writer does.
	outs := make([]hookline.Outcome, len(j.tasks))
	for i, t := range j.tasks {
		outs[i].Attempt.DeliveryID = t.DeliveryID
	}
	ts.settled(outs)
	if next != nil {
		ts.scheduler.mu.Lock()
		ts.jobs = append(ts.jobs, next)
		ts.scheduler.mu.Unlock()
	}
	return out
}

func epOf(id, tenant string) *hookline.Endpoint {
	return &hookline.Endpoint{ID: id, Tenant: tenant, URL: "https://example.com/" + id,
		Secret: "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}
}

// withPriority sets the priority of every task and returns them.
func withPriority(tasks []*hookline.Task, p int) []*hookline.Task {
	for _, t := range tasks {
		t.Priority = p
	}
	return tasks
}

func tasksOf(ep *hookline.Endpoint, n int) []*hookline.Task {
	out := make([]*hookline.Task, n)
	for i := range out {
		out[i] = &hookline.Task{DeliveryID: fmt.Sprintf("%s-%d", ep.ID, i), Endpoint: ep, Partition: ep.Partition(),
			Priority: hookline.DefaultPriority}
	}
	return out
}

var (
	ok      = sender.Result{Success: true, Kind: sender.KindSuccess, StatusCode: 200}
	timeout = sender.Result{Kind: sender.KindTimeout, Timeout: true, Err: "timeout"}
)

// TestSchedulerRoundRobinTenantsThenEndpoints checks the order work is
// taken in when the pool is the limit: tenant by tenant, then endpoint by
// endpoint, so a tenant with many endpoints gets no more than one with one.
func TestSchedulerRoundRobinTenantsThenEndpoints(t *testing.T) {
	ts := newTestSched(1000, 1, 10)
	big := []*hookline.Endpoint{epOf("a1", "big"), epOf("a2", "big"), epOf("a3", "big")}
	small := epOf("b1", "small")
	for _, ep := range big {
		ts.admit(tasksOf(ep, 10))
	}
	ts.admit(tasksOf(small, 10))
	var order []string
	for range 8 {
		js := ts.started()
		if len(js) != 1 {
			t.Fatalf("%d jobs started with a pool of 1", len(js))
		}
		order = append(order, js[0].e.ep.Tenant)
		ts.finish(js[0], ok)
	}
	// The first went while only big had work; then the tenants take turns.
	want := []string{"big", "small", "big", "small", "big", "small", "big"}
	if fmt.Sprint(order[1:]) != fmt.Sprint(want) {
		t.Fatalf("served %v, want the tenants in turn after the first %v", order, want)
	}
}

// TestSchedulerFairShare checks that endpoints that hold requests (hanging
// receivers) cannot take the whole pool: past half of it, an endpoint adds
// requests only below its fair share, and a newcomer always gets one.
func TestSchedulerFairShare(t *testing.T) {
	ts := newTestSched(100000, 64, 16)
	for i := range 10 { // 10 × 16 = 160 wanted, pool of 64
		ts.admit(tasksOf(epOf(fmt.Sprint("hang", i), "t"), 100))
	}
	hung := len(ts.started())
	if hung >= 64 {
		t.Fatalf("hanging endpoints took %d of a pool of 64", hung)
	}
	ts.admit(tasksOf(epOf("healthy", "u"), 5))
	js := ts.started()
	if len(js) == 0 || js[0].e.id != "healthy" {
		t.Fatalf("a healthy endpoint got %d requests beside %d hanging ones", len(js), hung)
	}
}

// TestSchedulerFillsPoolWithManyBusyEndpoints checks that healthy
// endpoints, more of them than half the pool, still fill the pool up to
// the reserve kept for endpoints with nothing in flight: the fair share
// past half of the pool is the pool divided among the busy endpoints. (It
// was half of that: with 40 busy endpoints and a pool of 64, a node sent
// 40 requests at a time, not 48.)
func TestSchedulerFillsPoolWithManyBusyEndpoints(t *testing.T) {
	ts := newTestSched(100000, 64, 16)
	// Events fan out to every endpoint: the tasks come event by event.
	var eps [][]*hookline.Task
	for i := range 40 {
		eps = append(eps, tasksOf(epOf(fmt.Sprint("ep", i), "t"), 100))
	}
	var tasks []*hookline.Task
	for ev := range 100 {
		for _, ts := range eps {
			tasks = append(tasks, ts[ev])
		}
	}
	ts.admit(tasks)
	if n := len(ts.started()); n != 48 {
		t.Fatalf("%d requests in flight for 40 endpoints with a pool of 64, want 48 (the last quarter is the reserve)", n)
	}
}

// TestSchedulerAdaptiveConcurrency checks that timeouts shrink an
// endpoint's requests in flight to one and successes grow them back.
func TestSchedulerAdaptiveConcurrency(t *testing.T) {
	ts := newTestSched(100000, 1000, 16)
	ts.breakerOff()
	ep := epOf("e", "t")
	ts.admit(tasksOf(ep, 2000))
	js := ts.started()
	if len(js) != 16 {
		t.Fatalf("%d in flight at first, want max_in_flight 16", len(js))
	}
	// Each wave of timeouts (a window) halves it: 16 → 8 → 4 → 2 → 1.
	for _, want := range []int{8, 4, 2, 1, 1} {
		for _, j := range js {
			ts.finish(j, timeout)
		}
		js = ts.started()
		if len(js) != want {
			t.Fatalf("%d in flight after a wave of timeouts, want %d", len(js), want)
		}
	}
	// Successes, one at a time as the limit allows, grow it back.
	inFlight := js
	for round := 0; round < 400 && len(inFlight) < 16; round++ {
		var next []*job
		for _, j := range inFlight {
			ts.finish(j, ok)
		}
		next = append(next, ts.started()...)
		inFlight = next
	}
	if len(inFlight) != 16 {
		t.Fatalf("%d in flight after many successes, want back to 16", len(inFlight))
	}
}

// breakerOff raises the breaker's threshold out of reach.
func (ts *testSched) breakerOff() { ts.cfg.breaker.Threshold = 1 << 30 }

// TestSchedulerRetryAfterClampedToAnHour checks that a Retry-After pauses
// the endpoint, and that a pause longer than an hour is clamped to one.
func TestSchedulerRetryAfterClampedToAnHour(t *testing.T) {
	ts := newTestSched(1000, 100, 1)
	ts.breakerOff()
	ep := epOf("e", "t")
	ts.admit(tasksOf(ep, 3))
	js := ts.started()
	out := ts.finish(js[0], sender.Result{StatusCode: 429, PushBack: true, RetryAfter: 5 * time.Hour, Kind: sender.KindHTTP})
	if !out.paused {
		t.Fatal("a 429 with Retry-After did not pause the endpoint")
	}
	if len(out.handBack) != 2 {
		t.Fatalf("%d queued tasks handed back for a long pause, want 2", len(out.handBack))
	}
	h, _ := ts.healthOf("e")
	if h.PausedUntil == nil || !h.PausedUntil.Equal(ts.now.Add(time.Hour)) {
		t.Fatalf("paused until %v, want an hour from now", h.PausedUntil)
	}
	if len(ts.started()) != 0 {
		t.Fatal("a request was started while paused")
	}
	if r := ts.room(ts.eps["e"], ts.now); r != 0 {
		t.Fatalf("room %d while paused", r)
	}
}

// TestSchedulerSettlingRefused checks that a delivery attempted whose
// outcome is not written yet is refused when it comes back (its claim was
// reset and made again), so that the attempt is not made twice under one
// number, and is taken again once its outcome is written.
func TestSchedulerSettlingRefused(t *testing.T) {
	ts := newTestSched(1000, 100, 1)
	ep := epOf("e", "t")
	ts.admit(tasksOf(ep, 1))
	js := ts.started()
	ts.complete(js[0], &ok)
	if rej := ts.admit(tasksOf(ep, 1)); len(rej) != 1 {
		t.Fatalf("a delivery whose outcome is not written was taken again")
	}
	if ids := ts.unheld([]string{js[0].tasks[0].DeliveryID}); len(ids) != 0 {
		t.Fatalf("a delivery whose outcome is not written is not held: the rescuer would free it")
	}
	ts.settled([]hookline.Outcome{{Attempt: hookline.Attempt{DeliveryID: js[0].tasks[0].DeliveryID}}})
	if rej := ts.admit(tasksOf(ep, 1)); len(rej) != 0 {
		t.Fatalf("a delivery whose outcome is written was refused")
	}
}

// TestSchedulerOpenCircuitHoldsIngest checks that an open circuit hands its
// queue back, puts the endpoint in the hold set (ingest leaves its new
// deliveries in the store) and refuses tasks until the probe is due; then
// it takes exactly one, the probe.
func TestSchedulerOpenCircuitHoldsIngest(t *testing.T) {
	ts := newTestSched(1000, 100, 1)
	ep := epOf("e", "t")
	ts.admit(tasksOf(ep, 10))
	var handed int
	for range 3 {
		js := ts.started()
		out := ts.finish(js[0], sender.Result{StatusCode: 500, Kind: sender.KindHTTP})
		handed += len(out.handBack)
		if out.opened && handed != 7 {
			t.Fatalf("%d tasks handed back when the circuit opened, want the 7 queued", handed)
		}
	}
	if hold, _ := ts.holdSets(); !has(hold, "e") {
		t.Fatal("an open circuit is not in the hold set")
	}
	if rej := ts.admit(tasksOf(ep, 2)); len(rej) != 2 {
		t.Fatalf("an open circuit took %d tasks", 2-len(rej))
	}
	ts.mu.Lock()
	ts.now = ts.now.Add(time.Minute)
	ts.mu.Unlock()
	if r := ts.room(ts.eps["e"], ts.now); r != 1 {
		t.Fatalf("room %d when the probe is due, want 1", r)
	}
	if rej := ts.admit(tasksOf(ep, 2)); len(rej) != 1 {
		t.Fatalf("%d refused when the probe is due, want all but one", len(rej))
	}
	js := ts.started()
	if len(js) != 1 || !js[0].probe {
		t.Fatalf("started %d jobs, want the one probe", len(js))
	}
	out := ts.finish(js[0], ok)
	if !out.recovered {
		t.Fatal("a successful probe did not close the circuit")
	}
	if hold, _ := ts.holdSets(); has(hold, "e") {
		t.Fatal("a closed circuit stays in the hold set")
	}
}

// TestSchedulerDeadline checks that no request starts at or after the
// dispatch deadline, and that moving it later starts what waited.
func TestSchedulerDeadline(t *testing.T) {
	ts := newTestSched(1000, 100, 4)
	ts.setDeadline(ts.now)
	ts.admit(tasksOf(epOf("e", "t"), 3))
	if js := ts.started(); len(js) != 0 {
		t.Fatalf("%d requests started past the deadline", len(js))
	}
	ts.setDeadline(ts.now.Add(time.Second))
	if js := ts.started(); len(js) != 3 {
		t.Fatalf("%d requests started once the deadline moved, want 3", len(js))
	}
}

// TestSchedulerMemoryBytes checks the bound on payload bytes held: large
// payloads fill memory long before the task count does, a refused task
// goes back to the store, and finishing work frees its bytes.
func TestSchedulerMemoryBytes(t *testing.T) {
	ts := newTestSched(1000, 1, 1000)
	ts.cfg.capBytes = 10 * (64<<10 + taskOverhead) // ten 64 KiB payloads
	ep := epOf("e", "t")
	tasks := tasksOf(ep, 20)
	for _, task := range tasks {
		task.Payload = make([]byte, 64<<10)
	}
	rej := ts.admit(tasks)
	if len(rej) != 10 {
		t.Fatalf("%d of 20 large tasks refused, want 10 (the bytes of 10 fill memory)", len(rej))
	}
	if f := ts.free(); f > 0 {
		t.Fatalf("free %d with the bytes bound reached", f)
	}
	js := ts.started()
	if len(js) != 1 {
		t.Fatalf("%d jobs started, want 1", len(js))
	}
	ts.finish(js[0], ok)
	if rej := ts.admit(rej[:2]); len(rej) != 1 {
		t.Fatalf("after one finished, %d of 2 refused, want 1", len(rej))
	}
	// Small payloads are bounded by count as before.
	small := newTestSched(5, 1, 1000)
	small.cfg.capBytes = 1 << 30
	if rej := small.admit(tasksOf(epOf("s", "t"), 8)); len(rej) != 3 {
		t.Fatalf("%d of 8 small tasks refused, want 3", len(rej))
	}
}

// TestSchedulerPriorityReserve checks the reserve of memory past its
// capacity: a full queue refuses the default priority but takes an eighth
// more of a higher one, and no more; an endpoint at its cap is in the hold
// set but not in the block set, which only an open circuit or a long pause
// puts it in.
func TestSchedulerPriorityReserve(t *testing.T) {
	ts := newTestSched(80, 1, 1)
	ep := epOf("e", "t")
	low := withPriority(tasksOf(ep, 80), 1)
	if rej := ts.admit(low); len(rej) != 0 {
		t.Fatalf("%d of 80 refused with room for 80", len(rej))
	}
	hold, block := ts.holdSets()
	if _, ok := hold["e"]; !ok {
		t.Fatal("an endpoint with no room is not in the hold set")
	}
	if _, ok := block["e"]; ok {
		t.Fatal("an endpoint with no room but a closed circuit is in the block set")
	}
	more := tasksOf(epOf("f", "t"), 14)
	for i, task := range more {
		task.Priority = 9
		if i < 2 {
			task.Priority = hookline.DefaultPriority
		}
	}
	rej := ts.admit(more)
	if len(rej) != 4 || rej[0] != more[0] || rej[1] != more[1] {
		t.Fatalf("refused %d of 2 default and 12 priority-9 tasks into a full queue, want the 2 and 2 past the reserve of 10", len(rej))
	}
	if f := ts.free(); f != -10 {
		t.Fatalf("free %d with the reserve used, want -10", f)
	}
	// Three failures in a row open e's circuit: it is blocked.
	for fails := 0; fails < 3; {
		js := ts.started()
		if len(js) == 0 {
			t.Fatal("nothing started")
		}
		for _, j := range js {
			if j.ep.ID == "e" {
				ts.finish(j, sender.Result{StatusCode: 500, Kind: sender.KindHTTP})
				fails++
			} else {
				ts.finish(j, ok)
			}
		}
	}
	if _, block = ts.holdSets(); block == nil {
		t.Fatal("an open circuit is not in the block set")
	}
	if _, ok := block["e"]; !ok {
		t.Fatal("an open circuit is not in the block set")
	}
}

// has reports whether id is in set.
func has(set map[string]struct{}, id string) bool {
	_, ok := set[id]
	return ok
}

// TestSchedulerLowPriorityLeavesASlot checks that a backlog below the
// default priority never holds an endpoint's last in-flight slot, that a
// delivery of the default priority or above takes it at once, and that
// with a limit of one the backlog still goes.
func TestSchedulerLowPriorityLeavesASlot(t *testing.T) {
	ts := newTestSched(1000, 1000, 4)
	ts.breakerOff()
	ep := epOf("e", "t")
	ts.admit(withPriority(tasksOf(ep, 100), 1))
	js := ts.started()
	if len(js) != 3 {
		t.Fatalf("%d priority-1 requests in flight with max_in_flight 4, want 3: one slot left free", len(js))
	}
	urgent := &hookline.Task{DeliveryID: "urgent", Endpoint: ep, Partition: ep.Partition(), Priority: hookline.DefaultPriority}
	ts.admit([]*hookline.Task{urgent})
	got := ts.started()
	if len(got) != 1 || got[0].tasks[0] != urgent {
		t.Fatalf("a default-priority delivery behind a priority-1 backlog: %d started, want it at once", len(got))
	}
	// The slot stays the reserve's: a priority-1 request ending frees one
	// for the backlog, the urgent one ending frees the free one.
	ts.finish(got[0], ok)
	if n := len(ts.started()); n != 0 {
		t.Fatalf("%d priority-1 requests started in the free slot", n)
	}
	ts.finish(js[0], ok)
	if n := len(ts.started()); n != 1 {
		t.Fatalf("%d priority-1 requests started after one of three ended, want 1", n)
	}

	one := newTestSched(1000, 1000, 1)
	one.breakerOff()
	solo := epOf("s", "t")
	one.admit(withPriority(tasksOf(solo, 3), 0))
	if n := len(one.started()); n != 1 {
		t.Fatalf("%d priority-0 requests in flight with max_in_flight 1, want 1: no slot is kept then", n)
	}
}

// TestSchedulerAdmitLostPartition: tasks claimed for a partition that the
// node loses before they reach the scheduler are handed back, not sent: the
// loss dropped the partition's tasks already, and the next owner sends them
// once they are unclaimed (otherwise both nodes would).
func TestSchedulerAdmitLostPartition(t *testing.T) {
	ts := newTestSched(100, 10, 5)
	lost, kept := epOf("ep_lost", "acme"), epOf("ep_kept", "acme")
	if lost.Partition() == kept.Partition() {
		t.Fatal("the endpoints share a partition")
	}
	var mu sync.Mutex
	mask := make([]bool, hookline.Partitions)
	for p := range mask {
		mask[p] = true
	}
	ts.cfg.owned = func() []bool { mu.Lock(); defer mu.Unlock(); return mask }
	if rej := ts.admit(tasksOf(lost, 2)); len(rej) != 0 {
		t.Fatalf("%d tasks rejected while owned", len(rej))
	}
	mu.Lock()
	mask = slices.Clone(mask)
	mask[lost.Partition()] = false
	mu.Unlock()
	rej := ts.admit(append(tasksOf(epOf("ep_lost", "acme"), 3)[2:], tasksOf(kept, 1)...))
	if len(rej) != 1 || rej[0].Endpoint.ID != lost.ID {
		t.Fatalf("rejected %v, want the one task of the lost partition", rej)
	}
	for _, j := range ts.started() {
		for _, task := range j.tasks {
			if task.DeliveryID == "ep_lost-2" {
				t.Errorf("the task of the lost partition was started")
			}
		}
	}
}
