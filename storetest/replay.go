package storetest

import (
	"testing"
	"time"

	"github.com/hookline/hookline"
)

var replayTests = []test{
	{"Replay", testReplay},
	{"Claimed", testReplayClaimed},
	{"Missing", testReplayMissing},
}

// testReplay replays an event to the endpoints that match it now: not the
// ones since disabled or unsubscribed, and ones created since.
func testReplay(t *testing.T, b *bundle) {
	stays := b.endpoint(t, "acme")
	leaves := b.endpoint(t, "acme", "invoice.*")
	disabled := b.endpoint(t, "acme")
	ev, r := b.send(t, "acme", "invoice.paid")
	first := taskIDs(r.Tasks)
	b.tick()
	for _, id := range first {
		b.settle(t, id, hookline.StatusDelivered)
	}
	if _, err := b.s.UpdateEndpoint(b.ctx, leaves.ID, hookline.EndpointUpdate{EventTypes: ptr([]string{"user.*"})}, b.tick()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.s.UpdateEndpoint(b.ctx, disabled.ID, hookline.EndpointUpdate{Disabled: ptr(true)}, b.tick()); err != nil {
		t.Fatal(err)
	}
	joins := b.endpoint(t, "acme", "invoice.paid")
	b.endpoint(t, "globex")

	now := b.advance(time.Hour)
	tasks, err := b.s.ReplayEvent(b.ctx, ev.ID, false, now)
	if err != nil {
		t.Fatalf("ReplayEvent: %v", err)
	}
	sameIDs(t, taskEndpoints(tasks), []string{stays.ID, joins.ID}, "endpoints of the replay")
	for _, task := range tasks {
		ep := stays
		if task.Endpoint.ID == joins.ID {
			ep = joins
		}
		wantTask(t, task, ev, ep)
		equal(t, task.Attempts, 0, "task Attempts")
		for _, id := range first {
			if task.DeliveryID == id {
				t.Errorf("the replay reused delivery %s", id)
			}
		}
		d := b.delivery(t, task.DeliveryID)
		equal(t, d.Status, hookline.StatusPending, "Status of a replayed delivery")
		equal(t, d.EventID, ev.ID, "EventID of a replayed delivery")
		timePtr(t, d.NextAttemptAt, now, "NextAttemptAt of a replayed delivery")
	}
	// The first deliveries are untouched; the event's count is of its
	// ingest.
	for _, id := range first {
		equal(t, b.delivery(t, id).Status, hookline.StatusDelivered, "Status of a first delivery")
	}
	got, err := b.s.FindEvent(b.ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, got.Deliveries, 3, "Deliveries of the replayed event")
	equal(t, len(b.deliveries(t, hookline.DeliveryFilter{EventID: ev.ID})), 5, "deliveries of the event")
	b.wantStats(t, hookline.StoreStats{Pending: 2, Delivered: 3, Events: 1, Endpoints: 5, EndpointsDisabled: 1})
	// Unclaimed: ClaimDue returns them.
	sameIDs(t, taskIDs(b.claim(t, now)), taskIDs(tasks), "ClaimDue after an unclaimed replay")
}

func testReplayClaimed(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	ev, r := b.send(t, "acme", "invoice.paid")
	sameIDs(t, taskIDs(b.claim(t, b.now)), taskIDs(r.Tasks), "ClaimDue")
	tasks, err := b.s.ReplayEvent(b.ctx, ev.ID, true, b.tick())
	if err != nil {
		t.Fatalf("ReplayEvent: %v", err)
	}
	equal(t, len(tasks), 1, "tasks of the replay")
	sameIDs(t, taskIDs(b.claim(t, b.advance(time.Hour))), nil, "ClaimDue after a claimed replay")
	b.wantStats(t, hookline.StoreStats{Pending: 2, Events: 1, Endpoints: 1})
}

func testReplayMissing(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	_, err := b.s.ReplayEvent(b.ctx, hookline.NewID(hookline.EventPrefix, b.now), false, b.tick())
	wantNotFound(t, err, "ReplayEvent of an unknown event")
	b.wantStats(t, hookline.StoreStats{Endpoints: 1})
}
