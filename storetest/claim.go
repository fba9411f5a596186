package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

var claimTests = []test{
	{"ClaimedAtIngest", testClaimClaimedAtIngest},
	{"Unclaimed", testClaimUnclaimed},
	{"EarliestFirst", testClaimEarliestFirst},
	{"Limit", testClaimLimit},
	{"NotYetDue", testClaimNotYetDue},
	{"Partitions", testClaimPartitions},
	{"Unclaim", testClaimUnclaim},
	{"ResetClaims", testClaimResetClaims},
	{"ResetClaimsPartitions", testClaimResetClaimsPartitions},
	{"EndpointSnapshot", testClaimEndpointSnapshot},
	{"PerEndpoint", testClaimPerEndpoint},
	{"Next", testClaimNext},
	{"UnknownEndpoint", testClaimUnknownEndpoint},
	{"DueEndpoints", testClaimDueEndpoints},
	{"HoldAtIngest", testClaimHoldAtIngest},
}

func testClaimClaimedAtIngest(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	b.endpoint(t, "acme")
	r := b.ingest(t, true, b.event("acme", "invoice.paid"), b.event("acme", "user.created"))
	equal(t, len(r.Tasks), 4, "tasks")
	if tasks := b.claim(t, b.advance(time.Hour)); len(tasks) != 0 {
		t.Errorf("ClaimDue returned deliveries claimed at ingest: %v", taskIDs(tasks))
	}
	b.wantStats(t, hookline.StoreStats{Pending: 4, Events: 2, Endpoints: 2})
}

func testClaimUnclaimed(t *testing.T, b *bundle) {
	a := b.endpoint(t, "acme")
	c := b.endpoint(t, "acme", "invoice.*")
	ev := b.event("acme", "invoice.paid")
	r := b.ingest(t, false, ev)
	tasks := b.claim(t, b.tick())
	sameIDs(t, taskIDs(tasks), taskIDs(r.Tasks), "claimed deliveries")
	for _, task := range tasks {
		ep := a
		if task.Endpoint.ID == c.ID {
			ep = c
		}
		wantTask(t, task, ev, ep)
		equal(t, task.Attempts, 0, "task Attempts")
		equal(t, task.ScheduleOffset, 0, "task ScheduleOffset")
	}
	if len(tasks) == 2 && (len(tasks[0].Payload) == 0 || string(tasks[0].Payload) != string(tasks[1].Payload)) {
		t.Error("tasks of one event have different payloads")
	}
	if again := b.claim(t, b.advance(time.Hour)); len(again) != 0 {
		t.Errorf("a second ClaimDue returned %v", taskIDs(again))
	}
	// Claiming does not change a delivery's state.
	for _, task := range tasks {
		d := b.delivery(t, task.DeliveryID)
		equal(t, d.Status, hookline.StatusPending, "Status of a claimed delivery")
	}
	b.wantStats(t, hookline.StoreStats{Pending: 2, Events: 1, Endpoints: 2})
}

// schedule ingests n deliveries, one per event, claims them and gives each
// a retry due at the given offsets from now, and returns their IDs in the
// order ingested (which is also the order of their IDs).
func (b *bundle) schedule(t *testing.T, offsets ...time.Duration) []string {
	t.Helper()
	var ids []string
	for range offsets {
		_, r := b.send(t, "acme", "invoice.paid")
		if len(r.Tasks) != 1 {
			t.Fatalf("schedule needs exactly one endpoint of acme, got %d tasks", len(r.Tasks))
		}
		ids = append(ids, r.Tasks[0].DeliveryID)
	}
	sameIDs(t, taskIDs(b.claim(t, b.now)), ids, "claimed deliveries")
	start := b.tick()
	outcomes := make([]hookline.Outcome, len(ids))
	for i, id := range ids {
		outcomes[i] = hookline.Outcome{Status: hookline.StatusPending, NextAttemptAt: start.Add(offsets[i]),
			Attempt: hookline.Attempt{DeliveryID: id, Attempt: 1, StartedAt: start, StatusCode: 503}}
	}
	if err := b.s.RecordOutcomes(b.ctx, outcomes, start); err != nil {
		t.Fatalf("RecordOutcomes: %v", err)
	}
	return ids
}

