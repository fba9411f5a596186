package storetest

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/hookline/hookline"
)

var ingestTests = []test{
	{"FanOutMatching", testIngestFanOutMatching},
	{"Tasks", testIngestTasks},
	{"Deliveries", testIngestDeliveries},
	{"Event", testIngestEvent},
	{"FindEventMissing", testIngestFindEventMissing},
	{"NoMatchingEndpoint", testIngestNoMatchingEndpoint},
	{"DisabledEndpoint", testIngestDisabledEndpoint},
	{"LaterEndpoint", testIngestLaterEndpoint},
	{"ManyRequests", testIngestManyRequests},
	{"ManyEndpoints", testIngestManyEndpoints},
	{"ManyEvents", testIngestManyEvents},
	{"EmptyCall", testIngestEmptyCall},
	{"FanOutBound", testIngestFanOutBound},
}

// testIngestFanOutBound checks MaxDeliveries: a request whose new events
// would fan out past it gets ETOOLARGE and writes nothing, while the other
// requests of the call are written; repeats of earlier events do not count.
func testIngestFanOutBound(t *testing.T, b *bundle) {
	for range 3 {
		b.endpoint(t, "acme")
	}
	first := b.event("acme", "invoice.paid")
	first.IdempotencyKey, first.RequestHash = "k1", "h1"
	b.ingest(t, false, first)

	over := &hookline.IngestRequest{Events: []*hookline.Event{b.event("acme", "a"), b.event("acme", "b")}, MaxDeliveries: 5}
	fits := &hookline.IngestRequest{Events: []*hookline.Event{b.event("acme", "c")}, MaxDeliveries: 3}
	again := *first
	again.ID = hookline.NewID(hookline.EventPrefix, b.tick())
	// A repeat makes no new delivery: 1 new event × 3 fits in 3.
	repeat := &hookline.IngestRequest{Events: []*hookline.Event{&again, b.event("acme", "d")}, MaxDeliveries: 3}
	if err := b.s.Ingest(b.ctx, []*hookline.IngestRequest{over, fits, repeat}, b.tick()); err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	wantCode(t, over.Err, hookline.ETOOLARGE, "a request over its bound")
	if len(over.Results) != 0 || len(over.Tasks) != 0 {
		t.Fatalf("refused request: %d results, %d tasks", len(over.Results), len(over.Tasks))
	}
	for _, ev := range over.Events {
		_, err := b.s.FindEvent(b.ctx, ev.ID)
		wantNotFound(t, err, "an event of the refused request")
	}
	if fits.Err != nil || repeat.Err != nil {
		t.Fatalf("requests within their bound: %v, %v", fits.Err, repeat.Err)
	}
	equal(t, repeat.Results[0].Duplicate, true, "the repeat")
	equal(t, len(fits.Tasks)+len(repeat.Tasks), 6, "tasks of the requests within their bound")
	b.wantStats(t, hookline.StoreStats{Pending: 9, Events: 3, Endpoints: 3})
}

// testIngestFanOutMatching checks which endpoints an event fans out to:
// the enabled ones of its tenant whose types match.
func testIngestFanOutMatching(t *testing.T, b *bundle) {
	all := b.endpoint(t, "acme")
	star := b.endpoint(t, "acme", "*")
	exact := b.endpoint(t, "acme", "invoice.paid")
	prefix := b.endpoint(t, "acme", "invoice.*")
	user := b.endpoint(t, "acme", "user.created")
	multi := b.endpoint(t, "acme", "user.*", "invoice.paid")
	b.disabledEndpoint(t, "acme")
	other := b.endpoint(t, "globex")
	none := b.endpoint(t, "")
	noneInvoice := b.endpoint(t, "", "invoice.*")

	for _, tc := range []struct {
		tenant, typ string
		want        []*hookline.Endpoint
	}{
		{"acme", "invoice.paid", []*hookline.Endpoint{all, star, exact, prefix, multi}},
		{"acme", "invoice.refunded", []*hookline.Endpoint{all, star, prefix}},
		{"acme", "invoice", []*hookline.Endpoint{all, star}}, // "invoice.*" needs the dot
		{"acme", "invoice.paid.late", []*hookline.Endpoint{all, star, prefix}},
		{"acme", "user.created", []*hookline.Endpoint{all, star, user, multi}},
		{"acme", "user.deleted", []*hookline.Endpoint{all, star, multi}},
		{"acme", "order.shipped", []*hookline.Endpoint{all, star}},
		{"globex", "invoice.paid", []*hookline.Endpoint{other}},
		{"", "invoice.paid", []*hookline.Endpoint{none, noneInvoice}},
		{"", "user.created", []*hookline.Endpoint{none}},
		{"initech", "invoice.paid", nil},
		{"ACME", "invoice.paid", nil}, // tenants are case-sensitive
	} {
		t.Run(fmt.Sprintf("%q/%s", tc.tenant, tc.typ), func(t *testing.T) {
			ev, r := b.send(t, tc.tenant, tc.typ)
			want := endpointIDs(tc.want...)
			sameIDs(t, taskEndpoints(r.Tasks), want, "endpoints of the tasks")
			equal(t, r.Results[0].Deliveries, len(want), "Results[0].Deliveries")
			var got []string
			for _, d := range b.deliveries(t, hookline.DeliveryFilter{EventID: ev.ID}) {
				got = append(got, d.EndpointID)
			}
			sameIDs(t, got, want, "endpoints of the stored deliveries")
		})
	}
}

