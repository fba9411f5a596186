package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

var atomicityTests = []test{
	{"CancelledContext", testAtomicityCancelledContext},
	{"FailedIngest", testAtomicityFailedIngest},
}

// testAtomicityCancelledContext calls every write with a cancelled context.
// A store may fail the call or complete it, but never do half of it; and it
// must work normally afterwards.
func testAtomicityCancelledContext(t *testing.T, b *bundle) {
	ep := b.endpoint(t, "acme")
	b.endpoint(t, "acme")
	_, claimed := b.ingestClaimed(t)
	_, due := b.send(t, "acme", "invoice.paid")
	stats := b.stats(t)
	ctx, cancel := context.WithCancel(b.ctx)
	cancel()

	t.Run("Ingest", func(t *testing.T) {
		ev := b.event("acme", "invoice.paid")
		r := &hookline.IngestRequest{Events: []*hookline.Event{ev}, Claim: true}
		err := b.s.Ingest(ctx, []*hookline.IngestRequest{r}, b.now)
		if err == nil {
			t.Logf("Ingest with a cancelled context succeeded")
			equal(t, len(b.deliveries(t, hookline.DeliveryFilter{EventID: ev.ID})), 2, "deliveries written")
			stats.Events++
			stats.Pending += 2
			return
		}
		_, err = b.s.FindEvent(b.ctx, ev.ID)
		wantNotFound(t, err, "FindEvent after a failed Ingest")
		equal(t, len(b.deliveries(t, hookline.DeliveryFilter{EventID: ev.ID})), 0, "deliveries after a failed Ingest")
		b.wantStats(t, stats)
	})
	t.Run("CreateEndpoint", func(t *testing.T) {
		e := b.newEndpoint("acme")
		if err := b.s.CreateEndpoint(ctx, e); err == nil {
			stats.Endpoints++
			if _, err := b.s.FindEndpoint(b.ctx, e.ID); err != nil {
				t.Errorf("FindEndpoint after a successful CreateEndpoint: %v", err)
			}
			return
		}
		_, err := b.s.FindEndpoint(b.ctx, e.ID)
		wantNotFound(t, err, "FindEndpoint after a failed CreateEndpoint")
		// And it does not fan out.
		_, r := b.send(t, "acme", "x")
		for _, task := range r.Tasks {
			if task.Endpoint.ID == e.ID {
				t.Error("an endpoint whose creation failed gets deliveries")
			}
		}
		stats.Events++
		stats.Pending += int64(len(r.Tasks))
		b.wantStats(t, stats)
	})
	t.Run("UpdateEndpoint", func(t *testing.T) {
		before, err := b.s.FindEndpoint(b.ctx, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		u := hookline.EndpointUpdate{URL: ptr("https://changed.example/"), Disabled: ptr(true)}
		if _, err := b.s.UpdateEndpoint(ctx, ep.ID, u, b.tick()); err == nil {
			got, _ := b.s.FindEndpoint(b.ctx, ep.ID)
			equal(t, got.URL, "https://changed.example/", "URL after a successful update")
			equal(t, got.Disabled, true, "Disabled after a successful update")
			_, err = b.s.UpdateEndpoint(b.ctx, ep.ID, hookline.EndpointUpdate{URL: &before.URL, Disabled: ptr(false)}, b.tick())
			if err != nil {
				t.Fatal(err)
			}
			return
		}
		got, err := b.s.FindEndpoint(b.ctx, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEndpoint(t, got, before)
		// Still enabled for fan-out.
		_, r := b.send(t, "acme", "x")
		found := false
		for _, task := range r.Tasks {
			found = found || task.Endpoint.ID == ep.ID
		}
		if !found {
			t.Error("an endpoint whose update to disabled failed gets no deliveries")
		}
		stats.Events++
		stats.Pending += int64(len(r.Tasks))
	})
	t.Run("ClaimDue", func(t *testing.T) {
		tasks, err := claimAll(ctx, b.s, nil, b.now, hookline.MaxLimit)
		if err == nil {
			t.Logf("ClaimDue with a cancelled context succeeded")
			if err := b.s.Unclaim(b.ctx, taskIDs(tasks)); err != nil {
				t.Fatal(err)
			}
		}
		// Whatever happened, nothing is lost: unclaimed ones are due.
		got := b.claim(t, b.now)
		if len(got) < len(due.Tasks) {
			t.Errorf("ClaimDue after a cancelled ClaimDue found %d deliveries, want at least %d", len(got), len(due.Tasks))
		}
		if err := b.s.Unclaim(b.ctx, taskIDs(got)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("RecordOutcomes", func(t *testing.T) {
		now := b.tick()
		outcomes := []hookline.Outcome{
			{Status: hookline.StatusDelivered, Attempt: hookline.Attempt{DeliveryID: claimed.Tasks[0].DeliveryID, Attempt: 1, StartedAt: now, StatusCode: 200}},
			{Status: hookline.StatusFailed, Attempt: hookline.Attempt{DeliveryID: claimed.Tasks[1].DeliveryID, Attempt: 1, StartedAt: now, StatusCode: 500}},
		}
		if err := b.s.RecordOutcomes(ctx, outcomes, now); err == nil {
			t.Logf("RecordOutcomes with a cancelled context succeeded")
			equal(t, b.delivery(t, claimed.Tasks[0].DeliveryID).Status, hookline.StatusDelivered, "Status")
			equal(t, b.delivery(t, claimed.Tasks[1].DeliveryID).Status, hookline.StatusFailed, "Status")
			stats.Pending -= 2
			stats.Delivered++
			stats.Failed++
			return
		}
		for _, task := range claimed.Tasks {
			d := b.delivery(t, task.DeliveryID)
			equal(t, d.Status, hookline.StatusPending, "Status after a failed RecordOutcomes")
			equal(t, d.Attempts, 0, "Attempts after a failed RecordOutcomes")
			equal(t, len(mustAttempts(t, b, task.DeliveryID)), 0, "attempts after a failed RecordOutcomes")
		}
		b.wantStats(t, stats)
	})
	t.Run("RetryDelivery", func(t *testing.T) {
		id := due.Tasks[0].DeliveryID
		before := b.delivery(t, id)
		if _, err := b.s.RetryDelivery(ctx, id, b.advance(time.Hour)); err == nil {
			t.Logf("RetryDelivery with a cancelled context succeeded")
			return
		}
		after := b.delivery(t, id)
		timePtr(t, after.NextAttemptAt, *before.NextAttemptAt, "NextAttemptAt after a failed RetryDelivery")
		sameTime(t, after.UpdatedAt, before.UpdatedAt, "UpdatedAt after a failed RetryDelivery")
	})
	t.Run("ReplayEvent", func(t *testing.T) {
		evID := due.Results[0].ID
		n := len(b.deliveries(t, hookline.DeliveryFilter{EventID: evID}))
		tasks, err := b.s.ReplayEvent(ctx, evID, false, b.tick())
		if err == nil {
			equal(t, len(b.deliveries(t, hookline.DeliveryFilter{EventID: evID})), n+len(tasks), "deliveries after a replay")
			stats.Pending += int64(len(tasks))
			return
		}
		equal(t, len(b.deliveries(t, hookline.DeliveryFilter{EventID: evID})), n, "deliveries after a failed replay")
		b.wantStats(t, stats)
	})
	t.Run("DeleteEndpoint", func(t *testing.T) {
		if _, err := b.s.DeleteEndpoint(ctx, ep.ID, b.tick()); err == nil {
			t.Logf("DeleteEndpoint with a cancelled context succeeded")
			return
		}
		if _, err := b.s.FindEndpoint(b.ctx, ep.ID); err != nil {
			t.Errorf("FindEndpoint after a failed DeleteEndpoint: %v", err)
		}
		if len(b.deliveries(t, hookline.DeliveryFilter{EndpointID: ep.ID})) == 0 {
			t.Error("a failed DeleteEndpoint deleted the endpoint's deliveries")
		}
		b.wantStats(t, stats)
	})
	// The store still works.
	if err := b.s.Ping(b.ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	ev, r := b.send(t, "acme", "after.cancel")
	if len(r.Tasks) == 0 {
		t.Errorf("no deliveries of event %s after the cancelled calls", ev.ID)
	}
}

// testAtomicityFailedIngest makes an Ingest call fail as a whole, with an
// event ID that is already taken, and checks that none of its requests was
// written; or, should the store turn the bad request away alone, that the
// other request was written whole and the taken ID not overwritten.
func testAtomicityFailedIngest(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	b.endpoint(t, "acme")
	taken, _ := b.send(t, "acme", "invoice.paid")
	stats := b.stats(t)

	good := &hookline.IngestRequest{Events: []*hookline.Event{
		keyed(b.event("acme", "invoice.paid"), "good-key", "hash"), b.event("acme", "user.created"),
	}, Claim: true}
	clash := b.event("acme", "user.deleted")
	clash.ID = taken.ID
	bad := &hookline.IngestRequest{Events: []*hookline.Event{b.event("acme", "user.created"), clash}}
	err := b.s.Ingest(b.ctx, []*hookline.IngestRequest{good, bad}, b.tick())
	switch {
	case err != nil:
		for _, r := range []*hookline.IngestRequest{good, bad} {
			for _, ev := range r.Events[:1] {
				_, err := b.s.FindEvent(b.ctx, ev.ID)
				wantNotFound(t, err, "FindEvent of an event of a failed Ingest")
			}
		}
		b.wantStats(t, stats)
		// The key of the failed call is free.
		r := b.ingest(t, false, keyed(b.event("acme", "invoice.paid"), "good-key", "other-hash"))
		equal(t, r.Results[0].Duplicate, false, "Duplicate of a key of a failed Ingest")
	case bad.Err != nil && good.Err == nil:
		for _, ev := range good.Events {
			if _, err := b.s.FindEvent(b.ctx, ev.ID); err != nil {
				t.Errorf("FindEvent of the good request's event: %v", err)
			}
		}
		_, err := b.s.FindEvent(b.ctx, bad.Events[0].ID)
		wantNotFound(t, err, "FindEvent of the bad request's other event")
	default:
		t.Fatalf("Ingest of an event with a taken ID: err %v, request errors %v, %v", err, good.Err, bad.Err)
	}
	got, err := b.s.FindEvent(b.ctx, taken.ID)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, got.Type, taken.Type, "Type of the event whose ID was reused")
	if !bytes.Equal(got.Data, taken.Data) {
		t.Errorf("Data of the event whose ID was reused = %s, want %s", got.Data, taken.Data)
	}
	equal(t, len(b.deliveries(t, hookline.DeliveryFilter{EventID: taken.ID})), 2, "deliveries of the event whose ID was reused")
}
