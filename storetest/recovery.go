package storetest

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

var recoveryTests = []test{
	{"ReplayMissing", testReplayMissingWindow},
	{"ReplayMissingTwice", testReplayMissingTwice},
	{"ReplayMissingPages", testReplayMissingPages},
	{"ReplayMissingConcurrent", testReplayMissingConcurrent},
	{"ReplayMissingFilter", testReplayMissingFilter},
	{"ReplayMissingDefaultTenant", testReplayMissingDefaultTenant},
	{"ReplayMissingErrors", testReplayMissingErrors},
	{"FindEvents", testFindEvents},
	{"FindEventsPages", testFindEventsPages},
	{"DeliveryTypeAndTime", testDeliveryTypeAndTime},
	{"Count", testCountDeliveries},
	{"RetryBulk", testRetryDeliveries},
	{"RetryBulkBatches", testRetryDeliveriesBatches},
	{"RetryBulkNotFailed", testRetryDeliveriesNotFailed},
}

// replayAll runs ReplayMissing page by page over [since, until) with pages
// of limit events, checks that no page makes more deliveries than it
// examines, and returns how many it made and how many pages it took.
func (b *bundle) replayAll(t *testing.T, endpointID string, since, until time.Time, limit int) (created, pages int) {
	t.Helper()
	r := hookline.ReplayMissingRequest{EndpointID: endpointID, Since: since, Until: until, Limit: limit}
	for {
		page, err := b.s.ReplayMissing(b.ctx, r, b.tick())
		if err != nil {
			t.Fatalf("ReplayMissing(%+v): %v", r, err)
		}
		pages++
		if limit > 0 && page.Created > limit {
			t.Errorf("a page of %d events made %d deliveries", limit, page.Created)
		}
		created += page.Created
		if page.Next == "" {
			return created, pages
		}
		if page.Next <= r.After {
			t.Fatalf("ReplayMissing: next %q does not move past %q", page.Next, r.After)
		}
		r.After = page.Next
		if pages > 1000 {
			t.Fatal("ReplayMissing: more than 1000 pages")
		}
	}
}

// eventsTo returns the event IDs of the deliveries to an endpoint, sorted,
// and fails on two of one event.
func (b *bundle) eventsTo(t *testing.T, endpointID string) []string {
	t.Helper()
	var ids []string
	seen := map[string]bool{}
	for _, d := range b.deliveries(t, hookline.DeliveryFilter{EndpointID: endpointID}) {
		if seen[d.EventID] {
			t.Errorf("event %s has two deliveries to %s", d.EventID, endpointID)
		}
		seen[d.EventID] = true
		ids = append(ids, d.EventID)
	}
	slices.Sort(ids)
	return ids
}

// testReplayMissingWindow replays to an endpoint the events of its tenant
// in the window that it matches and has no delivery of: not other tenants',
// not those outside the window, not those of other types, not those it
// already has.
func testReplayMissingWindow(t *testing.T, b *bundle) {
	ep := b.disabledEndpoint(t, "acme")
	before, _ := b.send(t, "acme", "invoice.paid")
	since := b.tick()
	var want []string
	for range 3 {
		ev, _ := b.send(t, "acme", "invoice.paid")
		want = append(want, ev.ID)
	}
	b.send(t, "globex", "invoice.paid")
	until := b.tick()
	b.send(t, "acme", "invoice.paid")
	if _, err := b.s.UpdateEndpoint(b.ctx, ep.ID, hookline.EndpointUpdate{Disabled: ptr(false)}, b.tick()); err != nil {
		t.Fatal(err)
	}
	// One event of the window it got after it was enabled.
	_, r := b.send(t, "acme", "invoice.paid")
	equal(t, len(r.Tasks), 1, "deliveries of an event after enabling")
	// An endpoint of another tenant and one of other types get nothing.
	other := b.endpoint(t, "globex")
	users := b.endpoint(t, "acme", "user.*")

	now := b.advance(time.Hour)
	page, err := b.s.ReplayMissing(b.ctx, hookline.ReplayMissingRequest{EndpointID: ep.ID, Since: since, Until: until}, now)
	if err != nil {
		t.Fatalf("ReplayMissing: %v", err)
	}
	equal(t, page.Created, 3, "Created")
	equal(t, page.Next, "", "Next of a window in one page")
	got := b.deliveries(t, hookline.DeliveryFilter{EndpointID: ep.ID, Since: now})
	var evs []string
	for _, d := range got {
		evs = append(evs, d.EventID)
		equal(t, d.Status, hookline.StatusPending, "Status of a replayed delivery")
		equal(t, d.Tenant, "acme", "Tenant of a replayed delivery")
		equal(t, d.EventType, "invoice.paid", "EventType of a replayed delivery")
		timePtr(t, d.NextAttemptAt, now, "NextAttemptAt of a replayed delivery")
	}
	sameIDs(t, evs, want, "events replayed")
	if slices.Contains(evs, before.ID) {
		t.Errorf("an event before the window was replayed")
	}
	for _, e := range []*hookline.Endpoint{other, users} {
		page, err := b.s.ReplayMissing(b.ctx, hookline.ReplayMissingRequest{EndpointID: e.ID, Since: since}, b.tick())
		if err != nil {
			t.Fatal(err)
		}
		if e == other {
			equal(t, page.Created, 1, "Created for the other tenant's endpoint (its one event)")
		} else {
			equal(t, page.Created, 0, "Created for an endpoint of other types")
		}
	}
	// Unclaimed and due now: a dispatcher's claim finds them.
	tasks := b.claim(t, now)
	n := 0
	for _, task := range tasks {
		if task.Endpoint.ID == ep.ID {
			n++
		}
	}
	equal(t, n, 4, "tasks of the endpoint claimed after the replay (3 replayed, 1 at ingest)")
}