func testClaimEarliestFirst(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	ids := b.schedule(t, 30*time.Second, 10*time.Second, 20*time.Second, 10*time.Second+time.Microsecond)
	tasks := b.claim(t, b.now.Add(time.Minute))
	want := []string{ids[1], ids[3], ids[2], ids[0]}
	if got := taskIDs(tasks); !slices.Equal(got, want) {
		t.Errorf("ClaimDue order = %v, want earliest due first %v", got, want)
	}
}

func testClaimLimit(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	ids := b.schedule(t, 5*time.Second, 1*time.Second, 4*time.Second, 2*time.Second, 3*time.Second)
	at := b.now.Add(time.Minute)
	var got []string
	for _, n := range []int{2, 2, 2} {
		tasks, err := claimAll(b.ctx, b.s, nil, at, n)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, taskIDs(tasks)...)
		if len(tasks) > n {
			t.Errorf("ClaimDue(limit %d) returned %d", n, len(tasks))
		}
	}
	want := []string{ids[1], ids[3], ids[4], ids[2], ids[0]}
	if !slices.Equal(got, want) {
		t.Errorf("claimed in pages of 2: %v, want %v", got, want)
	}
	if tasks, err := claimAll(b.ctx, b.s, nil, at, 2); err != nil || len(tasks) != 0 {
		t.Errorf("ClaimDue when all are claimed = %v, %v", taskIDs(tasks), err)
	}
}

func testClaimNotYetDue(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	ids := b.schedule(t, 10*time.Second, 20*time.Second)
	start := b.now
	for _, step := range []struct {
		at   time.Duration
		want []string
	}{
		{0, nil},
		{10*time.Second - time.Microsecond, nil},
		{10 * time.Second, ids[:1]}, // at its due time: due
		{20*time.Second - time.Microsecond, nil},
		{time.Hour, ids[1:]},
	} {
		got := b.claim(t, start.Add(step.at))
		sameIDs(t, taskIDs(got), step.want, fmt.Sprintf("ClaimDue at +%v", step.at))
	}
	// Fresh deliveries are due at their ingest time, not before.
	ingestAt := b.advance(time.Hour)
	_, r := b.send(t, "acme", "invoice.paid")
	sameIDs(t, taskIDs(b.claim(t, ingestAt.Add(-time.Minute))), nil, "ClaimDue before the ingest time")
	sameIDs(t, taskIDs(b.claim(t, b.now)), taskIDs(r.Tasks), "ClaimDue at the ingest time")
}

// partitionedEndpoints creates two endpoints of acme in different
// partitions.
func (b *bundle) partitionedEndpoints(t *testing.T) (p, q *hookline.Endpoint) {
	t.Helper()
	p = b.endpoint(t, "acme")
	for {
		ep := b.newEndpoint("acme")
		if ep.Partition() == p.Partition() {
			continue
		}
		if err := b.s.CreateEndpoint(b.ctx, ep); err != nil {
			t.Fatal(err)
		}
		return p, ep
	}
}

func testClaimPartitions(t *testing.T, b *bundle) {
	p, q := b.partitionedEndpoints(t)
	_, r1 := b.send(t, "acme", "invoice.paid")
	_, r2 := b.send(t, "acme", "invoice.paid")
	byEndpoint := map[string][]string{}
	for _, task := range append(r1.Tasks, r2.Tasks...) {
		byEndpoint[task.Endpoint.ID] = append(byEndpoint[task.Endpoint.ID], task.DeliveryID)
	}
	now := b.tick()
	other := (max(p.Partition(), q.Partition()) + 1) % hookline.Partitions
	for other == p.Partition() || other == q.Partition() {
		other = (other + 1) % hookline.Partitions
	}
	claim := func(parts []int) []*hookline.Task {
		t.Helper()
		tasks, err := claimAll(b.ctx, b.s, parts, now, hookline.MaxLimit)
		if err != nil {
			t.Fatalf("claim of partitions %v: %v", parts, err)
		}
		return tasks
	}
	sameIDs(t, taskIDs(claim([]int{other})), nil, "ClaimDue of a partition without deliveries")
	got := claim([]int{p.Partition(), other})
	sameIDs(t, taskIDs(got), byEndpoint[p.ID], "ClaimDue of p's partition")
	for _, task := range got {
		equal(t, task.Partition, p.Partition(), "task Partition")
	}
	sameIDs(t, taskIDs(claim([]int{p.Partition()})), nil, "ClaimDue of p's partition again")
	sameIDs(t, taskIDs(claim(nil)), byEndpoint[q.ID], "ClaimDue of all partitions")
}

