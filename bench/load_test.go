package bench

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestEventsTenantPriority checks that events carry the loader's tenant
// and priority when set, and neither when not, one by one and in batches,
// and that a reused buffer leaves every event its own data.
func TestEventsTenantPriority(t *testing.T) {
	t.Parallel()
	due := time.Unix(1700000000, 0)
	for _, c := range []struct {
		name     string
		tenant   string
		priority int
		batch    int
	}{
		{"plain", "", 0, 1},
		{"tenant", "bench-a", 0, 1},
		{"priority batch", "", 9, 3},
		{"both batch", "bench-b", 1, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newLoader(nil, "bench.x", "r1", 128, c.batch, newErrorCounts())
			l.tenant, l.priority = c.tenant, c.priority
			var buf sendBuf
			l.events(&buf, 100, 5, due) // a larger request first: the buffer is reused
			events := l.events(&buf, 7, c.batch, due)
			if len(events) != c.batch {
				t.Fatalf("%d events, want %d", len(events), c.batch)
			}
			for i, e := range events {
				var data struct {
					Run string
					Seq uint64
					Pad string
				}
				if err := json.Unmarshal(e.Data, &data); err != nil {
					t.Fatalf("event %d: %s: %v", i, e.Data, err)
				}
				if e.Type != "bench.x" || data.Run != "r1" || data.Seq != uint64(7+i) {
					t.Errorf("event %d: type %q, data %s", i, e.Type, e.Data)
				}
				if len(data.Pad) != 128-70 {
					t.Errorf("event %d: %d bytes of padding, want %d", i, len(data.Pad), 128-70)
				}
				if e.Tenant != c.tenant {
					t.Errorf("event %d: tenant %q, want %q", i, e.Tenant, c.tenant)
				}
				if (e.Priority != nil) != (c.priority != 0) || e.Priority != nil && *e.Priority != c.priority {
					t.Errorf("event %d: priority %v, want %d", i, e.Priority, c.priority)
				}
				// The receivers find the bench's fields in the data.
				if f := parseFields(e.Data); string(f.run) != "r1" || f.seq != int64(7+i) || f.sentNS != due.UnixNano() {
					t.Errorf("event %d: parseFields: run %q, seq %d, sent %d", i, f.run, f.seq, f.sentNS)
				}
			}
		})
	}
}

// TestSendAnswers sends to a real HTTP server that answers each request as
// told, and checks what the loader counts: a 202 accepted with its
// deliveries, a 503 rejected with its Retry-After, other statuses, an
// unreadable 202 and a dropped connection each under their own kind.
func TestSendAnswers(t *testing.T) {
	t.Parallel()
	var answer atomic.Value // func(http.ResponseWriter)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer k" || r.URL.Path != "/v1/events/batch" {
			http.Error(w, `{"error":"invalid","message":"wrong request"}`, http.StatusBadRequest)
			return
		}
		answer.Load().(func(http.ResponseWriter))(w)
	}))
	defer srv.Close()
	api, err := newAPIClient([]string{srv.URL}, "k", 2)
	if err != nil {
		t.Fatal(err)
	}
	defer api.hc.CloseIdleConnections()
	l := newLoader(api, "bench.x", "r1", 100, 2, newErrorCounts())
	var buf sendBuf
	send := func(status int, header, body string) result {
		answer.Store(func(w http.ResponseWriter) {
			if header != "" {
				w.Header().Set("Retry-After", header)
			}
			if status == 0 { // drop the connection
				panic(http.ErrAbortHandler)
			}
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		})
		return l.send(t.Context(), &buf, time.Now(), 2)
	}

	if r := send(http.StatusAccepted, "", `{"data":[{"id":"evt_1","deliveries":3},{"id":"evt_2","deliveries":4}]}`); !r.accepted {
		t.Errorf("202: %+v, want accepted", r)
	}
	if got := l.announced.Load(); got != 7 {
		t.Errorf("announced %d deliveries, want 7", got)
	}
	if r := send(http.StatusServiceUnavailable, "3", `{"error":"unavailable","message":"backlog"}`); r.accepted || r.retryAfter != 3*time.Second {
		t.Errorf("503 Retry-After 3: %+v", r)
	}
	if r := send(http.StatusServiceUnavailable, "", `{"error":"unavailable","message":"backlog"}`); r.retryAfter != 100*time.Millisecond {
		t.Errorf("503 without Retry-After: %+v, want 100ms", r)
	}
	if r := send(http.StatusConflict, "", `{"error":"conflict","message":"x"}`); r.accepted || r.retryAfter != 0 {
		t.Errorf("409: %+v", r)
	}
	if r := send(http.StatusAccepted, "", `{"data":[{"id":"evt_1","deliveries":3}]}`); r.accepted {
		t.Errorf("202 with one result for two events: %+v, want rejected", r)
	}
	if r := send(0, "", ""); r.accepted {
		t.Errorf("dropped connection: %+v", r)
	}
	want := map[string]int64{"http_503": 2, "http_409": 1, "bad_answer": 1, "transport": 1}
	if got := l.errs.snapshot(); !maps.Equal(got, want) {
		t.Errorf("errors %v, want %v", got, want)
	}
	if l.sent.Load() != 12 || l.accepted.Load() != 2 || l.rejected.Load() != 10 {
		t.Errorf("sent %d, accepted %d, rejected %d events; want 12, 2, 10", l.sent.Load(), l.accepted.Load(), l.rejected.Load())
	}
}
