package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/postgres"
	"github.com/hookline/hookline/storetest"
)

// TestMain checks that closed stores leave no goroutine behind: pools,
// listeners and notifiers stop with Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestStore runs the conformance suite, each test on a schema of its own.
func TestStore(t *testing.T) {
	databaseURL(t)
	storetest.Run(t, func(t *testing.T) hookline.Store { return newStore(t) })
}

// databaseURL returns the URL of the test database, or skips the test when
// there is none (and fails it when HOOKLINE_REQUIRE_POSTGRES=1, as make test
// sets it).
func databaseURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv("HOOKLINE_TEST_DATABASE_URL")
	if url == "" {
		if os.Getenv("HOOKLINE_REQUIRE_POSTGRES") == "1" {
			tb.Fatal("PostgreSQL tests need HOOKLINE_TEST_DATABASE_URL; run scripts/pgtest.sh start or make test")
		}
		tb.Skip("HOOKLINE_TEST_DATABASE_URL is not set; run: eval \"$(scripts/pgtest.sh start)\"")
	}
	return url
}

// testSchema returns the name of a new schema of the test database, which
// is dropped with everything in it when the test ends (after the stores
// opened on it are closed, when they were opened after this call).
func testSchema(tb testing.TB) string {
	tb.Helper()
	url := databaseURL(tb)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "test_" + hex.EncodeToString(b)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// openStore opens a store on schema, closed when the test ends.
func openStore(tb testing.TB, schema string) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(context.Background(), databaseURL(tb), postgres.WithSchema(schema))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// newStore opens a store on a schema of its own.
func newStore(tb testing.TB) *postgres.Store {
	tb.Helper()
	return openStore(tb, testSchema(tb))
}

var epoch = time.Date(2024, 2, 29, 12, 0, 0, 123456000, time.UTC)

func newEndpoint(tenant string, now time.Time, types ...string) *hookline.Endpoint {
	id := hookline.NewID(hookline.EndpointPrefix, now)
	return &hookline.Endpoint{
		ID: id, Tenant: tenant, URL: "https://receiver.example/" + id, EventTypes: types,
		Secret: "whsec_c2VjcmV0c2VjcmV0c2VjcmV0", CreatedAt: now, UpdatedAt: now,
	}
}

func newEvent(tenant, typ string, now time.Time) *hookline.Event {
	id := hookline.NewID(hookline.EventPrefix, now)
	return &hookline.Event{ID: id, Tenant: tenant, Type: typ, CreatedAt: now,
		Data: json.RawMessage(fmt.Sprintf(`{"event":%q}`, id))}
}

func mustCreate(t testing.TB, s hookline.Store, ep *hookline.Endpoint) {
	t.Helper()
	if err := s.CreateEndpoint(context.Background(), ep); err != nil {
		t.Fatalf("CreateEndpoint: %v", err)
	}
}

func mustIngest(t testing.TB, s hookline.Store, now time.Time, claim bool, events ...*hookline.Event) *hookline.IngestRequest {
	t.Helper()
	r := &hookline.IngestRequest{Events: events, Claim: claim}
	if err := s.Ingest(context.Background(), []*hookline.IngestRequest{r}, now); err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	if r.Err != nil {
		t.Fatalf("Ingest: request error: %v", r.Err)
	}
	return r
}

// TestMigrateConcurrently opens stores on one new schema from several
// goroutines at once, as nodes starting together do: each must succeed, and
// each migration must be applied once.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	schema := testSchema(t)
	url := databaseURL(t)
	const nodes = 8
	stores := make([]*postgres.Store, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() {
			stores[i], errs[i] = postgres.Open(t.Context(), url, postgres.WithSchema(schema), postgres.WithMaxConns(2))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open #%d: %v", i, err)
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}
	// Migrating again is a no-op.
	if err := stores[0].Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var versions []int
	rows, err := conn.Query(t.Context(), "SELECT version FROM "+pgx.Identifier{schema, "schema_migrations"}.Sanitize()+" ORDER BY version")
	if err == nil {
		versions, err = pgx.CollectRows(rows, pgx.RowTo[int])
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) == 0 || versions[0] != 1 || versions[len(versions)-1] != len(versions) {
		t.Errorf("schema_migrations = %v, want 1…n once each", versions)
	}
	// Every store works on the schema.
	now := epoch
	for i, s := range stores {
		now = now.Add(time.Millisecond)
		mustCreate(t, s, newEndpoint(fmt.Sprintf("tenant-%d", i), now))
	}
	st, err := stores[nodes-1].Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Endpoints != nodes {
		t.Errorf("Stats.Endpoints = %d, want %d", st.Endpoints, nodes)
	}
}

// TestOpenUnavailable checks that a database that cannot be reached is
// EUNAVAILABLE.
func TestOpenUnavailable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// Port 1 on loopback: nothing listens there.
	_, err := postgres.Open(ctx, "postgres://postgres@127.0.0.1:1/hookline_test?sslmode=disable&connect_timeout=5")
	if got := hookline.ErrorCode(err); got != hookline.EUNAVAILABLE {
		t.Errorf("Open on a closed port: error %v has code %q, want %q", err, got, hookline.EUNAVAILABLE)
	}
}

