package sqlite

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/storetest"
)

// TestMain checks that a closed store leaves no goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// open opens a store on a new file in a temporary directory. Its cleanup
// checks that the counts kept in memory match the database, then closes it.
func open(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "hookline.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			checkCounts(t, s)
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// nonZero returns the endpoint counts of m that are not zero (counts keeps
// zero ones).
func nonZero(m map[string]*endpointCounts) map[string]hookline.EndpointCounts {
	out := make(map[string]hookline.EndpointCounts)
	for id, e := range m {
		if e.EndpointCounts != (hookline.EndpointCounts{}) {
			out[id] = e.EndpointCounts
		}
	}
	return out
}

// checkCounts compares the store's in-memory counts and endpoints with the
// database.
func checkCounts(t testing.TB, s *Store) {
	t.Helper()
	ctx := context.Background()
	if err := s.settle(ctx); err != nil { // the rows of held deliveries count
		t.Fatal(err)
	}
	want, err := loadCounts(ctx, s.wdb)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	disabled := s.endpoints.disabled
	s.mu.Unlock()
	if got, want := s.counts.stats(disabled), want.stats(disabled); got != want {
		t.Errorf("counts in memory %+v, in the database %+v", got, want)
	}
	s.counts.mu.Lock()
	if got, want := nonZero(s.counts.byEndpoint), nonZero(want.byEndpoint); !maps.Equal(got, want) {
		t.Errorf("endpoint counts in memory %v, in the database %v", got, want)
	}
	if !maps.Equal(s.counts.circuits, want.circuits) {
		t.Errorf("circuits in memory %v, in the database %v", s.counts.circuits, want.circuits)
	}
	s.counts.mu.Unlock()
	cache, _, _, err := loadEndpoints(ctx, s.wdb, s.box)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(cache.byID) != len(s.endpoints.byID) {
		t.Errorf("%d endpoints in memory, %d in the database", len(s.endpoints.byID), len(cache.byID))
	}
	for id, ce := range cache.byID {
		got := s.endpoints.byID[id]
		if got == nil {
			t.Errorf("endpoint %s is not in memory", id)
			continue
		}
		if got.ep.URL != ce.ep.URL || got.ep.Disabled != ce.ep.Disabled || got.ep.Secret != ce.ep.Secret || got.ep.PreviousSecret != ce.ep.PreviousSecret ||
			!got.ep.PreviousSecretExpiresAt.Equal(ce.ep.PreviousSecretExpiresAt) ||
			!got.ep.UpdatedAt.Equal(ce.ep.UpdatedAt) || strings.Join(got.ep.EventTypes, ",") != strings.Join(ce.ep.EventTypes, ",") {
			t.Errorf("endpoint %s in memory %+v, in the database %+v", id, got.ep, ce.ep)
		}
	}
	for tenant, subs := range cache.tenant {
		if len(subs) != len(s.endpoints.tenant[tenant]) {
			t.Errorf("tenant %q: %d subscribers in memory, %d in the database", tenant, len(s.endpoints.tenant[tenant]), len(subs))
		}
	}
	if len(cache.tenant) != len(s.endpoints.tenant) {
		t.Errorf("%d tenants with subscribers in memory, %d in the database", len(s.endpoints.tenant), len(cache.tenant))
	}
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) hookline.Store { return open(t) })
}

func TestPragmas(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	for _, tc := range []struct {
		db     string
		pragma string
		want   string
	}{
		{"write", "journal_mode", "wal"},
		{"write", "synchronous", "2"}, // FULL
		{"write", "foreign_keys", "1"},
		{"write", "busy_timeout", "10000"},
		{"read", "journal_mode", "wal"},
		{"read", "foreign_keys", "1"},
		{"read", "query_only", "1"},
		{"write", "user_version", strconv.Itoa(len(migrations))},
	} {
		db := s.wdb
		if tc.db == "read" {
			db = s.rdb
		}
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatalf("%s: PRAGMA %s: %v", tc.db, tc.pragma, err)
		}
		if got != tc.want {
			t.Errorf("%s: PRAGMA %s = %s, want %s", tc.db, tc.pragma, got, tc.want)
		}
	}
	if _, err := s.rdb.ExecContext(ctx, "DELETE FROM endpoints"); err == nil {
		t.Error("the read pool can write")
	}
}