func testClaimUnclaim(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	b.endpoint(t, "acme")
	_, r1 := b.ingestClaimed(t)
	_, r2 := b.ingestClaimed(t)
	// Unclaim some, with unknown IDs among them.
	ids := append(taskIDs(r1.Tasks), "dlv_unknown", hookline.NewID(hookline.DeliveryPrefix, b.now))
	if err := b.s.Unclaim(b.ctx, ids); err != nil {
		t.Fatalf("Unclaim: %v", err)
	}
	if err := b.s.Unclaim(b.ctx, nil); err != nil {
		t.Fatalf("Unclaim(nil): %v", err)
	}
	sameIDs(t, taskIDs(b.claim(t, b.tick())), taskIDs(r1.Tasks), "ClaimDue after Unclaim")
	sameIDs(t, taskIDs(b.claim(t, b.tick())), nil, "ClaimDue again")
	// Unclaiming an unclaimed delivery, or unclaiming twice, changes nothing.
	if err := b.s.Unclaim(b.ctx, taskIDs(r2.Tasks)); err != nil {
		t.Fatal(err)
	}
	if err := b.s.Unclaim(b.ctx, taskIDs(r2.Tasks)); err != nil {
		t.Fatal(err)
	}
	sameIDs(t, taskIDs(b.claim(t, b.tick())), taskIDs(r2.Tasks), "ClaimDue after Unclaim twice")
	// A settled delivery stays settled.
	b.settle(t, r2.Tasks[0].DeliveryID, hookline.StatusDelivered)
	if err := b.s.Unclaim(b.ctx, taskIDs(r2.Tasks[:1])); err != nil {
		t.Fatal(err)
	}
	sameIDs(t, taskIDs(b.claim(t, b.tick())), nil, "ClaimDue after unclaiming a delivered delivery")
	equal(t, b.delivery(t, r2.Tasks[0].DeliveryID).Status, hookline.StatusDelivered, "Status")
}

// ingestClaimed ingests one event of acme, claimed.
func (b *bundle) ingestClaimed(t *testing.T) (*hookline.Event, *hookline.IngestRequest) {
	t.Helper()
	ev := b.event("acme", "invoice.paid")
	return ev, b.ingest(t, true, ev)
}

func testClaimResetClaims(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	_, r1 := b.ingestClaimed(t)
	_, r2 := b.ingestClaimed(t)
	_, r3 := b.ingestClaimed(t)
	b.settle(t, r3.Tasks[0].DeliveryID, hookline.StatusFailed)
	// A retry due later stays not due after ResetClaims.
	ids := b.schedule(t, time.Hour)
	if err := b.s.ResetClaims(b.ctx, nil); err != nil {
		t.Fatalf("ResetClaims: %v", err)
	}
	sameIDs(t, taskIDs(b.claim(t, b.tick())), append(taskIDs(r1.Tasks), taskIDs(r2.Tasks)...), "ClaimDue after ResetClaims")
	sameIDs(t, taskIDs(b.claim(t, b.now.Add(2*time.Hour))), ids, "ClaimDue of the later retry")
	equal(t, b.delivery(t, r3.Tasks[0].DeliveryID).Status, hookline.StatusFailed, "Status of a failed delivery")
}

func testClaimResetClaimsPartitions(t *testing.T, b *bundle) {
	p, q := b.partitionedEndpoints(t)
	_, r := b.ingestClaimed(t)
	var pIDs, qIDs []string
	for _, task := range r.Tasks {
		if task.Endpoint.ID == p.ID {
			pIDs = append(pIDs, task.DeliveryID)
		} else {
			qIDs = append(qIDs, task.DeliveryID)
		}
	}
	if err := b.s.ResetClaims(b.ctx, []int{q.Partition()}); err != nil {
		t.Fatalf("ResetClaims: %v", err)
	}
	sameIDs(t, taskIDs(b.claim(t, b.tick())), qIDs, "ClaimDue after ResetClaims of q's partition")
	if err := b.s.ResetClaims(b.ctx, []int{p.Partition()}); err != nil {
		t.Fatalf("ResetClaims: %v", err)
	}
	sameIDs(t, taskIDs(b.claim(t, b.tick())), pIDs, "ClaimDue after ResetClaims of p's partition")
}