// testReplayMissingTwice replays a window twice: the second call makes
// nothing, and no event has two deliveries to the endpoint.
func testReplayMissingTwice(t *testing.T, b *bundle) {
	ep := b.disabledEndpoint(t, "acme")
	since := b.tick()
	for range 4 {
		b.send(t, "acme", "invoice.paid")
	}
	if _, err := b.s.UpdateEndpoint(b.ctx, ep.ID, hookline.EndpointUpdate{Disabled: ptr(false)}, b.tick()); err != nil {
		t.Fatal(err)
	}
	created, _ := b.replayAll(t, ep.ID, since, time.Time{}, 0)
	equal(t, created, 4, "created by the first replay")
	created, _ = b.replayAll(t, ep.ID, since, time.Time{}, 0)
	equal(t, created, 0, "created by the second replay")
	equal(t, len(b.eventsTo(t, ep.ID)), 4, "events with a delivery to the endpoint")
	b.wantStats(t, hookline.StoreStats{Pending: 4, Events: 4, Endpoints: 1})
}

// testReplayMissingPages replays a window in pages of 2 events: each page
// examines at most 2, the pages cover the window, and a second pass makes
// nothing.
func testReplayMissingPages(t *testing.T, b *bundle) {
	ep := b.disabledEndpoint(t, "acme")
	since := b.tick()
	var want []string
	for i := range 7 {
		typ := "invoice.paid"
		if i%3 == 2 {
			typ = "user.created"
		}
		ev, _ := b.send(t, "acme", typ)
		if typ == "invoice.paid" {
			want = append(want, ev.ID)
		}
	}
	if _, err := b.s.UpdateEndpoint(b.ctx, ep.ID, hookline.EndpointUpdate{Disabled: ptr(false), EventTypes: ptr([]string{"invoice.*"})}, b.tick()); err != nil {
		t.Fatal(err)
	}
	created, pages := b.replayAll(t, ep.ID, since, time.Time{}, 2)
	equal(t, created, len(want), "created over the pages")
	if pages < 4 {
		t.Errorf("7 events in pages of 2 took %d pages, want at least 4", pages)
	}
	slices.Sort(want)
	if got := b.eventsTo(t, ep.ID); !slices.Equal(got, want) {
		t.Errorf("events replayed = %v, want %v", got, want)
	}
	created, _ = b.replayAll(t, ep.ID, since, time.Time{}, 2)
	equal(t, created, 0, "created by a second pass")
}