// TestReopen checks that what the store keeps in memory is rebuilt from the
// file by the next Open.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hookline.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	now := hookline.Now()
	ep := &hookline.Endpoint{ID: hookline.NewID(hookline.EndpointPrefix, now), Tenant: "acme", URL: "https://x.example/",
		EventTypes: []string{"invoice.*"}, Secret: "whsec_c2VjcmV0", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	off := &hookline.Endpoint{ID: hookline.NewID(hookline.EndpointPrefix, now), Tenant: "acme", Disabled: true,
		Secret: "whsec_b2Zm", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateEndpoint(ctx, off); err != nil {
		t.Fatal(err)
	}
	ev := &hookline.Event{ID: hookline.NewID(hookline.EventPrefix, now), Tenant: "acme", Type: "invoice.paid",
		Data: []byte(`{}`), CreatedAt: now}
	r := &hookline.IngestRequest{Events: []*hookline.Event{ev}, Claim: true}
	if err := s.Ingest(ctx, []*hookline.IngestRequest{r}, now); err != nil {
		t.Fatal(err)
	}
	want, _ := s.Stats(ctx)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, _ := s.Stats(ctx); got != want {
		t.Errorf("Stats after reopening = %+v, want %+v", got, want)
	}
	// The claim survives the restart until ResetClaims.
	claim := func() []*hookline.Task {
		res, err := s.ClaimDue(ctx, []hookline.ClaimRequest{{EndpointID: ep.ID, Limit: 10}}, now)
		if err != nil {
			t.Fatal(err)
		}
		return res[0].Tasks
	}
	if tasks := claim(); len(tasks) != 0 {
		t.Errorf("ClaimDue after reopening = %d tasks, want 0", len(tasks))
	}
	if err := s.ResetClaims(ctx, nil); err != nil {
		t.Fatal(err)
	}
	tasks := claim()
	if len(tasks) != 1 {
		t.Fatalf("ClaimDue after ResetClaims = %d tasks", len(tasks))
	}
	if tasks[0].Endpoint.URL != ep.URL || tasks[0].Endpoint.Secret != ep.Secret {
		t.Errorf("task endpoint after reopening = %+v", tasks[0].Endpoint)
	}
	// The subscriptions are loaded too.
	ev2 := &hookline.Event{ID: hookline.NewID(hookline.EventPrefix, now.Add(time.Millisecond)), Tenant: "acme",
		Type: "invoice.paid", CreatedAt: now}
	r = &hookline.IngestRequest{Events: []*hookline.Event{ev2}}
	if err := s.Ingest(ctx, []*hookline.IngestRequest{r}, now); err != nil {
		t.Fatal(err)
	}
	if len(r.Tasks) != 1 || r.Tasks[0].Endpoint.ID != ep.ID {
		t.Errorf("fan-out after reopening: %d tasks", len(r.Tasks))
	}
	checkCounts(t, s)
}

func TestOpenNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hookline.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.wdb.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(path); err == nil {
		s.Close()
		t.Fatal("Open of a database of a newer schema succeeded")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a database of a newer schema: %v", err)
	}
}

func TestOpenMissingDirectory(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "missing", "hookline.db"))
	if err == nil {
		s.Close()
		t.Fatal("Open in a missing directory succeeded")
	}
}

// deliveries returns the query of FindDeliveries for f.
func deliveries(f hookline.DeliveryFilter) string {
	q, _ := deliveriesQuery(f, 10)
	return q
}

// eventsPlanQuery returns the query of FindEvents for f and its exact type.
func eventsPlanQuery(f hookline.EventFilter) string {
	q, _ := eventsQuery(f, []string{f.Type}, 10)
	return q
}

// countPlanQuery returns the query of CountDeliveries for f.
func countPlanQuery(f hookline.DeliveryFilter) string {
	q, _ := countQuery(f)
	return q
}

