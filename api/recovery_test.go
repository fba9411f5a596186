package api

import (
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

func TestReplayMissing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.createEndpoint(t, `{"url":"https://example.com/hook","tenant":"acme","disabled":true,"event_types":["invoice.*"],
		"filter":{"data":{"amount":{"$gte":100}}}}`)
	since := time.Now().UTC().Add(-time.Second).Format(time.RFC3339Nano)
	b.ingest(t, `{"type":"invoice.paid","data":{"amount":500},"tenant":"acme"}`)
	b.ingest(t, `{"type":"invoice.paid","data":{"amount":5},"tenant":"acme"}`)   // filtered out
	b.ingest(t, `{"type":"user.created","data":{"amount":500},"tenant":"acme"}`) // another type
	b.ingest(t, `{"type":"invoice.paid","data":{"amount":900},"tenant":"globex"}`)
	b.ingest(t, `{"type":"invoice.paid","data":{"amount":700},"tenant":"acme"}`)
	path := "/v1/endpoints/" + ep.ID + "/replay-missing"
	body := `{"since":"` + since + `"}`

	b.do(t, "POST", path, body).wantError(t, 409, hookline.ECONFLICT, "disabled")
	b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, `{"disabled":false}`).ok(t, 200, nil)
	var res struct{ Created int }
	b.do(t, "POST", path, body).ok(t, 202, &res)
	if res.Created != 2 {
		t.Fatalf("created %d, want 2", res.Created)
	}
	b.do(t, "POST", path, body).ok(t, 202, &res)
	if res.Created != 0 {
		t.Fatalf("a second call created %d, want 0", res.Created)
	}
	var ds list[hookline.Delivery]
	b.do(t, "GET", "/v1/deliveries?endpoint_id="+ep.ID, "").ok(t, 200, &ds)
	if len(ds.Data) != 2 {
		t.Fatalf("%d deliveries to the endpoint, want 2", len(ds.Data))
	}
	// A window that ends before the events makes nothing.
	b.do(t, "POST", path, `{"since":"2020-01-01T00:00:00Z","until":"`+since+`"}`).ok(t, 202, &res)
	if res.Created != 0 {
		t.Fatalf("a window before the events created %d", res.Created)
	}

	t.Run("Invalid", func(t *testing.T) {
		for _, tc := range []struct{ body, want string }{
			{`{}`, "since: required"},
			{`{"since":null}`, "since: required"},
			{`{"since":""}`, "since: must be an RFC 3339 time"},
			{`{"since":"yesterday"}`, "since: must be an RFC 3339 time"},
			{`{"since":12}`, "since: must be a string"},
			{`{"since":"2024-01-01T00:00:00Z","until":"soon"}`, "until: must be an RFC 3339 time"},
			{`{"since":"2024-01-01T00:00:00Z","until":""}`, "until: must be an RFC 3339 time"},
			{`{"since":"2024-01-02T00:00:00Z","until":"2024-01-01T00:00:00Z"}`, "until: must be after since"},
			{`{"since":"2024-01-01T00:00:00Z","until":"2024-01-01T00:00:00Z"}`, "until: must be after since"},
			{`{"since":"2024-01-01T00:00:00Z","tenant":"acme"}`, "tenant: unknown field"},
			{`[]`, "request body: must be an object"},
		} {
			b.do(t, "POST", path, tc.body).wantError(t, 400, hookline.EINVALID, tc.want)
		}
		b.do(t, "POST", path, body, "Content-Type", "text/plain").wantError(t, 415, hookline.EMEDIATYPE)
	})
	t.Run("NotFound", func(t *testing.T) {
		b.do(t, "POST", "/v1/endpoints/ep_nope/replay-missing", body).wantError(t, 404, hookline.ENOTFOUND)
	})
}

func TestListEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a1 := b.ingest(t, `{"type":"invoice.paid","data":1,"tenant":"acme"}`)
	a2 := b.ingest(t, `{"type":"invoice.voided","data":2,"tenant":"acme"}`)
	var second hookline.Event
	b.do(t, "GET", "/v1/events/"+a2.ID, "").ok(t, 200, &second)
	mid := second.CreatedAt // since it: a2 and later; until it: a1
	g1 := b.ingest(t, `{"type":"invoice.paid","data":3,"tenant":"globex"}`)
	u1 := b.ingest(t, `{"type":"user.created","data":4}`)
	ids := func(q string) []string {
		t.Helper()
		var l list[hookline.Event]
		b.do(t, "GET", "/v1/events"+q, "").ok(t, 200, &l)
		var out []string
		for _, ev := range l.Data {
			out = append(out, ev.ID)
		}
		return out
	}
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"", []string{u1.ID, g1.ID, a2.ID, a1.ID}},
		{"?tenant=acme", []string{a2.ID, a1.ID}},
		{"?tenant=", []string{u1.ID}},
		{"?type=invoice.paid", []string{g1.ID, a1.ID}},
		{"?type=invoice.*&tenant=acme", []string{a2.ID, a1.ID}},
		{"?since=" + url.QueryEscape(mid.Format(time.RFC3339Nano)), []string{u1.ID, g1.ID, a2.ID}},
		{"?until=" + url.QueryEscape(mid.Format(time.RFC3339Nano)), []string{a1.ID}},
		{"?type=nothing.*", nil},
	} {
		// IDs of one millisecond do not sort by creation: the list is in
		// ID order, newest millisecond first.
		slices.Sort(tc.want)
		slices.Reverse(tc.want)
		if got := ids(tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("GET /v1/events%s = %v, want %v", tc.q, got, tc.want)
		}
	}
	// Pages of 1 walk every event once, with a cursor.
	var l list[hookline.Event]
	want := []string{a1.ID, a2.ID, g1.ID}
	slices.Sort(want)
	slices.Reverse(want)
	b.do(t, "GET", "/v1/events?limit=1&type=invoice.*", "").ok(t, 200, &l)
	if len(l.Data) != 1 || l.NextCursor == nil || l.Data[0].ID != want[0] {
		t.Fatalf("first page: %+v", l)
	}
	b.do(t, "GET", "/v1/events?limit=3&type=invoice.*&cursor="+*l.NextCursor, "").ok(t, 200, &l)
	if len(l.Data) != 2 || l.NextCursor != nil || l.Data[0].ID != want[1] || l.Data[1].ID != want[2] {
		t.Fatalf("second page: %+v", l)
	}
	if l.Data[1].ID == a1.ID && string(l.Data[1].Data) != "1" {
		t.Fatalf("data of the first event: %s", l.Data[1].Data)
	}

	t.Run("Invalid", func(t *testing.T) {
		for _, tc := range []struct{ q, want string }{
			{"?type=in%20voice", "type: must be an event type or a pattern"},
			{"?type=*", "type: must be an event type or a pattern"},
			{"?type=a.*.b", "type: must be an event type or a pattern"},
			{"?tenant=a%20b", "tenant: must be"},
			{"?since=yesterday", "since: must be an RFC 3339 time"},
			{"?until=1", "until: must be an RFC 3339 time"},
			{"?since=2024-01-02T00:00:00Z&until=2024-01-01T00:00:00Z", "until: must be after since"},
			{"?cursor=dlv_01HQTBRNKYEZW2X3JWB484CW94", "cursor: not a cursor"},
			{"?limit=0", "limit: must be an integer"},
		} {
			b.do(t, "GET", "/v1/events"+tc.q, "").wantError(t, 400, hookline.EINVALID, tc.want)
		}
	})
}