// TestUnavailableWhenConnectionsDie terminates the store's connections, as a
// database restart does: the next call fails with EUNAVAILABLE rather than
// an internal error, and the store recovers on its own.
func TestUnavailableWhenConnectionsDie(t *testing.T) {
	t.Parallel()
	schema := testSchema(t)
	app := "hookline_" + schema
	s, err := postgres.Open(t.Context(), databaseURL(t)+"&application_name="+app, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), databaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1`, app).Scan(&n); err != nil || n == 0 {
		t.Fatalf("terminate the store's connections: %d terminated, %v", n, err)
	}
	_, err = s.FindEndpoint(t.Context(), "ep_missing")
	if got := hookline.ErrorCode(err); got != hookline.EUNAVAILABLE {
		t.Errorf("FindEndpoint on a terminated connection: error %v has code %q, want %q", err, got, hookline.EUNAVAILABLE)
	}
	// Each dead connection of the pool fails once, and is replaced.
	for range 10 {
		if _, err = s.FindEndpoint(t.Context(), "ep_missing"); hookline.ErrorCode(err) != hookline.EUNAVAILABLE {
			break
		}
	}
	if got := hookline.ErrorCode(err); got != hookline.ENOTFOUND {
		t.Errorf("FindEndpoint after reconnecting: error %v has code %q, want %q", err, got, hookline.ENOTFOUND)
	}
}

// TestEndpointSeenAcrossNodes creates an endpoint through one store and
// ingests through another on the same schema, which has cached the tenant's
// subscriptions before: the event must fan out to the new endpoint. Then the
// endpoint is disabled and deleted through the first store, and the second
// stops fanning out to it.
func TestEndpointSeenAcrossNodes(t *testing.T) {
	t.Parallel()
	schema := testSchema(t)
	a, b := openStore(t, schema), openStore(t, schema)
	now := epoch
	tick := func() time.Time { now = now.Add(time.Millisecond); return now }

	old := newEndpoint("acme", tick())
	mustCreate(t, a, old)
	r := mustIngest(t, b, tick(), true, newEvent("acme", "invoice.paid", now)) // caches acme on b
	if got := r.Results[0].Deliveries; got != 1 {
		t.Fatalf("first event: %d deliveries, want 1", got)
	}

	ep := newEndpoint("acme", tick(), "invoice.*")
	mustCreate(t, a, ep)
	r = mustIngest(t, b, tick(), true, newEvent("acme", "invoice.paid", now))
	if got := r.Results[0].Deliveries; got != 2 {
		t.Fatalf("after creating an endpoint on a: %d deliveries on b, want 2", got)
	}
	if !slices.ContainsFunc(r.Tasks, func(t *hookline.Task) bool { return t.Endpoint.ID == ep.ID }) {
		t.Errorf("no task for the endpoint created on a")
	}

	disabled := true
	if _, err := a.UpdateEndpoint(t.Context(), ep.ID, hookline.EndpointUpdate{Disabled: &disabled}, tick()); err != nil {
		t.Fatal(err)
	}
	r = mustIngest(t, b, tick(), true, newEvent("acme", "invoice.paid", now))
	if got := r.Results[0].Deliveries; got != 1 {
		t.Errorf("after disabling it on a: %d deliveries on b, want 1", got)
	}
	if _, err := a.DeleteEndpoint(t.Context(), old.ID, tick()); err != nil {
		t.Fatal(err)
	}
	r = mustIngest(t, b, tick(), true, newEvent("acme", "invoice.paid", now))
	if got := r.Results[0].Deliveries; got != 0 {
		t.Errorf("after deleting the other on a: %d deliveries on b, want 0", got)
	}
}

// TestIdempotencyRaceAcrossNodes ingests the same keyed event through two
// stores at once, many times: exactly one writes it, the other answers a
// duplicate with the same event ID, and neither fails. A key raced with
// another request body is a conflict for the loser, never an error.
func TestIdempotencyRaceAcrossNodes(t *testing.T) {
	t.Parallel()
	schema := testSchema(t)
	a, b := openStore(t, schema), openStore(t, schema)
	now := epoch
	mustCreate(t, a, newEndpoint("acme", now))
	now = now.Add(time.Millisecond)

	const rounds = 50
	var written int
	for i := range rounds {
		key := fmt.Sprintf("order-%d", i)
		hashB := "same"
		if i%2 == 1 {
			hashB = "other" // a different body: the loser gets a conflict
		}
		reqs := [2]*hookline.IngestRequest{
			{Events: []*hookline.Event{keyed(newEvent("acme", "order.created", now), key, "same")}},
			{Events: []*hookline.Event{keyed(newEvent("acme", "order.created", now), key, hashB)}},
		}
		var errs [2]error
		var wg sync.WaitGroup
		for j, s := range []*postgres.Store{a, b} {
			wg.Go(func() { errs[j] = s.Ingest(t.Context(), []*hookline.IngestRequest{reqs[j]}, now) })
		}
		wg.Wait()
		for j := range 2 {
			if errs[j] != nil {
				t.Fatalf("round %d: Ingest on node %d: %v", i, j, errs[j])
			}
		}
		var winners, dups, conflicts int
		var winnerID string
		for _, r := range reqs {
			switch {
			case r.Err != nil:
				if hookline.ErrorCode(r.Err) != hookline.ECONFLICT {
					t.Fatalf("round %d: request error %v, want a conflict", i, r.Err)
				}
				conflicts++
			case r.Results[0].Duplicate:
				dups++
			default:
				winners++
				winnerID = r.Results[0].ID
			}
		}
		if winners != 1 || (i%2 == 0 && dups != 1) || (i%2 == 1 && conflicts != 1) {
			t.Fatalf("round %d: %d written, %d duplicates, %d conflicts", i, winners, dups, conflicts)
		}
		for _, r := range reqs {
			if r.Err == nil && r.Results[0].ID != winnerID {
				t.Errorf("round %d: result ID %s, want the winner's %s", i, r.Results[0].ID, winnerID)
			}
		}
		written += winners
		now = now.Add(time.Millisecond)
	}
	st, err := b.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != int64(written) || st.Pending != int64(written) {
		t.Errorf("Stats = %+v, want %d events and pending deliveries", st, written)
	}
}

func keyed(ev *hookline.Event, key, hash string) *hookline.Event {
	ev.IdempotencyKey, ev.RequestHash = key, hash
	return ev
}

// TestDueSignal checks that an ingest of unclaimed deliveries through one
// store signals another store listening on the same schema.
func TestDueSignal(t *testing.T) {
	t.Parallel()
	schema := testSchema(t)
	a, b := openStore(t, schema), openStore(t, schema)
	sig := b.DueSignal()
	// The first signal comes when b starts listening.
	select {
	case <-sig:
	case <-time.After(30 * time.Second):
		t.Fatal("no signal when listening started")
	}
	mustCreate(t, a, newEndpoint("acme", epoch))
	mustIngest(t, a, epoch, false, newEvent("acme", "invoice.paid", epoch))
	select {
	case <-sig:
	case <-time.After(30 * time.Second):
		t.Fatal("no signal after an ingest on another node")
	}
}

// TestPendingCountAcrossNodes checks that the counts are the cluster's, not
// a node's.
func TestPendingCountAcrossNodes(t *testing.T) {
	t.Parallel()
	schema := testSchema(t)
	a, b := openStore(t, schema), openStore(t, schema)
	mustCreate(t, a, newEndpoint("acme", epoch))
	mustIngest(t, a, epoch, false, newEvent("acme", "x", epoch))
	mustIngest(t, b, epoch, false, newEvent("acme", "x", epoch), newEvent("acme", "y", epoch))
	for _, s := range []*postgres.Store{a, b} {
		n, err := s.PendingCount(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if n != 3 {
			t.Errorf("PendingCount = %d, want 3", n)
		}
	}
	due, err := b.DueEndpoints(t.Context(), nil)
	if err != nil || len(due) != 1 {
		t.Fatalf("DueEndpoints = %v, %v", due, err)
	}
	res, err := b.ClaimDue(t.Context(), []hookline.ClaimRequest{{EndpointID: due[0].EndpointID, Limit: 10}}, epoch)
	if err != nil {
		t.Fatal(err)
	}
	tasks := res[0].Tasks
	var outcomes []hookline.Outcome
	for _, task := range tasks {
		outcomes = append(outcomes, hookline.Outcome{Status: hookline.StatusDelivered,
			Attempt: hookline.Attempt{DeliveryID: task.DeliveryID, Attempt: 1, StartedAt: epoch, StatusCode: 200}})
	}
	if err := b.RecordOutcomes(t.Context(), outcomes, epoch); err != nil {
		t.Fatal(err)
	}
	st, err := a.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := (hookline.StoreStats{Delivered: 3, Events: 3, Endpoints: 1, EndpointsByCircuit: hookline.CircuitCounts{Closed: 1}}); st != want {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
}

// TestOutcomeOfAStaleHolder is promise 8: node a claims a delivery and
// pauses; node b takes the partition over (ResetClaims), claims and
// delivers it. a's late outcome, a failure, must not overwrite b's record,
// before b's outcome nor after it; and a cannot unclaim what b holds.
func TestOutcomeOfAStaleHolder(t *testing.T) {
	t.Parallel()
	schema := testSchema(t)
	a, b := openStore(t, schema), openStore(t, schema)
	ep := newEndpoint("acme", epoch)
	mustCreate(t, a, ep)
	r := mustIngest(t, a, epoch, true, newEvent("acme", "x", epoch)) // claimed by a
	id := r.Tasks[0].DeliveryID
	if err := b.ResetClaims(t.Context(), []int{ep.Partition()}); err != nil {
		t.Fatal(err)
	}
	res, err := b.ClaimDue(t.Context(), []hookline.ClaimRequest{{EndpointID: ep.ID, Limit: 10}}, epoch)
	if err != nil || len(res[0].Tasks) != 1 {
		t.Fatalf("b's claim: %v, %v", res, err)
	}
	failed := hookline.Outcome{Status: hookline.StatusFailed,
		Attempt: hookline.Attempt{DeliveryID: id, Attempt: 1, StartedAt: epoch, StatusCode: 500, Error: "stale"}}
	if err := a.RecordOutcomes(t.Context(), []hookline.Outcome{failed}, epoch); err != nil {
		t.Fatal(err)
	}
	if err := a.Unclaim(t.Context(), []string{id}); err != nil {
		t.Fatal(err)
	}
	d, err := b.FindDelivery(t.Context(), id)
	if err != nil || d.Status != hookline.StatusPending || d.Attempts != 0 {
		t.Fatalf("after a's stale outcome: %+v, %v", d, err)
	}
	if again, _ := b.ClaimDue(t.Context(), []hookline.ClaimRequest{{EndpointID: ep.ID, Limit: 10}}, epoch); len(again[0].Tasks) != 0 {
		t.Fatal("a's Unclaim released b's claim")
	}
	ok := hookline.Outcome{Status: hookline.StatusDelivered,
		Attempt: hookline.Attempt{DeliveryID: id, Attempt: 1, StartedAt: epoch, StatusCode: 200}}
	if err := b.RecordOutcomes(t.Context(), []hookline.Outcome{ok}, epoch); err != nil {
		t.Fatal(err)
	}
	if err := a.RecordOutcomes(t.Context(), []hookline.Outcome{failed}, epoch); err != nil {
		t.Fatal(err)
	}
	d, err = b.FindDelivery(t.Context(), id)
	if err != nil || d.Status != hookline.StatusDelivered || d.LastStatusCode != 200 {
		t.Fatalf("after b's outcome and a's stale one: %+v, %v", d, err)
	}
	atts, _ := b.FindAttempts(t.Context(), id)
	if len(atts) != 1 || atts[0].StatusCode != 200 {
		t.Fatalf("attempts %+v: want only b's", atts)
	}
}
