package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

var orderTests = []test{
	{"Fields", testOrderFields},
	{"PriorityClaimOrder", testOrderPriorityClaimOrder},
	{"PriorityAging", testOrderPriorityAging},
	{"PriorityNextDue", testOrderPriorityNextDue},
	{"PriorityOutOfRange", testOrderPriorityOutOfRange},
	{"FIFONotClaimedAtIngest", testOrderFIFONotClaimedAtIngest},
	{"FIFOHeads", testOrderFIFOHeads},
	{"FIFOFailingHeadHoldsKey", testOrderFIFOFailingHeadHoldsKey},
	{"FIFODeadLetterReleasesKey", testOrderFIFODeadLetterReleasesKey},
	{"FIFOAcceptedOrder", testOrderFIFOAcceptedOrder},
	{"FIFOReplayTakesItsPlace", testOrderFIFOReplayTakesItsPlace},
	{"FIFORuns", testOrderFIFORuns},
	{"BatchRetriedWhole", testOrderBatchRetriedWhole},
}

// fifoEndpoint creates an enabled fifo endpoint of tenant, batched when
// batch > 0.
func (b *bundle) fifoEndpoint(t *testing.T, tenant string, batch int) *hookline.Endpoint {
	t.Helper()
	ep := b.newEndpoint(tenant)
	ep.Ordering = hookline.OrderingFIFO
	if batch > 0 {
		ep.Batch = &hookline.Batch{MaxEvents: batch, MaxWaitMS: 100}
	}
	if err := b.s.CreateEndpoint(b.ctx, ep); err != nil {
		t.Fatalf("CreateEndpoint: %v", err)
	}
	return ep
}

// keyed returns a new event of tenant with an ordering key and priority.
func (b *bundle) ordered(tenant, key string, priority int) *hookline.Event {
	ev := b.event(tenant, "order.updated")
	ev.OrderingKey, ev.Priority = key, priority
	return ev
}

// claimAllOf claims what one endpoint gives at now, up to limit.
func (b *bundle) claimAllOf(t *testing.T, ep *hookline.Endpoint, now time.Time, limit int) []*hookline.Task {
	t.Helper()
	return b.claimOne(t, ep.ID, now, limit).Tasks
}

