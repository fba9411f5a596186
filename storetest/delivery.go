package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

var deliveryTests = []test{
	{"FindMissing", testDeliveryFindMissing},
	{"Filters", testDeliveryFilters},
	{"Pages", testDeliveryPages},
	{"Retry", testDeliveryRetry},
	{"RetryDelivered", testDeliveryRetryDelivered},
	{"RetryMissing", testDeliveryRetryMissing},
	{"Recover", testDeliveryRecover},
	{"RecoverMissing", testDeliveryRecoverMissing},
}

func testDeliveryFindMissing(t *testing.T, b *bundle) {
	b.oneDelivery(t)
	_, err := b.s.FindDelivery(b.ctx, hookline.NewID(hookline.DeliveryPrefix, b.now))
	wantNotFound(t, err, "FindDelivery of an unknown ID")
}

// testDeliveryFilters lists deliveries by event, endpoint and status, and
// combinations, newest first.
func testDeliveryFilters(t *testing.T, b *bundle) {
	e1 := b.endpoint(t, "acme")
	e2 := b.endpoint(t, "acme")
	var all []*hookline.Delivery // in the order made
	var events []*hookline.Event
	for range 3 {
		ev, r := b.send(t, "acme", "invoice.paid")
		events = append(events, ev)
		for _, task := range r.Tasks {
			all = append(all, b.delivery(t, task.DeliveryID))
		}
	}
	b.tick()
	// Settle some: the first event's delivery to e1 delivered, the second
	// event's to e2 failed.
	status := map[string]hookline.DeliveryStatus{}
	for _, d := range all {
		status[d.ID] = hookline.StatusPending
		switch {
		case d.EventID == events[0].ID && d.EndpointID == e1.ID:
			status[d.ID] = hookline.StatusDelivered
		case d.EventID == events[1].ID && d.EndpointID == e2.ID:
			status[d.ID] = hookline.StatusFailed
		}
		if status[d.ID] != hookline.StatusPending {
			b.settle(t, d.ID, status[d.ID])
		}
	}
	sel := func(keep func(d *hookline.Delivery) bool) []string {
		var ids []string
		for _, d := range all {
			if keep(d) {
				ids = append(ids, d.ID)
			}
		}
		return reverseSorted(ids)
	}
	for _, tc := range []struct {
		name string
		f    hookline.DeliveryFilter
		want []string
	}{
		{"All", hookline.DeliveryFilter{}, sel(func(*hookline.Delivery) bool { return true })},
		{"Event", hookline.DeliveryFilter{EventID: events[1].ID}, sel(func(d *hookline.Delivery) bool { return d.EventID == events[1].ID })},
		{"Endpoint", hookline.DeliveryFilter{EndpointID: e1.ID}, sel(func(d *hookline.Delivery) bool { return d.EndpointID == e1.ID })},
		{"Pending", hookline.DeliveryFilter{Status: hookline.StatusPending}, sel(func(d *hookline.Delivery) bool { return status[d.ID] == hookline.StatusPending })},
		{"Delivered", hookline.DeliveryFilter{Status: hookline.StatusDelivered}, sel(func(d *hookline.Delivery) bool { return status[d.ID] == hookline.StatusDelivered })},
		{"Failed", hookline.DeliveryFilter{Status: hookline.StatusFailed}, sel(func(d *hookline.Delivery) bool { return status[d.ID] == hookline.StatusFailed })},
		{"EventStatus", hookline.DeliveryFilter{EventID: events[1].ID, Status: hookline.StatusPending},
			sel(func(d *hookline.Delivery) bool {
				return d.EventID == events[1].ID && status[d.ID] == hookline.StatusPending
			})},
		{"EndpointStatus", hookline.DeliveryFilter{EndpointID: e2.ID, Status: hookline.StatusFailed},
			sel(func(d *hookline.Delivery) bool { return d.EndpointID == e2.ID && status[d.ID] == hookline.StatusFailed })},
		{"EventEndpoint", hookline.DeliveryFilter{EventID: events[2].ID, EndpointID: e2.ID},
			sel(func(d *hookline.Delivery) bool { return d.EventID == events[2].ID && d.EndpointID == e2.ID })},
		{"None", hookline.DeliveryFilter{EventID: events[0].ID, Status: hookline.StatusFailed}, nil},
		{"UnknownEvent", hookline.DeliveryFilter{EventID: "evt_unknown"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := b.s.FindDeliveries(b.ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if ids := deliveryIDs(got); !slices.Equal(ids, tc.want) {
				t.Errorf("FindDeliveries(%+v) = %v, want %v", tc.f, ids, tc.want)
			}
			equal(t, next, "", "next cursor")
			for _, d := range got {
				equal(t, d.Tenant, "acme", "Tenant")
				equal(t, d.EventType, "invoice.paid", "EventType")
				equal(t, d.Status, status[d.ID], "Status")
			}
		})
	}
	// The newest event's deliveries come first.
	got, _, err := b.s.FindDeliveries(b.ctx, hookline.DeliveryFilter{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range got {
		equal(t, d.EventID, events[2].ID, "EventID of the newest deliveries")
	}
}

func testDeliveryPages(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	b.endpoint(t, "acme")
	other := b.endpoint(t, "acme", "user.*")
	var want []string
	for range 5 {
		_, r := b.send(t, "acme", "invoice.paid")
		want = append(want, taskIDs(r.Tasks)...)
		b.send(t, "acme", "user.created") // deliveries to every endpoint
	}
	want = reverseSorted(want)
	for _, f := range []hookline.DeliveryFilter{
		{Status: hookline.StatusPending},
		{EndpointID: other.ID},
	} {
		all := b.deliveries(t, f)
		if f.EndpointID == "" {
			equal(t, len(all), 10+15, "pending deliveries")
		}
		for _, limit := range []int{1, 3, 4, len(all), len(all) + 1} {
			var got []string
			f.Cursor, f.Limit = "", limit
			for page := 0; ; page++ {
				if page > len(all) {
					t.Fatalf("%+v: more pages than deliveries", f)
				}
				ds, next, err := b.s.FindDeliveries(b.ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if len(ds) > limit {
					t.Fatalf("%+v: a page of %d", f, len(ds))
				}
				got = append(got, deliveryIDs(ds)...)
				if next == "" {
					if len(ds) == 0 && page > 0 {
						t.Errorf("%+v: an empty last page; the page before it should have had no cursor", f)
					}
					break
				}
				if len(ds) != limit {
					t.Errorf("%+v: a page of %d before the last", f, len(ds))
				}
				f.Cursor = next
			}
			if !slices.Equal(got, deliveryIDs(all)) {
				t.Errorf("%+v: pages = %v, want %v", f, got, deliveryIDs(all))
			}
			if !slices.Equal(got, reverseSorted(got)) {
				t.Errorf("%+v: not newest first: %v", f, got)
			}
		}
	}
	// Only the invoice deliveries of the first two endpoints, by event.
	var invoices []string
	for _, d := range b.deliveries(t, hookline.DeliveryFilter{}) {
		if d.EventType == "invoice.paid" {
			invoices = append(invoices, d.ID)
		}
	}
	if !slices.Equal(invoices, want) {
		t.Errorf("invoice deliveries = %v, want %v", invoices, want)
	}
	// Limit 0 is DefaultLimit.
	ds, next, err := b.s.FindDeliveries(b.ctx, hookline.DeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 25 || next != "" {
		t.Errorf("Limit 0: %d deliveries, next %q; want 25, \"\"", len(ds), next)
	}
}

// failTwice records two failed attempts of a delivery, the second final.
func (b *bundle) failTwice(t *testing.T, id string) {
	t.Helper()
	start := b.tick()
	b.record(t, hookline.Outcome{Status: hookline.StatusPending, NextAttemptAt: start.Add(time.Second),
		Attempt: hookline.Attempt{DeliveryID: id, Attempt: 1, StartedAt: start, StatusCode: 500, Error: "HTTP 500"}})
	b.advance(time.Second)
	b.record(t, hookline.Outcome{Status: hookline.StatusFailed,
		Attempt: hookline.Attempt{DeliveryID: id, Attempt: 2, StartedAt: b.now, StatusCode: 502, Error: "HTTP 502"}})
}

func testDeliveryRetry(t *testing.T, b *bundle) {
	id := b.oneDelivery(t)
	b.failTwice(t, id)
	b.wantStats(t, hookline.StoreStats{Failed: 1, Events: 1, Endpoints: 1})
	now := b.advance(time.Hour)
	d, err := b.s.RetryDelivery(b.ctx, id, now)
	if err != nil {
		t.Fatalf("RetryDelivery: %v", err)
	}
	for _, d := range []*hookline.Delivery{d, b.delivery(t, id)} {
		equal(t, d.ID, id, "ID")
		equal(t, d.Status, hookline.StatusPending, "Status")
		equal(t, d.Attempts, 2, "Attempts")
		equal(t, d.ScheduleOffset, 2, "ScheduleOffset")
		timePtr(t, d.NextAttemptAt, now, "NextAttemptAt")
		sameTime(t, d.UpdatedAt, now, "UpdatedAt")
		equal(t, d.LastStatusCode, 502, "LastStatusCode")
	}
	equal(t, len(mustAttempts(t, b, id)), 2, "attempts after RetryDelivery")
	b.wantStats(t, hookline.StoreStats{Pending: 1, Events: 1, Endpoints: 1})
	sameIDs(t, taskIDs(b.claim(t, now.Add(-time.Microsecond))), nil, "ClaimDue before the retry")
	task := single(t, b.claim(t, now))
	equal(t, task.DeliveryID, id, "task DeliveryID")
	equal(t, task.Attempts, 2, "task Attempts")
	equal(t, task.ScheduleOffset, 2, "task ScheduleOffset")
	// The next attempt continues the count.
	b.tick()
	b.record(t, hookline.Outcome{Status: hookline.StatusDelivered,
		Attempt: hookline.Attempt{DeliveryID: id, Attempt: 3, StartedAt: now, StatusCode: 200}})
	equal(t, b.delivery(t, id).Attempts, 3, "Attempts after the retried attempt")
	equal(t, len(mustAttempts(t, b, id)), 3, "attempts after the retried attempt")
}

func testDeliveryRetryDelivered(t *testing.T, b *bundle) {
	id := b.oneDelivery(t)
	b.tick()
	b.settle(t, id, hookline.StatusDelivered)
	now := b.advance(time.Minute)
	d, err := b.s.RetryDelivery(b.ctx, id, now)
	if err != nil {
		t.Fatalf("RetryDelivery: %v", err)
	}
	equal(t, d.Status, hookline.StatusPending, "Status")
	equal(t, d.Attempts, 1, "Attempts")
	equal(t, d.ScheduleOffset, 1, "ScheduleOffset")
	timePtr(t, d.NextAttemptAt, now, "NextAttemptAt")
	b.wantStats(t, hookline.StoreStats{Pending: 1, Events: 1, Endpoints: 1})
	sameIDs(t, taskIDs(b.claim(t, now)), []string{id}, "ClaimDue after RetryDelivery")
	// Retrying a pending delivery keeps it pending and due now.
	later := b.advance(time.Minute)
	if _, err := b.s.RetryDelivery(b.ctx, id, later); err != nil {
		t.Fatal(err)
	}
	d = b.delivery(t, id)
	equal(t, d.Status, hookline.StatusPending, "Status after retrying a pending delivery")
	timePtr(t, d.NextAttemptAt, later, "NextAttemptAt after retrying a pending delivery")
	b.wantStats(t, hookline.StoreStats{Pending: 1, Events: 1, Endpoints: 1})
}

func testDeliveryRetryMissing(t *testing.T, b *bundle) {
	b.oneDelivery(t)
	_, err := b.s.RetryDelivery(b.ctx, hookline.NewID(hookline.DeliveryPrefix, b.now), b.tick())
	wantNotFound(t, err, "RetryDelivery of an unknown ID")
}

func testDeliveryRecover(t *testing.T, b *bundle) {
	ep := b.endpoint(t, "acme", "invoice.*")
	b.endpoint(t, "acme", "user.*")
	deliver := func(typ string) string {
		t.Helper()
		_, r := b.send(t, "acme", typ)
		return single(t, r.Tasks).DeliveryID
	}
	oldFailed := deliver("invoice.paid")
	since := b.advance(time.Hour)
	newFailed := deliver("invoice.paid")
	delivered := deliver("invoice.paid")
	pending := deliver("invoice.paid")
	otherFailed := deliver("user.created")
	for _, id := range []string{oldFailed, newFailed, otherFailed} {
		b.failTwice(t, id)
	}
	b.tick()
	b.settle(t, delivered, hookline.StatusDelivered)
	sameIDs(t, taskIDs(b.claim(t, b.now)), []string{pending}, "due before recovery")
	b.wantStats(t, hookline.StoreStats{Pending: 1, Delivered: 1, Failed: 3, Events: 5, Endpoints: 2})

	now := b.advance(time.Hour)
	n, err := b.s.RecoverEndpoint(b.ctx, ep.ID, since, now)
	if err != nil {
		t.Fatalf("RecoverEndpoint: %v", err)
	}
	equal(t, n, 1, "recovered since")
	d := b.delivery(t, newFailed)
	equal(t, d.Status, hookline.StatusPending, "Status")
	equal(t, d.ScheduleOffset, 2, "ScheduleOffset")
	equal(t, d.Attempts, 2, "Attempts")
	timePtr(t, d.NextAttemptAt, now, "NextAttemptAt")
	equal(t, b.delivery(t, oldFailed).Status, hookline.StatusFailed, "Status of a failed delivery before since")
	b.wantStats(t, hookline.StoreStats{Pending: 2, Delivered: 1, Failed: 2, Events: 5, Endpoints: 2})

	n, err = b.s.RecoverEndpoint(b.ctx, ep.ID, time.Time{}, b.tick())
	if err != nil {
		t.Fatalf("RecoverEndpoint: %v", err)
	}
	equal(t, n, 1, "recovered with a zero since")
	equal(t, b.delivery(t, oldFailed).Status, hookline.StatusPending, "Status of the older failed delivery")
	equal(t, b.delivery(t, delivered).Status, hookline.StatusDelivered, "Status of a delivered delivery")
	equal(t, b.delivery(t, otherFailed).Status, hookline.StatusFailed, "Status of another endpoint's delivery")
	b.wantStats(t, hookline.StoreStats{Pending: 3, Delivered: 1, Failed: 1, Events: 5, Endpoints: 2})
	sameIDs(t, taskIDs(b.claim(t, b.now)), []string{oldFailed, newFailed}, "due after recovery")

	n, err = b.s.RecoverEndpoint(b.ctx, ep.ID, time.Time{}, b.tick())
	if err != nil || n != 0 {
		t.Errorf("RecoverEndpoint with nothing failed = %d, %v; want 0, nil", n, err)
	}
}

func testDeliveryRecoverMissing(t *testing.T, b *bundle) {
	b.oneDelivery(t)
	_, err := b.s.RecoverEndpoint(b.ctx, hookline.NewID(hookline.EndpointPrefix, b.now), time.Time{}, b.tick())
	wantNotFound(t, err, "RecoverEndpoint of an unknown endpoint")
}
