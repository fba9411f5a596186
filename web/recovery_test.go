package web_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// failedCount returns GET /v1/deliveries/count?status=failed&query as the
// operator.
func (s *stack) failedCount(t *testing.T, query string) int {
	t.Helper()
	var c struct{ Count int }
	if code := s.call(t, "GET", "/v1/deliveries/count?status=failed&"+query, nil, &c); code != 200 {
		t.Fatalf("count %s: %d", query, code)
	}
	return c.Count
}

// deadLetter sends an event of typ for tenant while the receiver answers
// 503, and waits until its delivery is a dead letter. It returns the
// event's ID.
func (s *stack) deadLetter(t *testing.T, tenant, typ string) string {
	t.Helper()
	s.receiver.setStatus(503)
	defer s.receiver.setStatus(200)
	var ev struct{ ID string }
	if code := s.call(t, "POST", "/v1/events", map[string]any{"type": typ, "tenant": tenant, "data": map[string]int{"id": 1}}, &ev); code != 202 {
		t.Fatalf("send event: %d", code)
	}
	waitFor(t, 10*time.Second, "dead letter of "+typ, func() bool {
		return s.failedCount(t, "event_id="+ev.ID) == 1
	})
	return ev.ID
}

// TestBulkRetry checks the bulk retry of the Deliveries page: the count of
// the dead letters a filter selects (GET /v1/deliveries/count), the
// confirmation that changes nothing, the retry by POST /v1/deliveries/retry
// that requeues just those, and a portal that counts and retries its own
// tenant's dead letters only.
func TestBulkRetry(t *testing.T) {
	s := setupStack(t)
	var acme, globex apiEndpoint
	s.call(t, "POST", "/v1/endpoints", map[string]any{"url": s.receiver.URL + "/acme", "tenant": "acme"}, &acme)
	s.call(t, "POST", "/v1/endpoints", map[string]any{"url": s.receiver.URL + "/globex", "tenant": "globex"}, &globex)
	invoice := s.deadLetter(t, "acme", "invoice.paid")
	order := s.deadLetter(t, "acme", "order.created")
	globexInvoice := s.deadLetter(t, "globex", "invoice.paid")
	var gl apiList[apiDelivery]
	s.call(t, "GET", "/v1/deliveries?event_id="+globexInvoice, nil, &gl)
	b := s.signIn(t)

	t.Run("Count", func(t *testing.T) {
		for _, c := range []struct {
			query string
			n     int
		}{
			{"", 3},
			{"event_type=invoice.*", 2},
			{"endpoint_id=" + acme.ID, 2},
			{"endpoint_id=" + acme.ID + "&event_type=invoice.*", 1},
			{"event_id=" + order, 1},
			{"from=2000-01-01T00:00&to=2999-01-01T00:00", 3},
			{"to=2000-01-01T00:00", 0},
		} {
			a := b.get("/deliveries?status=failed&"+c.query).want(t, 200, "<strong>"+strconv.Itoa(c.n)+"</strong> dead letter")
			if has := strings.Contains(a.body, "Retry all "+strconv.Itoa(c.n)+"…"); has != (c.n > 0) {
				t.Fatalf("%s: %d dead letters, and the page %s a retry button", c.query, c.n, map[bool]string{true: "has", false: "lacks"}[has])
			}
		}
		if a := b.get("/deliveries").want(t, 200); strings.Contains(a.body, "dead-count") {
			t.Fatal("the count is shown without the failed filter")
		}
		b.get("/deliveries?status=failed&event_type=not+a+type").want(t, 400, "event_type")
	})

	t.Run("ConfirmChangesNothing", func(t *testing.T) {
		b.get("/deliveries?status=failed")
		b.post("/deliveries/bulk", url.Values{"endpoint_id": {acme.ID}, "event_type": {"invoice.*"}}).
			want(t, 200, "Retry all 1 dead letter?", `name="event_type" value="invoice.*"`, `name="confirm" value="yes"`)
		if n := s.failedCount(t, ""); n != 3 {
			t.Fatalf("%d dead letters after the confirmation page, want 3", n)
		}
	})

	t.Run("RetryTheFilter", func(t *testing.T) {
		b.post("/deliveries/bulk", url.Values{"endpoint_id": {acme.ID}, "event_type": {"invoice.*"}, "confirm": {"yes"}}).want(t, 303)
		b.get("/deliveries?status=failed&endpoint_id="+acme.ID+"&event_type=invoice.%2A").want(t, 200, "Requeued 1 dead letter.")
		waitFor(t, 10*time.Second, "the requeued dead letter delivered", func() bool {
			var l apiList[apiDelivery]
			s.call(t, "GET", "/v1/deliveries?event_id="+invoice, nil, &l)
			return len(l.Data) == 1 && l.Data[0].Status == "delivered"
		})
		if s.failedCount(t, "event_id="+order) != 1 || s.failedCount(t, "event_id="+globexInvoice) != 1 {
			t.Fatal("dead letters outside the filter were retried")
		}
		b.post("/deliveries/bulk", url.Values{"to": {"2000-01-01T00:00"}, "confirm": {"yes"}}).want(t, 303)
		b.get("/deliveries").want(t, 200, "Requeued 0 dead letters.")
		b.post("/deliveries/bulk", url.Values{"endpoint_id": {"not-an-id"}, "confirm": {"yes"}}).want(t, 400, "endpoint_id")
	})

	t.Run("PortalOwnTenantOnly", func(t *testing.T) {
		p := s.client(t)
		p.get(mustRequestURI(t, s.portalLink(t, "acme", "1h"))).want(t, 200)
		a := p.get("/portal/deliveries?status=failed").want(t, 200, "<strong>1</strong> dead letter matches", "Retry all 1…")
		if strings.Contains(a.body, gl.Data[0].ID) || strings.Contains(a.body, globex.ID) {
			t.Fatal("acme's portal lists globex's dead letter")
		}
		p.get("/portal/deliveries?status=failed&endpoint_id="+globex.ID).want(t, 200, "<strong>0</strong> dead letters match")
		p.post("/portal/deliveries/bulk", url.Values{"endpoint_id": {globex.ID}}).want(t, 200, "Retry all 0 dead letters?")
		p.post("/portal/deliveries/bulk", url.Values{"endpoint_id": {globex.ID}, "confirm": {"yes"}}).want(t, 303)
		p.get("/portal/deliveries").want(t, 200, "Requeued 0 dead letters.")
		p.post("/portal/deliveries/bulk", url.Values{"event_id": {globexInvoice}, "confirm": {"yes"}}).want(t, 303)
		p.get("/portal/deliveries").want(t, 200, "Requeued 0 dead letters.")
		if s.failedCount(t, "event_id="+globexInvoice) != 1 {
			t.Fatal("acme's portal retried globex's dead letter")
		}
		// Unfiltered, the portal retries acme's dead letter and not globex's.
		p.post("/portal/deliveries/bulk", url.Values{"confirm": {"yes"}}).want(t, 303)
		p.get("/portal/deliveries").want(t, 200, "Requeued 1 dead letter.")
		if s.failedCount(t, "event_id="+globexInvoice) != 1 {
			t.Fatal("acme's portal retried globex's dead letter")
		}
		waitFor(t, 10*time.Second, "acme's dead letter delivered", func() bool { return s.failedCount(t, "event_id="+order) == 0 })
	})

	t.Run("RetryAll", func(t *testing.T) {
		b.get("/deliveries?status=failed").want(t, 200, "Retry all 1…")
		b.post("/deliveries/bulk", url.Values{"confirm": {"yes"}}).want(t, 303)
		b.get("/deliveries?status=failed").want(t, 200, "Requeued 1 dead letter.")
		waitFor(t, 10*time.Second, "every dead letter delivered", func() bool { return s.failedCount(t, "") == 0 })
	})
}