func testOrderFields(t *testing.T, b *bundle) {
	ep := b.newEndpoint("acme")
	ep.Ordering, ep.Batch = hookline.OrderingFIFO, &hookline.Batch{MaxEvents: 50, MaxWaitMS: 2500}
	if err := b.s.CreateEndpoint(b.ctx, ep); err != nil {
		t.Fatal(err)
	}
	got, err := b.s.FindEndpoint(b.ctx, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Ordering != hookline.OrderingFIFO || got.Batch == nil || *got.Batch != *ep.Batch {
		t.Fatalf("ordering %q batch %+v, want fifo %+v", got.Ordering, got.Batch, ep.Batch)
	}
	none := hookline.OrderingNone
	got, err = b.s.UpdateEndpoint(b.ctx, ep.ID, hookline.EndpointUpdate{Ordering: &none, SetBatch: true}, b.tick())
	if err != nil || got.Ordering != hookline.OrderingNone || got.Batch != nil {
		t.Fatalf("after turning both off: %q %+v %v", got.Ordering, got.Batch, err)
	}
	got, err = b.s.UpdateEndpoint(b.ctx, ep.ID, hookline.EndpointUpdate{SetBatch: true, Batch: &hookline.Batch{MaxEvents: 2, MaxWaitMS: 0}}, b.tick())
	if err != nil || got.Batch == nil || got.Batch.MaxEvents != 2 {
		t.Fatalf("after setting a batch: %+v %v", got.Batch, err)
	}
	plain := b.endpoint(t, "globex")
	if p, _ := b.s.FindEndpoint(b.ctx, plain.ID); p.Ordering != hookline.OrderingNone || p.Batch != nil {
		t.Fatalf("a plain endpoint reads ordering %q batch %+v", p.Ordering, p.Batch)
	}
	ev := b.ordered("globex", "order-7", 8)
	r := b.ingest(t, false, ev)
	stored, err := b.s.FindEvent(b.ctx, ev.ID)
	if err != nil || stored.Priority != 8 || stored.OrderingKey != "order-7" {
		t.Fatalf("event priority %d key %q, %v", stored.Priority, stored.OrderingKey, err)
	}
	if d := b.delivery(t, r.Tasks[0].DeliveryID); d.Priority != 8 {
		t.Fatalf("delivery priority %d, want 8", d.Priority)
	}
	task := single(t, b.claim(t, b.tick()))
	equal(t, task.Priority, 8, "task Priority")
}

// testOrderPriorityClaimOrder checks that stored work comes highest
// priority first among deliveries due together.
func testOrderPriorityClaimOrder(t *testing.T, b *bundle) {
	ep := b.endpoint(t, "acme")
	var want []string
	prios := []int{1, 9, 5, 0, 7}
	ids := map[int]string{}
	for _, p := range prios {
		r := b.ingest(t, false, b.ordered("acme", "", p))
		ids[p] = r.Tasks[0].DeliveryID
	}
	for _, p := range []int{9, 7, 5, 1, 0} {
		want = append(want, ids[p])
	}
	got := taskIDs(b.claimAllOf(t, ep, b.tick(), 100))
	if !slices.Equal(got, want) {
		t.Fatalf("claim order %v, want by priority %v", got, want)
	}
}

// testOrderPriorityAging checks the bound on starvation: a low-priority
// delivery due long enough before a high one comes first.
func testOrderPriorityAging(t *testing.T, b *bundle) {
	ep := b.endpoint(t, "acme")
	old := b.ingest(t, false, b.ordered("acme", "", 1)).Tasks[0].DeliveryID
	b.advance(4*time.Minute + time.Second) // more than (9−1) × 30 s
	fresh := b.ingest(t, false, b.ordered("acme", "", 9)).Tasks[0].DeliveryID
	got := taskIDs(b.claimAllOf(t, ep, b.tick(), 1))
	if !slices.Equal(got, []string{old}) {
		t.Fatalf("claimed %v first, want the priority-1 delivery waiting over 4 minutes (%s) before the fresh priority-9 %s", got, old, fresh)
	}
}

// testOrderPriorityNextDue checks the next due time of an endpoint whose
// stored work has several priorities: the earliest due time, whatever the
// priority, and a high-priority retry that is not due yet does not stand in
// front of a low-priority delivery that is (its order, due time less
// priority × PriorityStep, is earlier, but it is not due).
func testOrderPriorityNextDue(t *testing.T, b *bundle) {
	ep := b.endpoint(t, "acme")
	high := b.ingest(t, false, b.ordered("acme", "", 9)).Tasks[0].DeliveryID
	low := b.ingest(t, false, b.ordered("acme", "", 0)).Tasks[0].DeliveryID
	sameIDs(t, taskIDs(b.claimAllOf(t, ep, b.tick(), 10)), []string{high, low}, "claim of both")
	start := b.tick()
	if err := b.s.RecordOutcomes(b.ctx, []hookline.Outcome{
		{Status: hookline.StatusPending, NextAttemptAt: start.Add(100 * time.Second),
			Attempt: hookline.Attempt{DeliveryID: high, Attempt: 1, StartedAt: start, StatusCode: 503}},
		{Status: hookline.StatusPending, NextAttemptAt: start.Add(10 * time.Second),
			Attempt: hookline.Attempt{DeliveryID: low, Attempt: 1, StartedAt: start, StatusCode: 503}},
	}, start); err != nil {
		t.Fatal(err)
	}
	r := b.claimOne(t, ep.ID, start.Add(5*time.Second), 10)
	equal(t, len(r.Tasks), 0, "tasks before either is due")
	sameTime(t, r.Next, start.Add(10*time.Second), "Next: the priority-0 retry's due time")
	r = b.claimOne(t, ep.ID, start.Add(10*time.Second), 10)
	sameIDs(t, taskIDs(r.Tasks), []string{low}, "claim once the priority-0 retry is due")
	sameTime(t, r.Next, start.Add(100*time.Second), "Next: the priority-9 retry's due time")
}

// testOrderPriorityOutOfRange checks that an event of the Go API with a
// priority outside MinPriority..MaxPriority (the HTTP API refuses one) is
// stored, claimed and due as the nearest valid priority.
func testOrderPriorityOutOfRange(t *testing.T, b *bundle) {
	ep := b.endpoint(t, "acme")
	high := b.ingest(t, false, b.ordered("acme", "", 42)).Tasks[0].DeliveryID
	low := b.ingest(t, false, b.ordered("acme", "", -3)).Tasks[0].DeliveryID
	mid := b.ingest(t, false, b.ordered("acme", "", 5)).Tasks[0].DeliveryID
	got := taskIDs(b.claimAllOf(t, ep, b.tick(), 10))
	if !slices.Equal(got, []string{high, mid, low}) {
		t.Fatalf("claim order %v, want priority 42 as 9, then 5, then -3 as 0: %v", got, []string{high, mid, low})
	}
	equal(t, b.delivery(t, high).Priority, hookline.MaxPriority, "stored priority of a priority-42 delivery")
	equal(t, b.delivery(t, low).Priority, hookline.MinPriority, "stored priority of a priority -3 delivery")
}

func testOrderFIFONotClaimedAtIngest(t *testing.T, b *bundle) {
	ep := b.fifoEndpoint(t, "acme", 0)
	r := b.ingest(t, true, b.ordered("acme", "k", 5))
	if r.Claims(ep, ep.Partition()) {
		t.Fatal("Claims says a fifo delivery is claimed at ingest")
	}
	sameIDs(t, taskIDs(b.claimAllOf(t, ep, b.tick(), 10)), taskIDs(r.Tasks), "ClaimDue of a fifo delivery ingested with Claim")
}

// testOrderFIFOHeads checks that a fifo endpoint gives one delivery per
// key, the first accepted, and the next only once the first is settled.
func testOrderFIFOHeads(t *testing.T, b *bundle) {
	ep := b.fifoEndpoint(t, "acme", 0)
	byKey := map[string][]string{}
	for i := range 9 {
		key := []string{"a", "b", ""}[i%3]
		r := b.ingest(t, false, b.ordered("acme", key, 9-i)) // priorities must not reorder a key
		byKey[key] = append(byKey[key], r.Tasks[0].DeliveryID)
	}
	got := b.claimAllOf(t, ep, b.tick(), 100)
	sameIDs(t, taskIDs(got), []string{byKey[""][0], byKey["a"][0], byKey["b"][0]}, "heads")
	for _, task := range got {
		if task.Seq == 0 {
			t.Errorf("task %s has no accepted order", task.DeliveryID)
		}
	}
	if more := b.claimAllOf(t, ep, b.tick(), 100); len(more) != 0 {
		t.Fatalf("claimed %v while every key's head is held", taskIDs(more))
	}
	b.settle(t, byKey["a"][0], hookline.StatusDelivered)
	sameIDs(t, taskIDs(b.claimAllOf(t, ep, b.tick(), 100)), byKey["a"][1:2], "the next of key a")
	// The limit bounds the heads, and says there is more.
	b.settle(t, byKey[""][0], hookline.StatusDelivered)
	b.settle(t, byKey["b"][0], hookline.StatusDelivered)
	r := b.claimOne(t, ep.ID, b.tick(), 1)
	if len(r.Tasks) != 1 || r.Next.IsZero() {
		t.Fatalf("a claim with limit 1 of 2 heads: %d tasks, next %v", len(r.Tasks), r.Next)
	}
}

// testOrderFIFOFailingHeadHoldsKey checks that a head waiting for its retry
// holds back the later deliveries of its key, not those of other keys.
func testOrderFIFOFailingHeadHoldsKey(t *testing.T, b *bundle) {
	ep := b.fifoEndpoint(t, "acme", 0)
	a1 := b.ingest(t, false, b.ordered("acme", "a", 5)).Tasks[0].DeliveryID
	a2 := b.ingest(t, false, b.ordered("acme", "a", 5)).Tasks[0].DeliveryID
	b1 := b.ingest(t, false, b.ordered("acme", "b", 5)).Tasks[0].DeliveryID
	sameIDs(t, taskIDs(b.claimAllOf(t, ep, b.tick(), 10)), []string{a1, b1}, "heads")
	retry := b.advance(time.Second).Add(time.Minute)
	b.record(t, hookline.Outcome{Status: hookline.StatusPending, NextAttemptAt: retry,
		Attempt: hookline.Attempt{DeliveryID: a1, Attempt: 1, StartedAt: b.now, StatusCode: 500}})
	b.settle(t, b1, hookline.StatusDelivered)
	r := b.claimOne(t, ep.ID, b.tick(), 10)
	if len(r.Tasks) != 0 {
		t.Fatalf("claimed %v while key a's head waits for its retry", taskIDs(r.Tasks))
	}
	sameTime(t, r.Next, retry, "Next: the head's retry")
	got := b.claimAllOf(t, ep, retry, 10)
	sameIDs(t, taskIDs(got), []string{a1}, "the head again at its retry, not a2 ("+a2+")")
}

func testOrderFIFODeadLetterReleasesKey(t *testing.T, b *bundle) {
	ep := b.fifoEndpoint(t, "acme", 0)
	a1 := b.ingest(t, false, b.ordered("acme", "a", 5)).Tasks[0].DeliveryID
	a2 := b.ingest(t, false, b.ordered("acme", "a", 5)).Tasks[0].DeliveryID
	b.claimAllOf(t, ep, b.tick(), 10)
	b.settle(t, a1, hookline.StatusFailed)
	sameIDs(t, taskIDs(b.claimAllOf(t, ep, b.tick(), 10)), []string{a2}, "the next after a dead letter")
	// Recovering the dead letter puts it back at its place: first in line.
	if _, err := b.s.RetryDelivery(b.ctx, a1, b.tick()); err != nil {
		t.Fatal(err)
	}
	b.record(t, hookline.Outcome{Status: hookline.StatusPending, NextAttemptAt: b.now,
		Attempt: hookline.Attempt{DeliveryID: a2, Attempt: 2, StartedAt: b.now, StatusCode: 500}})
	sameIDs(t, taskIDs(b.claimAllOf(t, ep, b.tick(), 10)), []string{a1}, "a retried earlier delivery goes before later ones")
}

// testOrderFIFOAcceptedOrder checks that the accepted order holds across
// group commits: requests of one Ingest call, and successive calls.
func testOrderFIFOAcceptedOrder(t *testing.T, b *bundle) {
	ep := b.fifoEndpoint(t, "acme", 0)
	var want []string
	for range 3 {
		var reqs []*hookline.IngestRequest
		for range 3 {
			reqs = append(reqs, &hookline.IngestRequest{Events: []*hookline.Event{b.ordered("acme", "k", 5), b.ordered("acme", "k", 5)}})
		}
		if err := b.s.Ingest(b.ctx, reqs, b.tick()); err != nil {
			t.Fatal(err)
		}
		for _, r := range reqs {
			want = append(want, taskIDs(r.Tasks)...)
		}
	}
	var got []string
	for range want {
		task := single(t, b.claimAllOf(t, ep, b.tick(), 10))
		got = append(got, task.DeliveryID)
		b.settle(t, task.DeliveryID, hookline.StatusDelivered)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("heads in order %v, want the accepted order %v", got, want)
	}
}

// testOrderFIFOReplayTakesItsPlace checks that a replayed delivery of an
// event takes its event's place in line, before later ones.
func testOrderFIFOReplayTakesItsPlace(t *testing.T, b *bundle) {
	ep := b.fifoEndpoint(t, "acme", 0)
	first := b.ordered("acme", "k", 5)
	d1 := b.ingest(t, false, first).Tasks[0].DeliveryID
	later := b.ingest(t, false, b.ordered("acme", "k", 5)).Tasks[0].DeliveryID
	b.claimAllOf(t, ep, b.tick(), 10)
	b.settle(t, d1, hookline.StatusDelivered)
	replayed, err := b.s.ReplayEvent(b.ctx, first.ID, false, b.tick())
	if err != nil || len(replayed) != 1 {
		t.Fatalf("ReplayEvent = %d, %v", len(replayed), err)
	}
	sameIDs(t, taskIDs(b.claimAllOf(t, ep, b.tick(), 10)), taskIDs(replayed), "the replay before "+later)
}

// testOrderFIFORuns checks a batched fifo endpoint: a key gives a run of up
// to its batch size, in accepted order.
func testOrderFIFORuns(t *testing.T, b *bundle) {
	ep := b.fifoEndpoint(t, "acme", 3)
	var a []string
	for range 5 {
		a = append(a, b.ingest(t, false, b.ordered("acme", "a", 5)).Tasks[0].DeliveryID)
	}
	got := b.claimAllOf(t, ep, b.tick(), 100)
	if !slices.Equal(taskIDs(got), a[:3]) {
		t.Fatalf("run %v, want the first 3 in order %v", taskIDs(got), a[:3])
	}
	if more := b.claimAllOf(t, ep, b.tick(), 100); len(more) != 0 {
		t.Fatalf("claimed %v while the key's run is held", taskIDs(more))
	}
}

// testOrderBatchRetriedWhole checks that a batch left pending is claimed
// whole, even past the limit.
func testOrderBatchRetriedWhole(t *testing.T, b *bundle) {
	ep := b.endpoint(t, "acme")
	var ids []string
	for range 4 {
		_, r := b.send(t, "acme", "x")
		ids = append(ids, r.Tasks[0].DeliveryID)
	}
	b.claimAllOf(t, ep, b.tick(), 10)
	retry := b.tick()
	var outs []hookline.Outcome
	for _, id := range ids[:3] {
		outs = append(outs, hookline.Outcome{Status: hookline.StatusPending, NextAttemptAt: retry, BatchID: "bat_1",
			Attempt: hookline.Attempt{DeliveryID: id, Attempt: 1, StartedAt: b.now, StatusCode: 500}})
	}
	outs = append(outs, hookline.Outcome{Status: hookline.StatusPending, NextAttemptAt: retry,
		Attempt: hookline.Attempt{DeliveryID: ids[3], Attempt: 1, StartedAt: b.now, StatusCode: 500}})
	if err := b.s.RecordOutcomes(b.ctx, outs, b.now); err != nil {
		t.Fatal(err)
	}
	got := b.claimAllOf(t, ep, b.tick(), 1)
	var batch []string
	for _, task := range got {
		if task.BatchID == "bat_1" {
			batch = append(batch, task.DeliveryID)
		}
	}
	sameIDs(t, batch, ids[:3], "a batch claimed with limit 1")
	sameIDs(t, taskIDs(got), ids[:3], "a claim with limit 1 that meets a batch")
}
