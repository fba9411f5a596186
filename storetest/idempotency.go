package storetest

import (
	"testing"
	"time"

	"github.com/hookline/hookline"
)

var idempotencyTests = []test{
	{"Duplicate", testIdempotencyDuplicate},
	{"Conflict", testIdempotencyConflict},
	{"ConflictInBatch", testIdempotencyConflictInBatch},
	{"PerTenant", testIdempotencyPerTenant},
	{"Window", testIdempotencyWindow},
	{"SameCall", testIdempotencySameCall},
	{"SameCallConflict", testIdempotencySameCallConflict},
	{"SameRequest", testIdempotencySameRequest},
	{"MixedRequest", testIdempotencyMixedRequest},
	{"NoKey", testIdempotencyNoKey},
}

// testIdempotencyDuplicate checks that a request repeated with its key
// answers the first result and writes nothing.
func testIdempotencyDuplicate(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	b.endpoint(t, "acme", "invoice.*")
	first := keyed(b.event("acme", "invoice.paid"), "order-1234", "hash-a")
	r1 := b.ingest(t, true, first)
	want := hookline.IngestResult{ID: first.ID, Type: first.Type, Deliveries: 2}
	equal(t, r1.Results[0], want, "first result")
	stats := b.stats(t)

	b.advance(time.Hour)
	again := keyed(b.event("acme", "invoice.paid"), "order-1234", "hash-a")
	r2 := b.ingest(t, true, again)
	want.Duplicate = true
	equal(t, r2.Results[0], want, "result of the repeat")
	equal(t, len(r2.Tasks), 0, "tasks of the repeat")
	_, err := b.s.FindEvent(b.ctx, again.ID)
	wantNotFound(t, err, "FindEvent of the repeated event")
	equal(t, len(b.deliveries(t, hookline.DeliveryFilter{})), 2, "deliveries")
	b.wantStats(t, stats)
}

// testIdempotencyConflict checks that a key reused with another request
// hash fails that request only.
func testIdempotencyConflict(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	first := keyed(b.event("acme", "invoice.paid"), "order-1", "hash-a")
	b.ingest(t, false, first)
	stats := b.stats(t)

	b.tick()
	bad := &hookline.IngestRequest{Events: []*hookline.Event{keyed(b.event("acme", "invoice.paid"), "order-1", "hash-b")}}
	good := &hookline.IngestRequest{Events: []*hookline.Event{b.event("acme", "user.created")}}
	if err := b.s.Ingest(b.ctx, []*hookline.IngestRequest{bad, good}, b.now); err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	wantCode(t, bad.Err, hookline.ECONFLICT, "the conflicting request's Err")
	equal(t, len(bad.Tasks), 0, "tasks of the conflicting request")
	_, err := b.s.FindEvent(b.ctx, bad.Events[0].ID)
	wantNotFound(t, err, "FindEvent of the conflicting event")
	if good.Err != nil {
		t.Fatalf("the other request: %v", good.Err)
	}
	equal(t, good.Results[0].Deliveries, 1, "Deliveries of the other request")
	if _, err := b.s.FindEvent(b.ctx, good.Events[0].ID); err != nil {
		t.Errorf("FindEvent of the other request's event: %v", err)
	}
	stats.Events++
	stats.Pending++
	b.wantStats(t, stats)
	// The key still answers the first request.
	r := b.ingest(t, false, keyed(b.event("acme", "invoice.paid"), "order-1", "hash-a"))
	equal(t, r.Results[0], hookline.IngestResult{ID: first.ID, Type: first.Type, Deliveries: 1, Duplicate: true}, "result of a repeat after the conflict")
}

// testIdempotencyConflictInBatch checks that a request with one conflicting
// event writes none of its events, not even the others.
func testIdempotencyConflictInBatch(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	b.ingest(t, false, keyed(b.event("acme", "invoice.paid"), "k2", "hash-a"))
	stats := b.stats(t)
	fresh := keyed(b.event("acme", "invoice.paid"), "k1", "hash-1")
	plain := b.event("acme", "invoice.paid")
	bad := keyed(b.event("acme", "invoice.paid"), "k2", "hash-b")
	r := &hookline.IngestRequest{Events: []*hookline.Event{fresh, plain, bad}, Claim: true}
	if err := b.s.Ingest(b.ctx, []*hookline.IngestRequest{r}, b.tick()); err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	wantCode(t, r.Err, hookline.ECONFLICT, "Err")
	for _, ev := range r.Events {
		_, err := b.s.FindEvent(b.ctx, ev.ID)
		wantNotFound(t, err, "FindEvent of an event of the conflicting request")
	}
	b.wantStats(t, stats)
	// Its other key was not taken: it is free for another body.
	r2 := b.ingest(t, false, keyed(b.event("acme", "invoice.paid"), "k1", "hash-other"))
	equal(t, r2.Results[0].Duplicate, false, "Duplicate of a key of a failed request")
}