func TestBulkRetryAndCount(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e1 := b.createEndpoint(t, `{"url":"https://example.com/one"}`)
	b.createEndpoint(t, `{"url":"https://example.com/two"}`)
	b.ingest(t, `{"type":"invoice.paid","data":1}`)
	b.ingest(t, `{"type":"invoice.voided","data":2}`)
	b.ingest(t, `{"type":"user.created","data":3}`)
	b.fail(t)
	count := func(q string) int64 {
		t.Helper()
		var c struct{ Count int64 }
		b.do(t, "GET", "/v1/deliveries/count"+q, "").ok(t, 200, &c)
		return c.Count
	}
	for q, want := range map[string]int64{
		"":                                    6,
		"?status=failed":                      6,
		"?status=pending":                     0,
		"?status=failed&event_type=invoice.*": 4,
		"?endpoint_id=" + e1.ID + "&status=failed":  3,
		"?event_type=user.created":                  2,
		"?endpoint_id=" + e1.ID + "&event_type=a.b": 0,
		"?since=2999-01-01T00:00:00Z":               0,
	} {
		if got := count(q); got != want {
			t.Errorf("count%s = %d, want %d", q, got, want)
		}
	}
	var res struct{ Requeued int }
	b.do(t, "POST", "/v1/deliveries/retry", `{"status":"failed","endpoint_id":"`+e1.ID+`","event_type":"invoice.*"}`).ok(t, 202, &res)
	if res.Requeued != 2 {
		t.Fatalf("requeued %d, want 2", res.Requeued)
	}
	if got := count("?status=failed"); got != 4 {
		t.Fatalf("failed after a retry of 2: %d", got)
	}
	if got := count("?status=pending&endpoint_id=" + e1.ID); got != 2 {
		t.Fatalf("pending of the endpoint after the retry: %d", got)
	}
	b.do(t, "POST", "/v1/deliveries/retry", `{"status":"failed","since":"2999-01-01T00:00:00Z"}`).ok(t, 202, &res)
	if res.Requeued != 0 {
		t.Fatalf("requeued %d in a future window", res.Requeued)
	}
	b.do(t, "POST", "/v1/deliveries/retry", `{"status":"failed","until":"2999-01-01T00:00:00Z"}`).ok(t, 202, &res)
	if res.Requeued != 4 {
		t.Fatalf("requeued %d, want the other 4", res.Requeued)
	}
	if st := b.storeStats(t); st.Pending != 6 || st.Failed != 0 {
		t.Fatalf("stats after the retries: %+v", st)
	}

	t.Run("InvalidRetry", func(t *testing.T) {
		for _, tc := range []struct{ body, want string }{
			{`{}`, `status: required, and must be "failed"`},
			{`{"status":"pending"}`, `status: required, and must be "failed"`},
			{`{"status":"failed","endpoint_id":"nope"}`, "endpoint_id: not an endpoint ID"},
			{`{"status":"failed","endpoint_id":7}`, "endpoint_id: must be a string"},
			{`{"status":"failed","event_type":""}`, "event_type: must be an event type or a pattern"},
			{`{"status":"failed","event_type":"a b"}`, "event_type: must be an event type or a pattern"},
			{`{"status":"failed","since":"now"}`, "since: must be an RFC 3339 time"},
			{`{"status":"failed","since":""}`, "since: must be an RFC 3339 time"},
			{`{"status":"failed","until":"2024-01-01T00:00:00Z","since":"2024-01-01T00:00:00Z"}`, "until: must be after since"},
			{`{"status":"failed","event_id":"evt_x"}`, "event_id: unknown field"},
		} {
			b.do(t, "POST", "/v1/deliveries/retry", tc.body).wantError(t, 400, hookline.EINVALID, tc.want)
		}
		b.do(t, "POST", "/v1/deliveries/retry", `{"status":"failed"}`, "Content-Type", "text/plain").wantError(t, 415, hookline.EMEDIATYPE)
	})
	t.Run("InvalidCount", func(t *testing.T) {
		for _, tc := range []struct{ q, want string }{
			{"?status=lost", "status: must be pending, delivered or failed"},
			{"?event_type=*", "event_type: must be an event type or a pattern"},
			{"?since=x", "since: must be an RFC 3339 time"},
			{"?since=2024-01-02T00:00:00Z&until=2024-01-01T00:00:00Z", "until: must be after since"},
		} {
			b.do(t, "GET", "/v1/deliveries/count"+tc.q, "").wantError(t, 400, hookline.EINVALID, tc.want)
			b.do(t, "GET", "/v1/deliveries"+tc.q, "").wantError(t, 400, hookline.EINVALID, tc.want)
		}
	})
}
