package storetest

import (
	"testing"
	"time"

	"github.com/hookline/hookline"
)

var statsTests = []test{
	{"Empty", testStatsEmpty},
	{"Lifecycle", testStatsLifecycle},
}

func testStatsEmpty(t *testing.T, b *bundle) {
	if err := b.s.Ping(b.ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	b.wantStats(t, hookline.StoreStats{})
	eps, next, err := b.s.FindEndpoints(b.ctx, hookline.EndpointFilter{})
	if err != nil || len(eps) != 0 || next != "" {
		t.Errorf("FindEndpoints of an empty store = %d, %q, %v", len(eps), next, err)
	}
	ds, next, err := b.s.FindDeliveries(b.ctx, hookline.DeliveryFilter{})
	if err != nil || len(ds) != 0 || next != "" {
		t.Errorf("FindDeliveries of an empty store = %d, %q, %v", len(ds), next, err)
	}
	if tasks := b.claim(t, b.now); len(tasks) != 0 {
		t.Errorf("ClaimDue of an empty store = %v", taskIDs(tasks))
	}
	if err := b.s.ResetClaims(b.ctx, nil); err != nil {
		t.Errorf("ResetClaims of an empty store: %v", err)
	}
	if err := b.s.RecordOutcomes(b.ctx, nil, b.now); err != nil {
		t.Errorf("RecordOutcomes(nil): %v", err)
	}
	if n, err := b.s.Prune(b.ctx, b.now, 100); err != nil || n != 0 {
		t.Errorf("Prune of an empty store = %d, %v", n, err)
	}
}

// testStatsLifecycle follows the counts through every kind of write.
func testStatsLifecycle(t *testing.T, b *bundle) {
	want := hookline.StoreStats{}
	check := func(step string) {
		t.Helper()
		t.Run(step, func(t *testing.T) { b.wantStats(t, want) })
	}
	a := b.endpoint(t, "acme")
	b.endpoint(t, "acme", "user.*")
	b.disabledEndpoint(t, "acme")
	want.Endpoints, want.EndpointsDisabled = 3, 1
	check("endpoints")

	_, r1 := b.send(t, "acme", "invoice.paid")
	_, r2 := b.send(t, "acme", "user.created")
	b.send(t, "globex", "user.created")
	want.Events, want.Pending = 3, 3
	check("ingest")

	claimed := b.claim(t, b.tick())
	equal(t, len(claimed), 3, "claimed")
	check("claim")

	b.tick()
	b.settle(t, single(t, r1.Tasks).DeliveryID, hookline.StatusDelivered)
	for _, task := range r2.Tasks {
		b.settle(t, task.DeliveryID, hookline.StatusFailed)
	}
	want.Pending, want.Delivered, want.Failed = 0, 1, 2
	check("outcomes")

	if _, err := b.s.RetryDelivery(b.ctx, r2.Tasks[0].DeliveryID, b.tick()); err != nil {
		t.Fatal(err)
	}
	want.Pending, want.Failed = 1, 1
	check("retry")

	other := r2.Tasks[1]
	if n, err := b.s.RecoverEndpoint(b.ctx, other.Endpoint.ID, time.Time{}, b.tick()); err != nil || n != 1 {
		t.Fatalf("RecoverEndpoint = %d, %v", n, err)
	}
	want.Pending, want.Failed = 2, 0
	check("recover")

	if _, err := b.s.ReplayEvent(b.ctx, r1.Results[0].ID, false, b.tick()); err != nil {
		t.Fatal(err)
	}
	want.Pending = 3
	check("replay")

	b.deleteEndpoint(t, a.ID)
	// a had r1's delivered delivery, its replay, and one of r2's.
	want.Endpoints, want.Pending, want.Delivered = 2, 1, 0
	check("delete endpoint")

	b.tick()
	for _, task := range b.claim(t, b.now) {
		b.settle(t, task.DeliveryID, hookline.StatusDelivered)
	}
	want.Pending, want.Delivered = 0, 1
	check("deliver the rest")

	if n, err := b.s.Prune(b.ctx, b.advance(time.Hour), 100); err != nil || n != 3 {
		t.Fatalf("Prune = %d, %v; want 3", n, err)
	}
	want.Events, want.Delivered = 0, 0
	check("prune")
}