// testReplayMissingConcurrent runs replays of one window at once: together
// they make one delivery per event.
func testReplayMissingConcurrent(t *testing.T, b *bundle) {
	ep := b.disabledEndpoint(t, "acme")
	since := b.tick()
	const events = 20
	for range events {
		b.send(t, "acme", "invoice.paid")
	}
	if _, err := b.s.UpdateEndpoint(b.ctx, ep.ID, hookline.EndpointUpdate{Disabled: ptr(false)}, b.tick()); err != nil {
		t.Fatal(err)
	}
	now := b.tick()
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := hookline.ReplayMissingRequest{EndpointID: ep.ID, Since: since, Limit: 3}
			for {
				page, err := b.s.ReplayMissing(b.ctx, r, now)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				total += page.Created
				mu.Unlock()
				if page.Next == "" {
					return
				}
				r.After = page.Next
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("ReplayMissing: %v", err)
	}
	equal(t, total, events, "created by 4 replays at once")
	equal(t, len(b.eventsTo(t, ep.ID)), events, "events with a delivery to the endpoint")
	b.wantStats(t, hookline.StoreStats{Pending: events, Events: events, Endpoints: 1})
}

// testReplayMissingFilter replays only what the endpoint's payload filter
// matches now.
func testReplayMissingFilter(t *testing.T, b *bundle) {
	ep := b.newEndpoint("acme")
	ep.Disabled = true
	if err := b.s.CreateEndpoint(b.ctx, ep); err != nil {
		t.Fatal(err)
	}
	since := b.tick()
	var want []string
	for _, amount := range []int{5, 5000, 50, 1000} {
		ev := b.event("acme", "invoice.paid")
		ev.Data = json.RawMessage(`{"amount":` + jsonInt(amount) + `}`)
		b.ingest(t, false, ev)
		if amount >= 1000 {
			want = append(want, ev.ID)
		}
	}
	u := hookline.EndpointUpdate{Disabled: ptr(false), SetFilter: true, Filter: json.RawMessage(`{"data":{"amount":{"$gte":1000}}}`)}
	b.enableAndReplay(t, ep.ID, u, since, want, "through the filter")
}

// enableAndReplay applies u to a disabled endpoint (enabling it), replays to
// it what it missed since, and checks that exactly the events of want were
// replayed.
func (b *bundle) enableAndReplay(t *testing.T, endpointID string, u hookline.EndpointUpdate, since time.Time, want []string, what string) {
	t.Helper()
	if _, err := b.s.UpdateEndpoint(b.ctx, endpointID, u, b.tick()); err != nil {
		t.Fatal(err)
	}
	created, _ := b.replayAll(t, endpointID, since, time.Time{}, 0)
	equal(t, created, len(want), "created "+what)
	want = slices.Sorted(slices.Values(want))
	if got := b.eventsTo(t, endpointID); !slices.Equal(got, want) {
		t.Errorf("events replayed %s = %v, want %v", what, got, want)
	}
}

// testReplayMissingDefaultTenant replays to an endpoint of no tenant the
// events of no tenant, not a named tenant's (the SQLite store reads them on
// another index: its tenant indexes hold named tenants only).
func testReplayMissingDefaultTenant(t *testing.T, b *bundle) {
	ep := b.disabledEndpoint(t, "")
	since := b.tick()
	var want []string
	for range 3 {
		ev, _ := b.send(t, "", "invoice.paid")
		want = append(want, ev.ID)
		b.send(t, "acme", "invoice.paid")
	}
	b.enableAndReplay(t, ep.ID, hookline.EndpointUpdate{Disabled: ptr(false)}, since, want, "to the endpoint of no tenant")
}

