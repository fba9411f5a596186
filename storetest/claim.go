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
		tasks, err := b.s.ClaimDue(b.ctx, nil, at, n)
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
	if tasks, err := b.s.ClaimDue(b.ctx, nil, at, 2); err != nil || len(tasks) != 0 {
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
		tasks, err := b.s.ClaimDue(b.ctx, parts, now, hookline.MaxLimit)
		if err != nil {
			t.Fatalf("ClaimDue(%v): %v", parts, err)
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
