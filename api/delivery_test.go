package api

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

// deliveryJSON is a delivery as the API shows it.
type deliveryJSON struct {
	ID             string     `json:"id"`
	EventID        string     `json:"event_id"`
	EndpointID     string     `json:"endpoint_id"`
	Tenant         string     `json:"tenant"`
	EventType      string     `json:"event_type"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	LastStatusCode int        `json:"last_status_code"`
	LastError      string     `json:"last_error"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	DeliveredAt    *time.Time `json:"delivered_at"`
}

// walk follows the pages of a delivery list of limit items and returns
// every delivery ID in order, and how many pages there were.
func (b *bundle) walk(t *testing.T, query string, limit string) (ids []string, pages int) {
	t.Helper()
	cursor := ""
	for {
		var l list[deliveryJSON]
		b.do(t, "GET", "/v1/deliveries?limit="+limit+"&cursor="+url.QueryEscape(cursor)+"&"+query, "").ok(t, 200, &l)
		pages++
		for _, d := range l.Data {
			ids = append(ids, d.ID)
		}
		if l.NextCursor == nil {
			return ids, pages
		}
		if pages > 100 {
			t.Fatal("too many pages")
		}
		cursor = *l.NextCursor
	}
}

func TestDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var eps []string
	for range 5 {
		eps = append(eps, b.createEndpoint(t, `{"url":"https://example.com/hook"}`).ID)
	}
	first := b.ingest(t, `{"type":"a","data":1}`)
	b.fail(t) // the first event's five deliveries fail
	second := b.ingest(t, `{"type":"b","data":2}`)

	t.Run("Pages", func(t *testing.T) {
		ids, pages := b.walk(t, "", "3")
		if len(ids) != 10 || pages != 4 {
			t.Fatalf("%d deliveries in %d pages", len(ids), pages)
		}
		sorted := slices.Clone(ids)
		slices.Sort(sorted)
		slices.Reverse(sorted)
		if !slices.Equal(ids, sorted) || len(slices.Compact(sorted)) != 10 {
			t.Fatalf("pages not newest first without repeats: %v", ids)
		}
		if all, _ := b.walk(t, "", "1000"); !slices.Equal(all, ids) {
			t.Fatalf("one page %v, walked %v", all, ids)
		}
	})
	t.Run("Filters", func(t *testing.T) {
		for _, tt := range []struct {
			query string
			n     int
		}{
			{"event_id=" + first.ID, 5},
			{"event_id=" + second.ID + "&status=pending", 5},
			{"event_id=" + second.ID + "&status=failed", 0},
			{"status=failed", 5},
			{"status=delivered", 0},
			{"endpoint_id=" + eps[2], 2},
			{"endpoint_id=" + eps[2] + "&status=failed", 1},
			{"event_id=evt_nope", 0},
		} {
			ids, _ := b.walk(t, tt.query, "2")
			if len(ids) != tt.n {
				t.Errorf("%s: %d deliveries, want %d", tt.query, len(ids), tt.n)
			}
		}
		var l list[deliveryJSON]
		b.do(t, "GET", "/v1/deliveries?status=failed&endpoint_id="+eps[2], "").ok(t, 200, &l)
		d := l.Data[0]
		if d.EventID != first.ID || d.EndpointID != eps[2] || d.Status != "failed" || d.Attempts != 1 ||
			d.LastStatusCode != 500 || d.LastError != "HTTP 500" || d.EventType != "a" || d.NextAttemptAt != nil {
			t.Fatalf("failed delivery %+v", d)
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		for _, q := range []string{"status=done", "status=PENDING", "status=dead"} {
			b.do(t, "GET", "/v1/deliveries?"+q, "").wantError(t, 400, hookline.EINVALID, "status:", "pending, delivered or failed")
		}
		b.do(t, "GET", "/v1/deliveries?limit=0", "").wantError(t, 400, hookline.EINVALID, "limit:")
		b.do(t, "GET", "/v1/deliveries?limit=5000", "").wantError(t, 400, hookline.EINVALID, "limit:")
		b.do(t, "GET", "/v1/deliveries?event_id="+strings.Repeat("x", 100), "").wantError(t, 400, hookline.EINVALID, "event_id:")
	})

	var failed list[deliveryJSON]
	b.do(t, "GET", "/v1/deliveries?status=failed&limit=1", "").ok(t, 200, &failed)
	id := failed.Data[0].ID

	t.Run("Get", func(t *testing.T) {
		var d deliveryJSON
		b.do(t, "GET", "/v1/deliveries/"+id, "").ok(t, 200, &d)
		if d != failed.Data[0] {
			t.Fatalf("GET %+v, listed %+v", d, failed.Data[0])
		}
		b.do(t, "GET", "/v1/deliveries/dlv_nope", "").wantError(t, 404, hookline.ENOTFOUND)
	})
	t.Run("Attempts", func(t *testing.T) {
		var as struct {
			Data []map[string]any `json:"data"`
		}
		res := b.do(t, "GET", "/v1/deliveries/"+id+"/attempts", "")
		res.ok(t, 200, &as)
		if len(as.Data) != 1 {
			t.Fatalf("attempts %s", res.body)
		}
		a := as.Data[0]
		if len(a) != 6 || a["attempt"] != 1.0 || a["duration_ms"] != 1.5 || a["status_code"] != 500.0 ||
			a["error"] != "HTTP 500" || a["response_body"] != "oops" {
			t.Fatalf("attempt %v", a)
		}
		if _, err := time.Parse(time.RFC3339Nano, a["started_at"].(string)); err != nil {
			t.Fatalf("started_at %v", a["started_at"])
		}
		var none struct{ Data []any }
		b.do(t, "GET", "/v1/deliveries/"+b.pendingID(t, second.ID)+"/attempts", "").ok(t, 200, &none)
		if none.Data == nil || len(none.Data) != 0 {
			t.Fatalf("attempts of a new delivery: %v", none.Data)
		}
		b.do(t, "GET", "/v1/deliveries/dlv_nope/attempts", "").wantError(t, 404, hookline.ENOTFOUND)
	})
	t.Run("Retry", func(t *testing.T) {
		var d deliveryJSON
		b.do(t, "POST", "/v1/deliveries/"+id+"/retry", "").ok(t, 202, &d)
		if d.ID != id || d.Status != "pending" || d.Attempts != 1 || d.NextAttemptAt == nil {
			t.Fatalf("retried %+v", d)
		}
		b.do(t, "POST", "/v1/deliveries/"+id+"/retry", "{}").ok(t, 202, &d)
		b.do(t, "POST", "/v1/deliveries/dlv_nope/retry", "").wantError(t, 404, hookline.ENOTFOUND)
		b.do(t, "POST", "/v1/deliveries/"+id+"/retry", `{"now":true}`).wantError(t, 400, hookline.EINVALID, "now: unknown field")
		b.do(t, "POST", "/v1/deliveries/"+id+"/retry", `[]`).wantError(t, 400, hookline.EINVALID, "must be an object")
	})
}

// pendingID returns the ID of a pending delivery of an event.
func (b *bundle) pendingID(t *testing.T, eventID string) string {
	t.Helper()
	var l list[deliveryJSON]
	b.do(t, "GET", "/v1/deliveries?status=pending&limit=1&event_id="+eventID, "").ok(t, 200, &l)
	if len(l.Data) != 1 {
		t.Fatalf("no pending delivery of %s", eventID)
	}
	return l.Data[0].ID
}
