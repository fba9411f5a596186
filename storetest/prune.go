package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

var pruneTests = []test{
	{"OldestFirst", testPruneOldestFirst},
	{"KeepsPending", testPruneKeepsPending},
	{"ManyDeliveries", testPruneManyDeliveries},
	{"IdempotencyKeys", testPruneIdempotencyKeys},
}

// testPruneOldestFirst prunes in batches of limit, oldest first: settled
// events and events without deliveries, but not recent ones.
func testPruneOldestFirst(t *testing.T, b *bundle) {
	b.endpoint(t, "acme", "invoice.*")
	var old []*hookline.Event
	var oldDeliveries []string
	for i := range 5 {
		typ := "invoice.paid"
		if i == 2 {
			typ = "user.created" // no deliveries
		}
		ev, r := b.send(t, "acme", typ)
		old = append(old, ev)
		oldDeliveries = append(oldDeliveries, taskIDs(r.Tasks)...)
	}
	b.tick()
	for i, id := range oldDeliveries {
		b.settle(t, id, []hookline.DeliveryStatus{hookline.StatusDelivered, hookline.StatusFailed}[i%2])
	}
	before := b.advance(time.Minute)
	recent, r := b.send(t, "acme", "invoice.paid")
	b.tick()
	b.settle(t, single(t, r.Tasks).DeliveryID, hookline.StatusDelivered)
	b.wantStats(t, hookline.StoreStats{Delivered: 3, Failed: 2, Events: 6, Endpoints: 1})

	for _, want := range [][]*hookline.Event{old[:2], old[2:4], old[4:], nil} {
		n, err := b.s.Prune(b.ctx, before, 2)
		if err != nil {
			t.Fatalf("Prune: %v", err)
		}
		equal(t, n, len(want), "events pruned")
		for _, ev := range want {
			_, err := b.s.FindEvent(b.ctx, ev.ID)
			wantNotFound(t, err, fmt.Sprintf("FindEvent of pruned event %s", ev.ID))
		}
	}
	for _, id := range oldDeliveries {
		_, err := b.s.FindDelivery(b.ctx, id)
		wantNotFound(t, err, "FindDelivery of a pruned delivery")
		_, err = b.s.FindAttempts(b.ctx, id)
		wantNotFound(t, err, "FindAttempts of a pruned delivery")
	}
	if _, err := b.s.FindEvent(b.ctx, recent.ID); err != nil {
		t.Errorf("FindEvent of a recent event: %v", err)
	}
	equal(t, len(b.deliveries(t, hookline.DeliveryFilter{})), 1, "deliveries left")
	b.wantStats(t, hookline.StoreStats{Delivered: 1, Events: 1, Endpoints: 1})
}

// testPruneKeepsPending checks that an old event with any pending delivery
// is kept whole, and does not stop younger events from being pruned.
func testPruneKeepsPending(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	b.endpoint(t, "acme")
	held, r := b.send(t, "acme", "invoice.paid")
	b.tick()
	b.settle(t, r.Tasks[0].DeliveryID, hookline.StatusDelivered)
	// r.Tasks[1] stays pending (a retry due later).
	b.record(t, hookline.Outcome{Status: hookline.StatusPending, NextAttemptAt: b.now.Add(time.Hour),
		Attempt: hookline.Attempt{DeliveryID: r.Tasks[1].DeliveryID, Attempt: 1, StartedAt: b.now, StatusCode: 500}})
	gone, r2 := b.send(t, "acme", "invoice.paid")
	b.tick()
	for _, task := range r2.Tasks {
		b.settle(t, task.DeliveryID, hookline.StatusFailed)
	}
	n, err := b.s.Prune(b.ctx, b.advance(time.Minute), 10)
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	equal(t, n, 1, "events pruned")
	_, err = b.s.FindEvent(b.ctx, gone.ID)
	wantNotFound(t, err, "FindEvent of the settled event")
	if _, err := b.s.FindEvent(b.ctx, held.ID); err != nil {
		t.Errorf("FindEvent of the event with a pending delivery: %v", err)
	}
	sameIDs(t, deliveryIDs(b.deliveries(t, hookline.DeliveryFilter{EventID: held.ID})), taskIDs(r.Tasks),
		"deliveries of the event with a pending delivery")
	equal(t, len(mustAttempts(t, b, r.Tasks[0].DeliveryID)), 1, "attempts of its delivered delivery")
	b.wantStats(t, hookline.StoreStats{Pending: 1, Delivered: 1, Events: 1, Endpoints: 2})

	// Once settled, it goes too.
	b.tick()
	b.record(t, hookline.Outcome{Status: hookline.StatusDelivered,
		Attempt: hookline.Attempt{DeliveryID: r.Tasks[1].DeliveryID, Attempt: 2, StartedAt: b.now, StatusCode: 200}})
	if n, err := b.s.Prune(b.ctx, b.now, 10); err != nil || n != 1 {
		t.Errorf("Prune after settling = %d, %v; want 1", n, err)
	}
	b.wantStats(t, hookline.StoreStats{Endpoints: 2})
}