// testClaimEndpointSnapshot checks that claimed tasks carry the endpoint as
// it is when they are claimed, and that a disabled endpoint's pending
// deliveries are still returned, for the dispatcher to settle.
func testClaimEndpointSnapshot(t *testing.T, b *bundle) {
	ep := b.endpoint(t, "acme")
	ev, _ := b.send(t, "acme", "invoice.paid")
	url, secret := "https://moved.example/hook", "whsec_bW92ZWQgbW92ZWQgbW92ZWQgbW92ZWQ="
	if _, err := b.s.UpdateEndpoint(b.ctx, ep.ID, hookline.EndpointUpdate{URL: &url, Secret: &secret, Disabled: ptr(true)}, b.tick()); err != nil {
		t.Fatal(err)
	}
	task := single(t, b.claim(t, b.tick()))
	equal(t, task.Endpoint.URL, url, "task Endpoint.URL")
	equal(t, task.Endpoint.Secret, secret, "task Endpoint.Secret")
	equal(t, task.Endpoint.Disabled, true, "task Endpoint.Disabled")
	equal(t, task.EventID, ev.ID, "task EventID")
}

// claimOne claims up to limit due deliveries of one endpoint.
func (b *bundle) claimOne(t *testing.T, endpointID string, now time.Time, limit int) hookline.ClaimResult {
	t.Helper()
	res, err := b.s.ClaimDue(b.ctx, []hookline.ClaimRequest{{EndpointID: endpointID, Limit: limit}}, now)
	if err != nil {
		t.Fatalf("ClaimDue: %v", err)
	}
	if len(res) != 1 {
		t.Fatalf("ClaimDue: %d results for 1 request", len(res))
	}
	return res[0]
}