// mustRequestURI returns the path and query of a URL.
func mustRequestURI(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

// TestReplayMissing checks the endpoint page's replay of what the endpoint
// missed: the events of its tenant accepted before it existed are delivered
// once, bad times are refused with the field named, and a portal cannot
// replay to another tenant's endpoint.
func TestReplayMissing(t *testing.T) {
	s := setupStack(t)
	var ev, other struct{ ID string }
	s.call(t, "POST", "/v1/events", map[string]any{"type": "late.one", "tenant": "acme", "data": 1}, &ev)
	s.call(t, "POST", "/v1/events", map[string]any{"type": "late.one", "tenant": "globex", "data": 1}, &other)
	var ep apiEndpoint
	s.call(t, "POST", "/v1/endpoints", map[string]any{"url": s.receiver.URL + "/late", "tenant": "acme", "event_types": []string{"late.*"}}, &ep)
	deliveries := func() []apiDelivery {
		var l apiList[apiDelivery]
		s.call(t, "GET", "/v1/deliveries?endpoint_id="+ep.ID, nil, &l)
		return l.Data
	}
	if n := len(deliveries()); n != 0 {
		t.Fatalf("%d deliveries before the replay", n)
	}
	since := time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")
	b := s.signIn(t)
	b.get("/endpoints/"+ep.ID).want(t, 200, "Replay what it missed", `name="since"`)

	t.Run("BadTimes", func(t *testing.T) {
		path := "/endpoints/" + ep.ID + "/replay-missing"
		b.post(path, url.Values{"since": {""}}).want(t, 400, "since: required")
		b.post(path, url.Values{"since": {"yesterday"}}).want(t, 400, "since: a date and time")
		b.post(path, url.Values{"since": {since}, "until": {"2000-01-01T00:00"}}).want(t, 400, "until: must be after since")
		if n := len(deliveries()); n != 0 {
			t.Fatalf("%d deliveries after refused replays", n)
		}
	})
	t.Run("Replay", func(t *testing.T) {
		b.post("/endpoints/"+ep.ID+"/replay-missing", url.Values{"since": {since}}).want(t, 303)
		b.get("/endpoints/"+ep.ID).want(t, 200, "created 1 delivery.")
		if ds := deliveries(); len(ds) != 1 || ds[0].EventID != ev.ID {
			t.Fatalf("deliveries after the replay: %+v, want one of %s", ds, ev.ID)
		}
		b.post("/endpoints/"+ep.ID+"/replay-missing", url.Values{"since": {since}}).want(t, 303)
		b.get("/endpoints/"+ep.ID).want(t, 200, "created 0 deliveries.")
	})
	t.Run("Portal", func(t *testing.T) {
		g := s.client(t)
		g.get(mustRequestURI(t, s.portalLink(t, "globex", "1h"))).want(t, 200)
		g.get("/portal/endpoints")
		g.post("/portal/endpoints/"+ep.ID+"/replay-missing", url.Values{"since": {since}}).want(t, 404, "not found")
		a := s.client(t)
		a.get(mustRequestURI(t, s.portalLink(t, "acme", "1h"))).want(t, 200)
		a.get("/portal/endpoints/"+ep.ID).want(t, 200, "Replay what it missed")
		a.post("/portal/endpoints/"+ep.ID+"/replay-missing", url.Values{"since": {since}}).want(t, 303)
		a.get("/portal/endpoints/"+ep.ID).want(t, 200, "created 0 deliveries.")
		if n := len(deliveries()); n != 1 {
			t.Fatalf("%d deliveries, want 1 (another tenant's event was replayed?)", n)
		}
	})
}

// TestFlashSurvivesLiveRefresh checks that a live refresh of a table (a
// fragment) does not take the message meant for the next page: a tab's
// refresh racing the redirect after a bulk retry ate "Requeued N" (and
// TestBrowser's "sent again") now and then.
func TestFlashSurvivesLiveRefresh(t *testing.T) {
	s := setupStack(t)
	b := s.signIn(t)
	b.get("/deliveries?status=failed")
	b.post("/deliveries/bulk", url.Values{"confirm": {"yes"}}).want(t, 303)
	if a := b.get("/deliveries?status=failed&fragment=1").want(t, 200); strings.Contains(a.body, "Requeued") || strings.Contains(a.body, "<html") {
		t.Fatalf("the fragment: %s", a.body)
	}
	b.get("/deliveries?status=failed").want(t, 200, "Requeued 0 dead letters.")
}