// testPruneManyDeliveries prunes an event with more deliveries than a store
// may delete at once.
func testPruneManyDeliveries(t *testing.T, b *bundle) {
	const endpoints, replays = 100, 14 // 1,500 deliveries
	for range endpoints {
		b.endpoint(t, "acme")
	}
	ev, r := b.send(t, "acme", "invoice.paid")
	ids := taskIDs(r.Tasks)
	for range replays {
		tasks, err := b.s.ReplayEvent(b.ctx, ev.ID, true, b.tick())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, taskIDs(tasks)...)
	}
	small, r2 := b.send(t, "acme", "user.created")
	ids = append(ids, taskIDs(r2.Tasks)...)
	now := b.tick()
	var outcomes []hookline.Outcome
	for _, id := range ids {
		outcomes = append(outcomes, hookline.Outcome{Status: hookline.StatusDelivered,
			Attempt: hookline.Attempt{DeliveryID: id, Attempt: 1, StartedAt: now, StatusCode: 200}})
	}
	if err := b.s.RecordOutcomes(b.ctx, outcomes, now); err != nil {
		t.Fatal(err)
	}
	b.wantStats(t, hookline.StoreStats{Delivered: int64(len(ids)), Events: 2, Endpoints: endpoints})
	n, err := b.s.Prune(b.ctx, b.advance(time.Minute), 1)
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	equal(t, n, 1, "events pruned with limit 1")
	_, err = b.s.FindEvent(b.ctx, ev.ID)
	wantNotFound(t, err, "FindEvent of the big event")
	equal(t, len(b.deliveries(t, hookline.DeliveryFilter{})), endpoints, "deliveries left")
	b.wantStats(t, hookline.StoreStats{Delivered: endpoints, Events: 1, Endpoints: endpoints})
	if n, err := b.s.Prune(b.ctx, b.now, 10); err != nil || n != 1 {
		t.Errorf("Prune of the rest = %d, %v; want 1", n, err)
	}
	_, err = b.s.FindEvent(b.ctx, small.ID)
	wantNotFound(t, err, "FindEvent of the second event")
	b.wantStats(t, hookline.StoreStats{Endpoints: endpoints})
}

// testPruneIdempotencyKeys checks that pruning an event does not free its
// idempotency key inside the window, and that pruning after the window
// leaves the key free.
func testPruneIdempotencyKeys(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	first := keyed(b.event("acme", "invoice.paid"), "k", "hash-a")
	r := b.ingest(t, false, first)
	b.tick()
	b.settle(t, single(t, r.Tasks).DeliveryID, hookline.StatusDelivered)
	if n, err := b.s.Prune(b.ctx, b.advance(time.Hour), 10); err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want 1", n, err)
	}
	b.tick()
	again := b.ingest(t, false, keyed(b.event("acme", "invoice.paid"), "k", "hash-a"))
	equal(t, again.Results[0].Duplicate, true, "Duplicate of a repeat after its event was pruned")
	equal(t, again.Results[0].ID, first.ID, "ID of a repeat after its event was pruned")
	b.wantStats(t, hookline.StoreStats{Events: 0, Delivered: 0, Endpoints: 1})

	b.advance(2 * hookline.IdempotencyWindow)
	if _, err := b.s.Prune(b.ctx, b.now, 10); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	b.tick()
	fresh := keyed(b.event("acme", "invoice.paid"), "k", "hash-b")
	r = b.ingest(t, false, fresh)
	equal(t, r.Results[0], hookline.IngestResult{ID: fresh.ID, Type: fresh.Type, Deliveries: 1}, "result of the key after the window")
}