// testClaimPerEndpoint checks that a claim for one endpoint takes only its
// deliveries, however many another has in front of them, and that one call
// serves several endpoints with their own limits.
func testClaimPerEndpoint(t *testing.T, b *bundle) {
	busy := b.endpoint(t, "acme", "busy.*")
	quiet := b.endpoint(t, "acme", "quiet.*")
	var busyIDs []string
	for range 20 {
		_, r := b.send(t, "acme", "busy.x")
		busyIDs = append(busyIDs, taskIDs(r.Tasks)...)
	}
	_, r := b.send(t, "acme", "quiet.x")
	quietIDs := taskIDs(r.Tasks)
	now := b.tick()
	sameIDs(t, taskIDs(b.claimOne(t, quiet.ID, now, 10).Tasks), quietIDs, "ClaimDue of the quiet endpoint")
	res, err := b.s.ClaimDue(b.ctx, []hookline.ClaimRequest{
		{EndpointID: quiet.ID, Limit: 10}, {EndpointID: busy.ID, Limit: 5}, {EndpointID: busy.ID, Limit: 0},
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, len(res), 3, "results")
	equal(t, len(res[0].Tasks), 0, "tasks of the quiet endpoint, claimed already")
	if !slices.Equal(taskIDs(res[1].Tasks), busyIDs[:5]) {
		t.Errorf("busy endpoint's first claim = %v, want the 5 earliest %v", taskIDs(res[1].Tasks), busyIDs[:5])
	}
	equal(t, len(res[2].Tasks), 0, "tasks of a request with limit 0")
	if next := b.delivery(t, busyIDs[5]).NextAttemptAt; next == nil || !res[2].Next.Equal(*next) {
		t.Errorf("Next of a request with limit 0 = %v, want the due time of the 6th delivery %v", res[2].Next, next)
	}
}

// testClaimNext checks the earliest due time left that ClaimDue reports.
func testClaimNext(t *testing.T, b *bundle) {
	ep := b.endpoint(t, "acme")
	ids := b.schedule(t, 10*time.Second, 20*time.Second, 30*time.Second)
	start := b.now
	r := b.claimOne(t, ep.ID, start.Add(5*time.Second), 10)
	equal(t, len(r.Tasks), 0, "tasks before any is due")
	sameTime(t, r.Next, start.Add(10*time.Second), "Next before any is due")
	r = b.claimOne(t, ep.ID, start.Add(25*time.Second), 1)
	sameIDs(t, taskIDs(r.Tasks), ids[:1], "claim with limit 1")
	sameTime(t, r.Next, start.Add(20*time.Second), "Next after a partial claim")
	r = b.claimOne(t, ep.ID, start.Add(time.Hour), 10)
	sameIDs(t, taskIDs(r.Tasks), ids[1:], "claim of the rest")
	if !r.Next.IsZero() {
		t.Errorf("Next when nothing is left = %v, want zero", r.Next)
	}
}

func testClaimUnknownEndpoint(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	b.send(t, "acme", "invoice.paid")
	r := b.claimOne(t, hookline.NewID(hookline.EndpointPrefix, b.now), b.tick(), 10)
	if len(r.Tasks) != 0 || !r.Next.IsZero() {
		t.Errorf("ClaimDue of an unknown endpoint = %d tasks, next %v", len(r.Tasks), r.Next)
	}
}

// testClaimDueEndpoints checks that DueEndpoints names exactly the
// endpoints with pending, unclaimed deliveries, with their earliest due
// time, by partition.
func testClaimDueEndpoints(t *testing.T, b *bundle) {
	p, q := b.partitionedEndpoints(t)
	idle := b.endpoint(t, "other")
	due := func(parts []int) map[string]time.Time {
		t.Helper()
		ds, err := b.s.DueEndpoints(b.ctx, parts)
		if err != nil {
			t.Fatalf("DueEndpoints(%v): %v", parts, err)
		}
		m := map[string]time.Time{}
		for _, d := range ds {
			if _, dup := m[d.EndpointID]; dup {
				t.Errorf("DueEndpoints names %s twice", d.EndpointID)
			}
			equal(t, d.Partition, hookline.PartitionOf(d.EndpointID), "EndpointDue.Partition")
			m[d.EndpointID] = d.Due
		}
		return m
	}
	if got := due(nil); len(got) != 0 {
		t.Errorf("DueEndpoints of a store without deliveries = %v", got)
	}
	_, r := b.send(t, "acme", "invoice.paid") // one to p, one to q
	first := b.now
	b.tick()
	b.send(t, "acme", "invoice.paid")
	equal(t, len(r.Tasks), 2, "tasks")
	got := due(nil)
	equal(t, len(got), 2, "endpoints due")
	sameTime(t, got[p.ID], first, "p's earliest due")
	sameTime(t, got[q.ID], first, "q's earliest due")
	if _, ok := got[idle.ID]; ok {
		t.Error("DueEndpoints names an endpoint without deliveries")
	}
	only := due([]int{p.Partition()})
	if len(only) != 1 || only[p.ID].IsZero() {
		t.Errorf("DueEndpoints of p's partition = %v, want p only", only)
	}
	if got := due([]int{}); len(got) != 0 {
		t.Errorf("DueEndpoints of no partition = %v", got)
	}
	// Claimed deliveries are not due; retries due later are, at their time.
	b.claimOne(t, p.ID, b.now, hookline.MaxLimit)
	if _, ok := due(nil)[p.ID]; ok {
		t.Error("DueEndpoints names an endpoint whose deliveries are all claimed")
	}
	qTasks := b.claimOne(t, q.ID, b.now, hookline.MaxLimit).Tasks
	later := b.advance(time.Hour)
	b.record(t, hookline.Outcome{Status: hookline.StatusPending, NextAttemptAt: later,
		Attempt: hookline.Attempt{DeliveryID: qTasks[1].DeliveryID, Attempt: 1, StartedAt: b.now, StatusCode: 500}})
	got = due(nil)
	equal(t, len(got), 1, "endpoints due after a retry is scheduled")
	sameTime(t, got[q.ID], later, "q's retry")
}

// testClaimHoldAtIngest checks IngestRequest.Hold: deliveries to held
// endpoints are left unclaimed, the others claimed.
func testClaimHoldAtIngest(t *testing.T, b *bundle) {
	held := b.endpoint(t, "acme")
	free := b.endpoint(t, "acme")
	r := &hookline.IngestRequest{Events: []*hookline.Event{b.event("acme", "invoice.paid")}, Claim: true,
		Hold: map[string]struct{}{held.ID: {}}}
	if err := b.s.Ingest(b.ctx, []*hookline.IngestRequest{r}, b.now); err != nil || r.Err != nil {
		t.Fatalf("Ingest: %v, %v", err, r.Err)
	}
	equal(t, len(r.Tasks), 2, "tasks")
	var heldIDs []string
	for _, task := range r.Tasks {
		if task.Endpoint.ID == held.ID {
			heldIDs = append(heldIDs, task.DeliveryID)
		}
		equal(t, r.Claims(task.Endpoint, task.Partition), task.Endpoint.ID == free.ID, "Claims of "+task.Endpoint.ID)
	}
	sameIDs(t, taskIDs(b.claim(t, b.tick())), heldIDs, "ClaimDue after an ingest holding one endpoint")
}