func testIngestTasks(t *testing.T, b *bundle) {
	a := b.endpoint(t, "acme")
	c := b.endpoint(t, "acme", "invoice.*")
	ev := b.event("acme", "invoice.paid")
	r := b.ingest(t, true, ev)
	if len(r.Tasks) != 2 {
		t.Fatalf("%d tasks, want 2", len(r.Tasks))
	}
	byEndpoint := map[string]*hookline.Endpoint{a.ID: a, c.ID: c}
	seen := map[string]bool{}
	for _, task := range r.Tasks {
		ep := byEndpoint[task.Endpoint.ID]
		if ep == nil {
			t.Fatalf("task to unknown endpoint %s", task.Endpoint.ID)
		}
		wantTask(t, task, ev, ep)
		equal(t, task.Attempts, 0, "task Attempts")
		equal(t, task.ScheduleOffset, 0, "task ScheduleOffset")
		if seen[task.DeliveryID] {
			t.Errorf("delivery ID %s twice", task.DeliveryID)
		}
		seen[task.DeliveryID] = true
		// The task's delivery is stored under its ID.
		d := b.delivery(t, task.DeliveryID)
		equal(t, d.EndpointID, ep.ID, "delivery EndpointID")
	}
	if !bytes.Equal(r.Tasks[0].Payload, r.Tasks[1].Payload) {
		t.Error("the tasks of one event have different payloads")
	}
	equal(t, r.Results[0], hookline.IngestResult{ID: ev.ID, Type: ev.Type, Deliveries: 2}, "Results[0]")
}

func testIngestDeliveries(t *testing.T, b *bundle) {
	ep := b.endpoint(t, "acme")
	ev := b.event("acme", "invoice.paid")
	now := b.tick()
	r := b.ingest(t, false, ev)
	if len(r.Tasks) != 1 {
		t.Fatalf("%d tasks, want 1", len(r.Tasks))
	}
	d := b.delivery(t, r.Tasks[0].DeliveryID)
	equal(t, d.ID, r.Tasks[0].DeliveryID, "ID")
	equal(t, d.EventID, ev.ID, "EventID")
	equal(t, d.EndpointID, ep.ID, "EndpointID")
	equal(t, d.Tenant, "acme", "Tenant")
	equal(t, d.EventType, "invoice.paid", "EventType")
	equal(t, d.Status, hookline.StatusPending, "Status")
	equal(t, d.Attempts, 0, "Attempts")
	equal(t, d.ScheduleOffset, 0, "ScheduleOffset")
	if d.NextAttemptAt == nil || d.NextAttemptAt.After(now) {
		t.Errorf("NextAttemptAt = %v, want due by the ingest time %v", d.NextAttemptAt, now)
	}
	equal(t, d.LastStatusCode, 0, "LastStatusCode")
	equal(t, d.LastError, "", "LastError")
	sameTime(t, d.CreatedAt, now, "CreatedAt")
	sameTime(t, d.UpdatedAt, now, "UpdatedAt")
	timePtr(t, d.DeliveredAt, zeroTime, "DeliveredAt")
	as, err := b.s.FindAttempts(b.ctx, d.ID)
	if err != nil {
		t.Fatalf("FindAttempts: %v", err)
	}
	equal(t, len(as), 0, "attempts of a new delivery")
}