func jsonInt(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func testReplayMissingErrors(t *testing.T, b *bundle) {
	ep := b.disabledEndpoint(t, "acme")
	b.send(t, "acme", "invoice.paid")
	_, err := b.s.ReplayMissing(b.ctx, hookline.ReplayMissingRequest{EndpointID: ep.ID}, b.tick())
	wantCode(t, err, hookline.ECONFLICT, "ReplayMissing to a disabled endpoint")
	_, err = b.s.ReplayMissing(b.ctx, hookline.ReplayMissingRequest{EndpointID: hookline.NewID(hookline.EndpointPrefix, b.now)}, b.tick())
	wantNotFound(t, err, "ReplayMissing to an unknown endpoint")
	b.wantStats(t, hookline.StoreStats{Events: 1, Endpoints: 1, EndpointsDisabled: 1})
}

// events returns every event f selects, reading pages of limit.
func (b *bundle) events(t *testing.T, f hookline.EventFilter, limit int) []string {
	t.Helper()
	f.Limit = limit
	var ids []string
	for pages := 0; ; pages++ {
		evs, next, err := b.s.FindEvents(b.ctx, f)
		if err != nil {
			t.Fatalf("FindEvents(%+v): %v", f, err)
		}
		if len(evs) > limit {
			t.Fatalf("FindEvents: %d events in a page of %d", len(evs), limit)
		}
		for _, ev := range evs {
			ids = append(ids, ev.ID)
		}
		if next == "" {
			return ids
		}
		if pages > 100 {
			t.Fatal("FindEvents: more than 100 pages")
		}
		f.Cursor = next
	}
}

// testFindEvents lists events by tenant, type, type pattern and time
// range, newest first.
func testFindEvents(t *testing.T, b *bundle) {
	var all []*hookline.Event
	for i, spec := range [][2]string{
		{"acme", "invoice.paid"}, {"acme", "invoice.voided"}, {"globex", "invoice.paid"}, {"acme", "user.created"},
		{"", "invoice.paid"}, {"acme", "invoice.paid"}, {"globex", "user.created"}, {"acme", "invoicex"},
	} {
		ev, _ := b.send(t, spec[0], spec[1])
		all = append(all, ev)
		if i == 2 {
			b.advance(time.Second)
		}
	}
	mid := all[3].CreatedAt
	end := all[6].CreatedAt
	sel := func(keep func(ev *hookline.Event) bool) []string {
		var ids []string
		for _, ev := range all {
			if keep(ev) {
				ids = append(ids, ev.ID)
			}
		}
		return reverseSorted(ids)
	}
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		name string
		f    hookline.EventFilter
		want []string
	}{
		{"All", hookline.EventFilter{}, sel(func(*hookline.Event) bool { return true })},
		{"Tenant", hookline.EventFilter{Tenant: str("acme")}, sel(func(ev *hookline.Event) bool { return ev.Tenant == "acme" })},
		{"DefaultTenant", hookline.EventFilter{Tenant: str("")}, sel(func(ev *hookline.Event) bool { return ev.Tenant == "" })},
		{"Type", hookline.EventFilter{Type: "invoice.paid"}, sel(func(ev *hookline.Event) bool { return ev.Type == "invoice.paid" })},
		{"Pattern", hookline.EventFilter{Type: "invoice.*"}, sel(func(ev *hookline.Event) bool { return hookline.MatchesType("invoice.*", ev.Type) })},
		{"TenantPattern", hookline.EventFilter{Tenant: str("acme"), Type: "invoice.*"},
			sel(func(ev *hookline.Event) bool {
				return ev.Tenant == "acme" && hookline.MatchesType("invoice.*", ev.Type)
			})},
		{"Since", hookline.EventFilter{Since: mid}, sel(func(ev *hookline.Event) bool { return !ev.CreatedAt.Before(mid) })},
		{"Until", hookline.EventFilter{Until: mid}, sel(func(ev *hookline.Event) bool { return ev.CreatedAt.Before(mid) })},
		{"Window", hookline.EventFilter{Tenant: str("acme"), Since: mid, Until: end},
			sel(func(ev *hookline.Event) bool {
				return ev.Tenant == "acme" && !ev.CreatedAt.Before(mid) && ev.CreatedAt.Before(end)
			})},
		{"NoType", hookline.EventFilter{Type: "nothing.*"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, limit := range []int{hookline.MaxLimit, 2} {
				if got := b.events(t, tc.f, limit); !slices.Equal(got, tc.want) {
					t.Errorf("FindEvents(%+v) in pages of %d = %v, want %v", tc.f, limit, got, tc.want)
				}
			}
		})
	}
	evs, _, err := b.s.FindEvents(b.ctx, hookline.EventFilter{Type: "user.created", Tenant: str("acme")})
	if err != nil {
		t.Fatal(err)
	}
	ev := single(t, evs)
	equal(t, ev.ID, all[3].ID, "ID")
	equal(t, ev.Deliveries, 0, "Deliveries")
	equal(t, string(ev.Data), string(all[3].Data), "Data")
	sameTime(t, ev.CreatedAt, all[3].CreatedAt, "CreatedAt")
}

// testFindEventsPages checks a pattern over more types than MaxPatternTypes
// is EINVALID, and that pages of a pattern do not repeat or skip.
func testFindEventsPages(t *testing.T, b *bundle) {
	var evs []*hookline.Event
	for i := range hookline.MaxPatternTypes + 1 {
		evs = append(evs, b.event("acme", "a.t"+jsonInt(i)))
	}
	b.ingest(t, false, evs...)
	_, _, err := b.s.FindEvents(b.ctx, hookline.EventFilter{Type: "a.*"})
	wantCode(t, err, hookline.EINVALID, "FindEvents of a pattern over too many types")
	_, _, err = b.s.FindDeliveries(b.ctx, hookline.DeliveryFilter{EventType: "a.*"})
	equal(t, hookline.ErrorCode(err), "", "FindDeliveries of a pattern no delivery has")
	// An exact type of them still lists.
	equal(t, len(b.events(t, hookline.EventFilter{Type: "a.t3"}, 10)), 1, "events of one type")
}