func testIdempotencyPerTenant(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	b.endpoint(t, "globex")
	b.endpoint(t, "")
	var ids []string
	for _, tenant := range []string{"acme", "globex", ""} {
		ev := keyed(b.event(tenant, "invoice.paid"), "same-key", "hash-"+tenant)
		r := b.ingest(t, false, ev)
		equal(t, r.Results[0], hookline.IngestResult{ID: ev.ID, Type: ev.Type, Deliveries: 1}, "result in tenant "+tenant)
		ids = append(ids, ev.ID)
	}
	// And each tenant's key answers its own first request.
	for i, tenant := range []string{"acme", "globex", ""} {
		r := b.ingest(t, false, keyed(b.event(tenant, "invoice.paid"), "same-key", "hash-"+tenant))
		equal(t, r.Results[0].ID, ids[i], "ID of a repeat in tenant "+tenant)
		equal(t, r.Results[0].Duplicate, true, "Duplicate of a repeat in tenant "+tenant)
	}
	b.wantStats(t, hookline.StoreStats{Pending: 3, Events: 3, Endpoints: 3})
}

// testIdempotencyWindow checks that a key is remembered for
// IdempotencyWindow after its first use, and free after that.
func testIdempotencyWindow(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	first := keyed(b.event("acme", "invoice.paid"), "k", "hash-a")
	b.ingest(t, false, first)
	used := b.now

	b.now = used.Add(hookline.IdempotencyWindow - time.Second)
	r := b.ingest(t, false, keyed(b.event("acme", "invoice.paid"), "k", "hash-a"))
	equal(t, r.Results[0].ID, first.ID, "ID of a repeat just inside the window")
	equal(t, r.Results[0].Duplicate, true, "Duplicate just inside the window")
	bad := &hookline.IngestRequest{Events: []*hookline.Event{keyed(b.event("acme", "invoice.paid"), "k", "hash-b")}}
	if err := b.s.Ingest(b.ctx, []*hookline.IngestRequest{bad}, b.now); err != nil {
		t.Fatal(err)
	}
	wantCode(t, bad.Err, hookline.ECONFLICT, "another body just inside the window")

	// Past the window the key is free, for any body, and then remembered
	// anew.
	b.now = used.Add(hookline.IdempotencyWindow + time.Second)
	second := keyed(b.event("acme", "invoice.paid"), "k", "hash-b")
	r = b.ingest(t, false, second)
	equal(t, r.Results[0], hookline.IngestResult{ID: second.ID, Type: second.Type, Deliveries: 1}, "result past the window")
	b.tick()
	r = b.ingest(t, false, keyed(b.event("acme", "invoice.paid"), "k", "hash-b"))
	equal(t, r.Results[0].ID, second.ID, "ID of a repeat of the new use")
	equal(t, r.Results[0].Duplicate, true, "Duplicate of a repeat of the new use")
	b.wantStats(t, hookline.StoreStats{Pending: 2, Events: 2, Endpoints: 1})
}

// testIdempotencySameCall checks that the second of two requests with the
// same key in one Ingest call is a duplicate of the first.
func testIdempotencySameCall(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	b.endpoint(t, "acme")
	r1 := &hookline.IngestRequest{Events: []*hookline.Event{keyed(b.event("acme", "invoice.paid"), "k", "hash-a")}, Claim: true}
	r2 := &hookline.IngestRequest{Events: []*hookline.Event{keyed(b.event("acme", "invoice.paid"), "k", "hash-a")}, Claim: true}
	if err := b.s.Ingest(b.ctx, []*hookline.IngestRequest{r1, r2}, b.tick()); err != nil {
		t.Fatal(err)
	}
	if r1.Err != nil || r2.Err != nil {
		t.Fatalf("request errors: %v, %v", r1.Err, r2.Err)
	}
	first := r1.Events[0]
	equal(t, r1.Results[0], hookline.IngestResult{ID: first.ID, Type: first.Type, Deliveries: 2}, "first result")
	equal(t, r2.Results[0], hookline.IngestResult{ID: first.ID, Type: first.Type, Deliveries: 2, Duplicate: true}, "second result")
	equal(t, len(r1.Tasks), 2, "tasks of the first request")
	equal(t, len(r2.Tasks), 0, "tasks of the second request")
	_, err := b.s.FindEvent(b.ctx, r2.Events[0].ID)
	wantNotFound(t, err, "FindEvent of the duplicate")
	b.wantStats(t, hookline.StoreStats{Pending: 2, Events: 1, Endpoints: 2})
}