func ptr[T any](v T) *T { return &v }

// TestQueryPlans pins the indexes of the hot and list queries, so that a
// schema change cannot quietly turn one into a scan.
func TestQueryPlans(t *testing.T) {
	s := open(t)
	for _, tc := range []struct {
		name, query string
		args        []any
		want        []string
	}{
		{"ClaimDue", queryClaimDue, []any{"e", 0, 10}, []string{"deliveries_due_lane (endpoint_id=? AND priority=? AND next_attempt_at<?)"}},
		{"NextDue", queryNextDue, []any{"e"}, []string{"deliveries_due_lane (endpoint_id=? AND priority=?)"}},
		{"DueEndpoints", queryDueEndpoints, nil, []string{"deliveries_due_lane (endpoint_id>?)", "deliveries_due_lane (endpoint_id=? AND priority=?)"}},
		{"DeliveriesByEvent", deliveries(hookline.DeliveryFilter{EventID: "e", Cursor: "c"}), nil, []string{"deliveries_event"}},
		{"DeliveriesByEventStatus", deliveries(hookline.DeliveryFilter{EventID: "e", Status: hookline.StatusDelivered}),
			nil, []string{"deliveries_event"}},
		{"DeliveriesByEndpoint", deliveries(hookline.DeliveryFilter{EndpointID: "e"}), nil, []string{"deliveries_endpoint"}},
		{"DeliveriesByEndpointStatus", deliveries(hookline.DeliveryFilter{EndpointID: "e", Status: hookline.StatusFailed, Cursor: "c"}),
			nil, []string{"deliveries_failed_endpoint"}},
		{"DeliveriesByStatus", deliveries(hookline.DeliveryFilter{Status: hookline.StatusFailed}), nil, []string{"deliveries_failed"}},
		{"RecoverEndpoint", recoverQuery(true), nil, []string{"deliveries_endpoint"}},
		{"DeliveriesByType", deliveries(hookline.DeliveryFilter{EventType: "invoice.paid", Cursor: "c"}), nil, []string{"deliveries_type"}},
		{"DeliveriesByTypeFailed", deliveries(hookline.DeliveryFilter{EventType: "invoice.paid", Status: hookline.StatusFailed}),
			nil, []string{"deliveries_failed_type"}},
		{"DeliveriesByTimeRange", deliveries(hookline.DeliveryFilter{Since: time.Unix(1, 0), Until: time.Unix(2, 0)}), nil, []string{"PRIMARY KEY"}},
		{"DeliveriesByEndpointType", deliveries(hookline.DeliveryFilter{EndpointID: "e", EventType: "a.b", Cursor: "c"}),
			nil, []string{"deliveries_endpoint_type (endpoint_id=? AND event_type=? AND id<?)"}},
		{"DeliveriesByEndpointTypeTime", deliveries(hookline.DeliveryFilter{EndpointID: "e", EventType: "a.b", Since: time.Unix(1, 0)}),
			nil, []string{"deliveries_endpoint_type (endpoint_id=? AND event_type=? AND id>?)"}},
		{"DeliveriesByEndpointTypeDelivered", deliveries(hookline.DeliveryFilter{EndpointID: "e", EventType: "a.b", Status: hookline.StatusDelivered}),
			nil, []string{"deliveries_endpoint_type (endpoint_id=? AND event_type=?)"}},
		{"DeliveriesByEndpointTypeFailed", deliveries(hookline.DeliveryFilter{EndpointID: "e", EventType: "a.b", Status: hookline.StatusFailed,
			Since: time.Unix(1, 0)}), nil, []string{"deliveries_failed_endpoint_type (endpoint_id=? AND event_type=? AND id>?)"}},
		{"RetryByEndpointPattern", countPlanQuery(hookline.DeliveryFilter{EndpointID: "e", EventType: "invoice.*", Status: hookline.StatusFailed}), nil,
			[]string{"deliveries_failed_endpoint_type (endpoint_id=? AND event_type>? AND event_type<?)"}},
		{"CountByEndpointPattern", countPlanQuery(hookline.DeliveryFilter{EndpointID: "e", EventType: "invoice.*"}), nil,
			[]string{"deliveries_endpoint_type (endpoint_id=? AND event_type>? AND event_type<?)"}},
		{"CountByType", countPlanQuery(hookline.DeliveryFilter{EventType: "invoice.*", Status: hookline.StatusFailed}), nil,
			[]string{"deliveries_failed_type (event_type>? AND event_type<?)"}},
		{"EventsByTenant", eventsPlanQuery(hookline.EventFilter{Tenant: ptr("acme")}), nil, []string{"events_tenant"}},
		{"EventsByTenantType", eventsPlanQuery(hookline.EventFilter{Tenant: ptr("acme"), Type: "invoice.paid", Cursor: "c"}), nil,
			[]string{"events_tenant_type"}},
		{"EventsByType", eventsPlanQuery(hookline.EventFilter{Type: "invoice.paid"}), nil, []string{"events_type"}},
		// The tenant indexes hold named tenants only (schema_v12.sql).
		{"EventsByNoTenant", eventsPlanQuery(hookline.EventFilter{Tenant: ptr("")}), nil, []string{"sqlite_autoindex_events_1"}},
		{"EventsByNoTenantType", eventsPlanQuery(hookline.EventFilter{Tenant: ptr(""), Type: "invoice.paid", Cursor: "c"}), nil,
			[]string{"events_type"}},
		{"EventTypes", queryEventTypes, []any{"a.", "a/", 65}, []string{"events_type"}},
		{"DeliveryTypes", queryDeliveryTypes, []any{"a.", "a/", 65}, []string{"deliveries_type"}},
		{"EndpointDeliveryTypes", queryEndpointDeliveryTypes, []any{"a.", "a/", 65, "e"}, []string{"deliveries_endpoint_type"}},
		{"ReplayDelivered", queryDeliveredTo, []any{"[]", "e"}, []string{"deliveries_event (event_id=? AND endpoint_id=?)"}},

		{"Unclaim", queryUnclaim, []any{"[]"}, []string{"PRIMARY KEY"}},
		{"Prune", `SELECT id FROM events e INDEXED BY events_created WHERE created_at < ? AND NOT EXISTS (
			SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status = 0) ORDER BY created_at LIMIT ?`,
			[]any{0, 10}, []string{"events_created", "deliveries_event"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if args == nil {
				args = make([]any, strings.Count(tc.query, "?"))
				for i := range args {
					args[i] = 1
				}
			}
			rows, err := s.wdb.Query("EXPLAIN QUERY PLAN "+tc.query, args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			all := strings.Join(plan, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("plan does not use %s:\n%s", w, all)
				}
			}
			if strings.Contains(all, "deliveries_failed") && !strings.Contains(strings.Join(tc.want, ""), "deliveries_failed") {
				t.Errorf("plan uses deliveries_failed:\n%s", all)
			}
			for _, step := range plan {
				if step == "SCAN d" || step == "SCAN deliveries" {
					t.Errorf("plan scans the deliveries table:\n%s", all)
				}
			}
		})
	}
}