// testDeliveryTypeAndTime lists deliveries by event type, type pattern and
// time range, alone and with status and endpoint.
func testDeliveryTypeAndTime(t *testing.T, b *bundle) {
	e1 := b.endpoint(t, "acme")
	e2 := b.endpoint(t, "acme")
	var all []*hookline.Delivery
	var mid time.Time
	for i, typ := range []string{"invoice.paid", "user.created", "invoice.voided", "invoice.paid", "user.deleted"} {
		if i == 2 {
			mid = b.advance(time.Second)
		}
		_, r := b.send(t, "acme", typ)
		for _, task := range r.Tasks {
			all = append(all, b.delivery(t, task.DeliveryID))
		}
	}
	b.tick()
	failed := map[string]bool{}
	for i, d := range all {
		if i%3 == 0 {
			failed[d.ID] = true
			b.settle(t, d.ID, hookline.StatusFailed)
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
		keep func(d *hookline.Delivery) bool
	}{
		{"Type", hookline.DeliveryFilter{EventType: "invoice.paid"}, func(d *hookline.Delivery) bool { return d.EventType == "invoice.paid" }},
		{"Pattern", hookline.DeliveryFilter{EventType: "invoice.*"}, func(d *hookline.Delivery) bool { return hookline.MatchesType("invoice.*", d.EventType) }},
		{"PatternFailed", hookline.DeliveryFilter{EventType: "invoice.*", Status: hookline.StatusFailed},
			func(d *hookline.Delivery) bool { return hookline.MatchesType("invoice.*", d.EventType) && failed[d.ID] }},
		{"TypeEndpoint", hookline.DeliveryFilter{EventType: "user.*", EndpointID: e2.ID},
			func(d *hookline.Delivery) bool {
				return hookline.MatchesType("user.*", d.EventType) && d.EndpointID == e2.ID
			}},
		{"TypeEndpointFailed", hookline.DeliveryFilter{EventType: "invoice.paid", EndpointID: e1.ID, Status: hookline.StatusFailed},
			func(d *hookline.Delivery) bool {
				return d.EventType == "invoice.paid" && d.EndpointID == e1.ID && failed[d.ID]
			}},
		{"Since", hookline.DeliveryFilter{Since: mid}, func(d *hookline.Delivery) bool { return !d.CreatedAt.Before(mid) }},
		{"Until", hookline.DeliveryFilter{Until: mid}, func(d *hookline.Delivery) bool { return d.CreatedAt.Before(mid) }},
		{"UntilFailed", hookline.DeliveryFilter{Until: mid, Status: hookline.StatusFailed},
			func(d *hookline.Delivery) bool { return d.CreatedAt.Before(mid) && failed[d.ID] }},
		{"SinceTypeEndpoint", hookline.DeliveryFilter{Since: mid, EventType: "invoice.paid", EndpointID: e1.ID},
			func(d *hookline.Delivery) bool {
				return !d.CreatedAt.Before(mid) && d.EventType == "invoice.paid" && d.EndpointID == e1.ID
			}},
		{"ExactTypeEndpoint", hookline.DeliveryFilter{EventType: "invoice.paid", EndpointID: e2.ID},
			func(d *hookline.Delivery) bool { return d.EventType == "invoice.paid" && d.EndpointID == e2.ID }},
		{"PatternEndpoint", hookline.DeliveryFilter{EventType: "invoice.*", EndpointID: e1.ID}, // two types, merged
			func(d *hookline.Delivery) bool {
				return hookline.MatchesType("invoice.*", d.EventType) && d.EndpointID == e1.ID
			}},
		{"PatternEndpointFailed", hookline.DeliveryFilter{EventType: "invoice.*", EndpointID: e1.ID, Status: hookline.StatusFailed},
			func(d *hookline.Delivery) bool {
				return hookline.MatchesType("invoice.*", d.EventType) && d.EndpointID == e1.ID && failed[d.ID]
			}},
		{"PatternEndpointPendingUntil", hookline.DeliveryFilter{EventType: "invoice.*", EndpointID: e2.ID, Status: hookline.StatusPending, Until: mid},
			func(d *hookline.Delivery) bool {
				return hookline.MatchesType("invoice.*", d.EventType) && d.EndpointID == e2.ID && !failed[d.ID] && d.CreatedAt.Before(mid)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := sel(tc.keep)
			if len(want) == 0 {
				t.Fatal("a case that selects nothing proves little")
			}
			if got := deliveryIDs(b.deliveries(t, tc.f)); !slices.Equal(got, want) {
				t.Errorf("FindDeliveries(%+v) = %v, want %v", tc.f, got, want)
			}
			// Pages of 1 neither repeat nor skip.
			f := tc.f
			f.Limit = 1
			var paged []string
			for {
				ds, next, err := b.s.FindDeliveries(b.ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				paged = append(paged, deliveryIDs(ds)...)
				if next == "" {
					break
				}
				f.Cursor = next
			}
			if !slices.Equal(paged, want) {
				t.Errorf("FindDeliveries(%+v) in pages of 1 = %v, want %v", tc.f, paged, want)
			}
			n, err := b.s.CountDeliveries(b.ctx, tc.f)
			if err != nil {
				t.Fatalf("CountDeliveries: %v", err)
			}
			equal(t, n, int64(len(want)), "CountDeliveries")
		})
	}
	// An endpoint and a type (or a pattern) it never received: none.
	for _, typ := range []string{"order.paid", "order.*"} {
		f := hookline.DeliveryFilter{EndpointID: e1.ID, EventType: typ}
		if got := b.deliveries(t, f); len(got) != 0 {
			t.Errorf("FindDeliveries(%+v) = %v, want none", f, deliveryIDs(got))
		}
		n, err := b.s.CountDeliveries(b.ctx, f)
		if err != nil {
			t.Fatalf("CountDeliveries: %v", err)
		}
		equal(t, n, int64(0), "CountDeliveries of a type the endpoint never received")
	}
}

// testCountDeliveries counts deliveries by each filter, and refuses an
// unknown status.
func testCountDeliveries(t *testing.T, b *bundle) {
	e1 := b.endpoint(t, "acme")
	b.endpoint(t, "acme")
	var ids []string
	for range 3 {
		_, r := b.send(t, "acme", "invoice.paid")
		ids = append(ids, taskIDs(r.Tasks)...)
	}
	b.tick()
	b.settle(t, ids[0], hookline.StatusFailed)
	b.settle(t, ids[1], hookline.StatusDelivered)
	for _, tc := range []struct {
		f    hookline.DeliveryFilter
		want int64
	}{
		{hookline.DeliveryFilter{}, 6},
		{hookline.DeliveryFilter{Status: hookline.StatusFailed}, 1},
		{hookline.DeliveryFilter{Status: hookline.StatusPending}, 4},
		{hookline.DeliveryFilter{EndpointID: e1.ID}, 3},
		{hookline.DeliveryFilter{EventType: "user.*"}, 0},
		{hookline.DeliveryFilter{Cursor: ids[5], Limit: 1}, 6}, // Cursor and Limit aside
	} {
		n, err := b.s.CountDeliveries(b.ctx, tc.f)
		if err != nil {
			t.Fatalf("CountDeliveries(%+v): %v", tc.f, err)
		}
		equal(t, n, tc.want, "CountDeliveries")
	}
	_, err := b.s.CountDeliveries(b.ctx, hookline.DeliveryFilter{Status: "lost"})
	wantCode(t, err, hookline.EINVALID, "CountDeliveries of an unknown status")
}

// failedDeliveries makes n deliveries to each endpoint of events of typ
// and fails them, and returns their IDs.
func (b *bundle) failedDeliveries(t *testing.T, typ string, n int) []string {
	t.Helper()
	var ids []string
	for range n {
		_, r := b.send(t, "acme", typ)
		ids = append(ids, taskIDs(r.Tasks)...)
	}
	b.tick()
	for _, id := range ids {
		b.failTwice(t, id)
	}
	return ids
}

// testRetryDeliveries retries the dead letters a filter selects: they
// become pending and due now, with their attempts kept; the others stay.
func testRetryDeliveries(t *testing.T, b *bundle) {
	e1 := b.endpoint(t, "acme")
	e2 := b.endpoint(t, "acme")
	invoices := b.failedDeliveries(t, "invoice.paid", 2)
	users := b.failedDeliveries(t, "user.created", 1)
	_, r := b.send(t, "acme", "invoice.paid")
	pending := taskIDs(r.Tasks)
	b.wantStats(t, hookline.StoreStats{Pending: 2, Failed: 6, Events: 4, Endpoints: 2})

	now := b.advance(time.Hour)
	res, err := b.s.RetryDeliveries(b.ctx, hookline.DeliveryFilter{Status: hookline.StatusFailed, EventType: "invoice.*", EndpointID: e1.ID}, 0, now)
	if err != nil {
		t.Fatalf("RetryDeliveries: %v", err)
	}
	equal(t, res.Requeued, 2, "Requeued")
	sameIDs(t, res.Endpoints, []string{e1.ID}, "Endpoints")
	for _, id := range append(append(invoices, users...), pending...) {
		d := b.delivery(t, id)
		retried := d.EndpointID == e1.ID && d.EventType == "invoice.paid" && !slices.Contains(pending, id)
		switch {
		case retried:
			equal(t, d.Status, hookline.StatusPending, "Status of a retried delivery")
			equal(t, d.Attempts, 2, "Attempts of a retried delivery")
			equal(t, d.ScheduleOffset, 2, "ScheduleOffset of a retried delivery")
			timePtr(t, d.NextAttemptAt, now, "NextAttemptAt of a retried delivery")
		case slices.Contains(pending, id):
			equal(t, d.Status, hookline.StatusPending, "Status of a pending delivery")
		default:
			equal(t, d.Status, hookline.StatusFailed, "Status of a delivery the filter leaves")
		}
	}
	b.wantStats(t, hookline.StoreStats{Pending: 4, Failed: 4, Events: 4, Endpoints: 2})
	// Again: nothing left to retry there.
	res, err = b.s.RetryDeliveries(b.ctx, hookline.DeliveryFilter{Status: hookline.StatusFailed, EventType: "invoice.*", EndpointID: e1.ID}, 0, b.tick())
	if err != nil {
		t.Fatal(err)
	}
	equal(t, res.Requeued, 0, "Requeued by a second retry")
	// All the rest, by status alone.
	res, err = b.s.RetryDeliveries(b.ctx, hookline.DeliveryFilter{Status: hookline.StatusFailed}, 0, b.tick())
	if err != nil {
		t.Fatal(err)
	}
	equal(t, res.Requeued, 4, "Requeued of every dead letter")
	sameIDs(t, res.Endpoints, []string{e1.ID, e2.ID}, "Endpoints of every dead letter")
	b.wantStats(t, hookline.StoreStats{Pending: 8, Events: 4, Endpoints: 2})
	equal(t, len(b.claim(t, b.now)), 8, "tasks claimed after the retries")
}

// testRetryDeliveriesBatches retries in batches of 2 until a short batch:
// each batch makes at most 2 pending, and together all of them.
func testRetryDeliveriesBatches(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	ids := b.failedDeliveries(t, "invoice.paid", 5)
	since := b.delivery(t, ids[1]).CreatedAt
	f := hookline.DeliveryFilter{Status: hookline.StatusFailed, Since: since}
	total, batches := 0, 0
	for {
		res, err := b.s.RetryDeliveries(b.ctx, f, 2, b.tick())
		if err != nil {
			t.Fatal(err)
		}
		if res.Requeued > 2 {
			t.Fatalf("a batch of 2 requeued %d", res.Requeued)
		}
		total += res.Requeued
		batches++
		if res.Requeued < 2 || batches > 10 {
			break
		}
	}
	equal(t, total, 4, "requeued in batches (the window leaves the first)")
	equal(t, batches, 3, "batches")
	equal(t, b.delivery(t, ids[0]).Status, hookline.StatusFailed, "Status of the delivery before the window")
}

func testRetryDeliveriesNotFailed(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	b.failedDeliveries(t, "invoice.paid", 1)
	for _, s := range []hookline.DeliveryStatus{"", hookline.StatusPending, hookline.StatusDelivered} {
		_, err := b.s.RetryDeliveries(b.ctx, hookline.DeliveryFilter{Status: s}, 0, b.tick())
		wantCode(t, err, hookline.EINVALID, "RetryDeliveries of status "+string(s))
	}
	b.wantStats(t, hookline.StoreStats{Failed: 1, Events: 1, Endpoints: 1})
}