func testIngestEvent(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	b.endpoint(t, "acme", "invoice.*")
	b.endpoint(t, "acme", "user.*")
	ev := b.event("acme", "invoice.paid")
	b.ingest(t, false, ev)
	got, err := b.s.FindEvent(b.ctx, ev.ID)
	if err != nil {
		t.Fatalf("FindEvent: %v", err)
	}
	equal(t, got.ID, ev.ID, "ID")
	equal(t, got.Tenant, ev.Tenant, "Tenant")
	equal(t, got.Type, ev.Type, "Type")
	if !bytes.Equal(got.Data, ev.Data) {
		t.Errorf("Data = %s, want %s", got.Data, ev.Data)
	}
	sameTime(t, got.CreatedAt, ev.CreatedAt, "CreatedAt")
	equal(t, got.Deliveries, 2, "Deliveries")
	if !bytes.Equal(got.Payload(), ev.Payload()) {
		t.Errorf("Payload() of the stored event = %s, want %s", got.Payload(), ev.Payload())
	}
}

func testIngestFindEventMissing(t *testing.T, b *bundle) {
	b.send(t, "acme", "invoice.paid")
	_, err := b.s.FindEvent(b.ctx, hookline.NewID(hookline.EventPrefix, b.now))
	wantNotFound(t, err, "FindEvent of an unknown ID")
}

func testIngestNoMatchingEndpoint(t *testing.T, b *bundle) {
	b.endpoint(t, "acme", "user.*")
	ev, r := b.send(t, "acme", "invoice.paid")
	equal(t, len(r.Tasks), 0, "tasks")
	equal(t, r.Results[0], hookline.IngestResult{ID: ev.ID, Type: ev.Type}, "Results[0]")
	got, err := b.s.FindEvent(b.ctx, ev.ID)
	if err != nil {
		t.Fatalf("FindEvent of an event without deliveries: %v", err)
	}
	equal(t, got.Deliveries, 0, "Deliveries")
	b.wantStats(t, hookline.StoreStats{Events: 1, Endpoints: 1})
}

func testIngestDisabledEndpoint(t *testing.T, b *bundle) {
	off := b.disabledEndpoint(t, "acme")
	on := b.endpoint(t, "acme")
	ev, r := b.send(t, "acme", "invoice.paid")
	sameIDs(t, taskEndpoints(r.Tasks), []string{on.ID}, "endpoints of the tasks")
	if ds := b.deliveries(t, hookline.DeliveryFilter{EndpointID: off.ID}); len(ds) != 0 {
		t.Errorf("a disabled endpoint got deliveries %v", deliveryIDs(ds))
	}
	equal(t, len(b.deliveries(t, hookline.DeliveryFilter{EventID: ev.ID})), 1, "deliveries of the event")
}

func testIngestLaterEndpoint(t *testing.T, b *bundle) {
	first := b.endpoint(t, "acme")
	ev, _ := b.send(t, "acme", "invoice.paid")
	b.endpoint(t, "acme")
	var got []string
	for _, d := range b.deliveries(t, hookline.DeliveryFilter{EventID: ev.ID}) {
		got = append(got, d.EndpointID)
	}
	sameIDs(t, got, []string{first.ID}, "endpoints of an earlier event's deliveries")
	got = nil
	for _, task := range b.claim(t, b.tick()) {
		got = append(got, task.Endpoint.ID)
	}
	sameIDs(t, got, []string{first.ID}, "endpoints of the due deliveries")
	evFound, err := b.s.FindEvent(b.ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, evFound.Deliveries, 1, "Deliveries of the earlier event")
}