// TestCascades checks the triggers that stand in for foreign keys: deleting
// an event takes its deliveries and their attempts.
func TestCascades(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	now := hookline.Now()
	ep := &hookline.Endpoint{ID: hookline.NewID(hookline.EndpointPrefix, now), URL: "https://example.com", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	ev := &hookline.Event{ID: hookline.NewID(hookline.EventPrefix, now), Type: "x", CreatedAt: now}
	r := &hookline.IngestRequest{Events: []*hookline.Event{ev}, Claim: true}
	if err := s.Ingest(ctx, []*hookline.IngestRequest{r}, now); err != nil || len(r.Tasks) != 1 {
		t.Fatalf("Ingest: %v, %d tasks", err, len(r.Tasks))
	}
	o := hookline.Outcome{Attempt: hookline.Attempt{DeliveryID: r.Tasks[0].DeliveryID, Attempt: 1, StartedAt: now, StatusCode: 200},
		Status: hookline.StatusDelivered}
	if err := s.RecordOutcomes(ctx, []hookline.Outcome{o}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.wdb.ExecContext(ctx, "DELETE FROM events WHERE id = ?", ev.ID); err != nil {
		t.Fatal(err)
	}
	s.counts.apply(&countsDelta{total: hookline.StoreStats{Delivered: -1, Events: -1}}) // behind the store's back
	for _, table := range []string{"deliveries", "attempts"} {
		var n int
		if err := s.wdb.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s left after the event was deleted: %d, %v", table, n, err)
		}
	}
}

// TestOpenRelativePath opens a database named by a relative path, as
// `hookline serve` does with its default data dir ./hookline-data.
func TestOpenRelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.Mkdir("hookline-data", 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := Open(filepath.Join("hookline-data", "hookline.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(filepath.Join("hookline-data", "hookline.db")); err != nil {
		t.Fatal(err)
	}
}

// TestMigrationV13ClampsPriorities checks that the move to one due index
// by priority (schema_v13.sql) keeps claimable the pending rows an earlier
// version wrote with a priority outside 0 to 9: the migration clamps them.
func TestMigrationV13ClampsPriorities(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hookline.db")
	s, eps := heldStore(t, path, 1)
	now := hookline.Now()
	ev := &hookline.Event{ID: hookline.NewID(hookline.EventPrefix, now), Tenant: "acme", Type: "invoice.paid",
		Data: []byte(`{}`), CreatedAt: now}
	r := &hookline.IngestRequest{Events: []*hookline.Event{ev}}
	if err := s.Ingest(ctx, []*hookline.IngestRequest{r}, now); err != nil || r.Err != nil {
		t.Fatal(err, r.Err)
	}
	// The file as version 12 left it: both due indexes, and a row of
	// priority 42 (written before rows were clamped).
	for _, q := range []string{
		"DROP INDEX deliveries_due_lane",
		"CREATE INDEX deliveries_due ON deliveries (endpoint_id, next_attempt_at) WHERE status = 0 AND claimed = 0",
		"CREATE INDEX deliveries_due_order ON deliveries (endpoint_id, next_attempt_at - priority * 30000000) WHERE status = 0 AND claimed = 0",
		"UPDATE deliveries SET priority = 42",
		"PRAGMA user_version = 12",
	} {
		if _, err := s.wdb.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.ClaimDue(ctx, []hookline.ClaimRequest{{EndpointID: eps[0].ID, Limit: 10}}, now.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(res[0].Tasks) != 1 || res[0].Tasks[0].DeliveryID != r.Tasks[0].DeliveryID || res[0].Tasks[0].Priority != hookline.MaxPriority {
		t.Fatalf("claimed %+v after the migration, want the delivery of priority 42 at priority 9", res[0].Tasks)
	}
}

// TestEndpointCountsKeptUntilDeleted checks that an endpoint's counts are
// kept at zero while it exists, and dropped once it is deleted and has
// none: at its deletion, or when the last of its deliveries is purged.
func TestEndpointCountsKeptUntilDeleted(t *testing.T) {
	c := &counts{byEndpoint: make(map[string]*endpointCounts), circuits: make(map[string]hookline.Circuit)}
	c.addEndpoint("a", 1, 0)
	c.addEndpoint("a", -1, 0)
	if _, ok := c.byEndpoint["a"]; !ok {
		t.Error("the zero counts of an endpoint that exists were dropped")
	}
	c.endpointDeleted("a")
	if _, ok := c.byEndpoint["a"]; ok {
		t.Error("the zero counts of a deleted endpoint were kept")
	}
	c.addEndpoint("b", 2, 1)
	c.endpointDeleted("b")
	if got := c.endpoint("b"); got.Pending != 2 || got.Failed != 1 {
		t.Errorf("a deleted endpoint's counts before its purge: %+v", got)
	}
	c.addEndpoint("b", -2, -1)
	if _, ok := c.byEndpoint["b"]; ok {
		t.Error("the counts of a deleted endpoint whose deliveries were purged were kept")
	}
}