func testIdempotencySameCallConflict(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	r1 := &hookline.IngestRequest{Events: []*hookline.Event{keyed(b.event("acme", "invoice.paid"), "k", "hash-a")}}
	r2 := &hookline.IngestRequest{Events: []*hookline.Event{keyed(b.event("acme", "invoice.paid"), "k", "hash-b")}}
	r3 := &hookline.IngestRequest{Events: []*hookline.Event{keyed(b.event("acme", "invoice.paid"), "k", "hash-a")}}
	if err := b.s.Ingest(b.ctx, []*hookline.IngestRequest{r1, r2, r3}, b.tick()); err != nil {
		t.Fatal(err)
	}
	if r1.Err != nil || r3.Err != nil {
		t.Fatalf("request errors: %v, %v", r1.Err, r3.Err)
	}
	wantCode(t, r2.Err, hookline.ECONFLICT, "Err of the second request")
	equal(t, r3.Results[0].ID, r1.Events[0].ID, "ID of the third request")
	equal(t, r3.Results[0].Duplicate, true, "Duplicate of the third request")
	b.wantStats(t, hookline.StoreStats{Pending: 1, Events: 1, Endpoints: 1})
}

// testIdempotencySameRequest checks two events with the same key in one
// request: the second repeats the first.
func testIdempotencySameRequest(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	a := keyed(b.event("acme", "invoice.paid"), "k", "hash-a")
	a2 := keyed(b.event("acme", "invoice.paid"), "k", "hash-a")
	r := b.ingest(t, false, a, a2)
	equal(t, r.Results[0], hookline.IngestResult{ID: a.ID, Type: a.Type, Deliveries: 1}, "Results[0]")
	equal(t, r.Results[1], hookline.IngestResult{ID: a.ID, Type: a.Type, Deliveries: 1, Duplicate: true}, "Results[1]")
	b.wantStats(t, hookline.StoreStats{Pending: 1, Events: 1, Endpoints: 1})

	c := keyed(b.event("acme", "invoice.paid"), "k2", "hash-a")
	c2 := keyed(b.event("acme", "invoice.paid"), "k2", "hash-b")
	bad := &hookline.IngestRequest{Events: []*hookline.Event{c, c2}}
	if err := b.s.Ingest(b.ctx, []*hookline.IngestRequest{bad}, b.tick()); err != nil {
		t.Fatal(err)
	}
	wantCode(t, bad.Err, hookline.ECONFLICT, "Err of a request using a key with two bodies")
	_, err := b.s.FindEvent(b.ctx, c.ID)
	wantNotFound(t, err, "FindEvent of its first event")
	b.wantStats(t, hookline.StoreStats{Pending: 1, Events: 1, Endpoints: 1})
}

// testIdempotencyMixedRequest checks a request of new events and repeats.
func testIdempotencyMixedRequest(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	old := keyed(b.event("acme", "invoice.paid"), "old", "hash-old")
	b.ingest(t, false, old)
	fresh := keyed(b.event("acme", "invoice.paid"), "new", "hash-new")
	repeat := keyed(b.event("acme", "invoice.paid"), "old", "hash-old")
	plain := b.event("acme", "user.created")
	r := b.ingest(t, true, fresh, repeat, plain)
	equal(t, r.Results[0], hookline.IngestResult{ID: fresh.ID, Type: fresh.Type, Deliveries: 1}, "Results[0]")
	equal(t, r.Results[1], hookline.IngestResult{ID: old.ID, Type: old.Type, Deliveries: 1, Duplicate: true}, "Results[1]")
	equal(t, r.Results[2], hookline.IngestResult{ID: plain.ID, Type: plain.Type, Deliveries: 1}, "Results[2]")
	var events []string
	for _, task := range r.Tasks {
		events = append(events, task.EventID)
	}
	sameIDs(t, events, []string{fresh.ID, plain.ID}, "events of the tasks")
	b.wantStats(t, hookline.StoreStats{Pending: 3, Events: 3, Endpoints: 1})
}

func testIdempotencyNoKey(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	a := b.event("acme", "invoice.paid")
	a2 := b.event("acme", "invoice.paid")
	a2.Data = a.Data
	b.ingest(t, false, a)
	r := b.ingest(t, false, a2)
	equal(t, r.Results[0].Duplicate, false, "Duplicate of an event without a key")
	b.wantStats(t, hookline.StoreStats{Pending: 2, Events: 2, Endpoints: 1})
}
