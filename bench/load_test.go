package bench

import (
	"encoding/json"
	"testing"
	"time"
)

// TestBodyTenantPriority checks that events carry the loader's tenant and
// priority when set, and neither when not, in single and batch requests.
func TestBodyTenantPriority(t *testing.T) {
	t.Parallel()
	type event struct {
		Type     string
		Tenant   *string
		Priority *int
		Data     struct {
			Run string
			Seq uint64
		}
	}
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
			b := l.body(nil, 7, c.batch, due)
			var events []event
			if c.batch == 1 {
				var e event
				if err := json.Unmarshal(b, &e); err != nil {
					t.Fatalf("%s: %v", b, err)
				}
				events = []event{e}
			} else {
				var req struct{ Events []event }
				if err := json.Unmarshal(b, &req); err != nil {
					t.Fatalf("%s: %v", b, err)
				}
				events = req.Events
			}
			if len(events) != c.batch {
				t.Fatalf("%d events, want %d: %s", len(events), c.batch, b)
			}
			for i, e := range events {
				if e.Type != "bench.x" || e.Data.Run != "r1" || e.Data.Seq != uint64(7+i) {
					t.Errorf("event %d: %+v", i, e)
				}
				if (e.Tenant != nil) != (c.tenant != "") || e.Tenant != nil && *e.Tenant != c.tenant {
					t.Errorf("event %d: tenant %v, want %q", i, e.Tenant, c.tenant)
				}
				if (e.Priority != nil) != (c.priority != 0) || e.Priority != nil && *e.Priority != c.priority {
					t.Errorf("event %d: priority %v, want %d", i, e.Priority, c.priority)
				}
			}
			// The receivers find the bench's fields in the data as before.
			if f := parseFields(b); string(f.run) != "r1" || f.seq != 7 || f.sentNS != due.UnixNano() {
				t.Errorf("parseFields: run %q, seq %d, sent %d", f.run, f.seq, f.sentNS)
			}
		})
	}
}