func testIngestManyRequests(t *testing.T, b *bundle) {
	acme := b.endpoint(t, "acme")
	globex := b.endpoint(t, "globex", "user.*")
	r1 := &hookline.IngestRequest{Events: []*hookline.Event{b.event("acme", "invoice.paid")}, Claim: true}
	r2 := &hookline.IngestRequest{Events: []*hookline.Event{
		b.event("globex", "user.created"), b.event("globex", "invoice.paid"), b.event("acme", "user.created"),
	}}
	r3 := &hookline.IngestRequest{Events: nil}
	r4 := &hookline.IngestRequest{Events: []*hookline.Event{b.event("initech", "x")}, Claim: true}
	if err := b.s.Ingest(b.ctx, []*hookline.IngestRequest{r1, r2, r3, r4}, b.tick()); err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	for i, r := range []*hookline.IngestRequest{r1, r2, r3, r4} {
		if r.Err != nil {
			t.Fatalf("request %d: %v", i, r.Err)
		}
		if len(r.Results) != len(r.Events) {
			t.Fatalf("request %d: %d results for %d events", i, len(r.Results), len(r.Events))
		}
		for j, ev := range r.Events {
			equal(t, r.Results[j].ID, ev.ID, fmt.Sprintf("request %d: Results[%d].ID", i, j))
			equal(t, r.Results[j].Type, ev.Type, fmt.Sprintf("request %d: Results[%d].Type", i, j))
			equal(t, r.Results[j].Duplicate, false, fmt.Sprintf("request %d: Results[%d].Duplicate", i, j))
			if _, err := b.s.FindEvent(b.ctx, ev.ID); err != nil {
				t.Errorf("request %d: FindEvent(%s): %v", i, ev.ID, err)
			}
		}
	}
	wantDeliveries := [][]int{{1}, {1, 0, 1}, {}, {0}}
	for i, r := range []*hookline.IngestRequest{r1, r2, r3, r4} {
		for j, res := range r.Results {
			equal(t, res.Deliveries, wantDeliveries[i][j], fmt.Sprintf("request %d: Results[%d].Deliveries", i, j))
		}
	}
	// Each request's tasks are of its own events.
	wantTask(t, single(t, r1.Tasks), r1.Events[0], acme)
	for _, task := range r2.Tasks {
		switch task.EventID {
		case r2.Events[0].ID:
			wantTask(t, task, r2.Events[0], globex)
		case r2.Events[2].ID:
			wantTask(t, task, r2.Events[2], acme)
		default:
			t.Errorf("request 2 has a task of event %s", task.EventID)
		}
	}
	equal(t, len(r4.Tasks), 0, "tasks of request 4")
	// Request 1 claimed its delivery; request 2 did not.
	var claimed []string
	for _, task := range b.claim(t, b.tick()) {
		claimed = append(claimed, task.EventID)
	}
	sameIDs(t, claimed, []string{r2.Events[0].ID, r2.Events[2].ID}, "events of the due deliveries")
	b.wantStats(t, hookline.StoreStats{Pending: 3, Events: 5, Endpoints: 2})
}

func single[T any](t *testing.T, s []T) T {
	t.Helper()
	if len(s) != 1 {
		t.Fatalf("%d items, want 1", len(s))
	}
	return s[0]
}

// testIngestManyEndpoints fans one event out to more endpoints than fit in
// one statement of most batched writers.
func testIngestManyEndpoints(t *testing.T, b *bundle) {
	const n = 600
	want := make([]string, 0, n)
	for range n {
		want = append(want, b.endpoint(t, "acme").ID)
	}
	ev := b.event("acme", "invoice.paid")
	r := b.ingest(t, true, ev)
	equal(t, r.Results[0].Deliveries, n, "Deliveries")
	sameIDs(t, taskEndpoints(r.Tasks), want, "endpoints of the tasks")
	ids := map[string]bool{}
	for _, task := range r.Tasks {
		ids[task.DeliveryID] = true
		if !bytes.Equal(task.Payload, r.Tasks[0].Payload) {
			t.Fatal("tasks of one event with different payloads")
		}
	}
	equal(t, len(ids), n, "distinct delivery IDs")
	equal(t, len(b.deliveries(t, hookline.DeliveryFilter{EventID: ev.ID})), n, "stored deliveries")
	b.wantStats(t, hookline.StoreStats{Pending: n, Events: 1, Endpoints: n})
}

// testIngestManyEvents ingests one request of many events.
func testIngestManyEvents(t *testing.T, b *bundle) {
	const n = 700
	b.endpoint(t, "acme", "a.*")
	b.endpoint(t, "acme", "b.*")
	events := make([]*hookline.Event, n)
	for i := range events {
		events[i] = b.event("acme", []string{"a.x", "b.x", "c.x"}[i%3])
	}
	r := b.ingest(t, false, events...)
	deliveries := 0
	for i, res := range r.Results {
		equal(t, res.ID, events[i].ID, fmt.Sprintf("Results[%d].ID", i))
		want := 1
		if i%3 == 2 {
			want = 0
		}
		equal(t, res.Deliveries, want, fmt.Sprintf("Results[%d].Deliveries", i))
		deliveries += res.Deliveries
	}
	got := b.deliveries(t, hookline.DeliveryFilter{})
	equal(t, len(got), deliveries, "stored deliveries")
	b.wantStats(t, hookline.StoreStats{Pending: int64(deliveries), Events: n, Endpoints: 2})
	last := events[n-1]
	if _, err := b.s.FindEvent(b.ctx, last.ID); err != nil {
		t.Errorf("FindEvent of the last event: %v", err)
	}
}

func testIngestEmptyCall(t *testing.T, b *bundle) {
	if err := b.s.Ingest(b.ctx, nil, b.tick()); err != nil {
		t.Errorf("Ingest of no requests: %v", err)
	}
	b.wantStats(t, hookline.StoreStats{})
}
