package delivery_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/delivery"
	"github.com/hookline/hookline/internal/pgtest"
	"github.com/hookline/hookline/postgres"
)

// hangingReceiver answers nothing until its request is aborted, and tells
// of each request's arrival and abort.
func hangingReceiver(t *testing.T) (url string, arrived, aborted chan struct{}) {
	t.Helper()
	arrived, aborted = make(chan struct{}, 100), make(chan struct{}, 100)
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body first: the server notices that the client went
		// away (r.Context() done) only once it has.
		_, _ = io.Copy(io.Discard, r.Body)
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
			aborted <- struct{}{}
		case <-done:
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return srv.URL, arrived, aborted
}

// wait waits for a value on ch for at most d.
func wait(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("no %s within %s", what, d)
	}
}

// leased is an engine on PostgreSQL whose partitions a real leaser shares,
// with one request in flight to a receiver that hangs.
type leased struct {
	url, schema string
	store       *postgres.Store
	eventID     string
	arrived     chan struct{} // a value when a request arrives
	aborted     chan struct{} // a value when the request in flight is aborted
}

// setupLeased starts an engine and a leaser with the lease timeout, waits
// until the engine owns every partition, and sends one event to an endpoint
// that hangs until its request is aborted.
func setupLeased(t *testing.T, timeout time.Duration) *leased {
	t.Helper()
	url, schema := pgtest.Schema(t)
	s, err := postgres.Open(context.Background(), url, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e := delivery.New(delivery.Config{Store: s, Partitioned: true, AllowPrivateNetworks: true,
		DeliveryTimeout: time.Minute, PollInterval: 20 * time.Millisecond})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	l := s.NewLeaser("a", timeout, slog.New(slog.NewTextHandler(io.Discard, nil)))
	l.Lost = e.Revoke
	l.Renewed = e.SetDispatchDeadline
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, e.SetOwned) }()
	t.Cleanup(func() {
		cancel()
		<-done
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Close(stop)
	})
	waitFor(t, "every partition owned", func() bool {
		st, err := e.Stats(context.Background())
		return err == nil && st.Node.Partitions == hookline.Partitions
	})

	recv, arrived, aborted := hangingReceiver(t)
	now := hookline.Now()
	ep := &hookline.Endpoint{ID: hookline.NewID(hookline.EndpointPrefix, now), URL: recv,
		Secret: "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateEndpoint(context.Background(), ep); err != nil {
		t.Fatal(err)
	}
	res, err := e.Ingest(context.Background(), []*hookline.Event{{Type: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	wait(t, arrived, 10*time.Second, "request")
	return &leased{url: url, schema: schema, store: s, eventID: res[0].ID, arrived: arrived, aborted: aborted}
}

// conn returns a connection of the test's own to the database.
func (b *leased) conn(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), b.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// table returns the quoted name of a table of the test's schema.
func (b *leased) table(name string) string { return pgx.Identifier{b.schema, name}.Sanitize() }

// wantHandedBack checks that the delivery was handed back unclaimed and
// untouched: an aborted attempt is not a failure of the receiver.
func (b *leased) wantHandedBack(t *testing.T) {
	t.Helper()
	waitFor(t, "the claim handed back", func() bool {
		due, err := b.store.DueEndpoints(context.Background(), nil)
		return err == nil && len(due) == 1
	})
	b.wantUntouched(t)
}

// wantUntouched checks that the delivery is pending with no attempt
// recorded: an aborted attempt is not a failure of the receiver.
func (b *leased) wantUntouched(t *testing.T) {
	t.Helper()
	ds, _, err := b.store.FindDeliveries(context.Background(), hookline.DeliveryFilter{EventID: b.eventID})
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries: %v, %v", ds, err)
	}
	if d := ds[0]; d.Status != hookline.StatusPending || d.Attempts != 0 {
		t.Errorf("after the abort: %s with %d attempts, want pending with none (not a failure of the receiver)", d.Status, d.Attempts)
	}
}

// TestLostLeaseAbortsInFlight is finding 4 of issue 14: a node whose
// partitions were taken by another node (after a pause, say) aborts the
// requests it has in flight there as soon as a lease round tells it, rather
// than letting them run on for up to the delivery timeout while the new
// owner sends the same deliveries. The aborted attempt is handed back, not
// recorded as a failure of the receiver.
func TestLostLeaseAbortsInFlight(t *testing.T) {
	t.Parallel()
	b := setupLeased(t, 2*time.Second)
	// Another node takes every lease, as it would once ours expired.
	if _, err := b.conn(t).Exec(context.Background(), "UPDATE "+b.table("partition_leases")+
		" SET node_id = 'b', expires_at = now() + interval '1 hour', epoch = epoch + 1"); err != nil {
		t.Fatal(err)
	}
	wait(t, b.aborted, 5*time.Second, "abort of the request in flight")
	b.wantHandedBack(t)
}

// TestWatchdogAbortsInFlight is finding 4 of issue 14: the database blocks
// the lease round (a lock on the nodes table; a round may wait up to half the
// lease timeout on each call), so the leases are not renewed. The leaser's
// watchdog aborts the request in flight before the leases expire and another
// node could take them and send the delivery again, without waiting for the
// blocked round. (The request's delivery timeout is a minute: without the
// abort it would run on long past the expiry.)
func TestWatchdogAbortsInFlight(t *testing.T) {
	t.Parallel()
	const timeout, tick = 5 * time.Second, time.Second // tick: min(1s, timeout/5)
	b := setupLeased(t, timeout)
	lock, err := b.conn(t).Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(context.Background())
	if _, err := lock.Exec(context.Background(), "LOCK TABLE "+b.table("nodes")+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	var expiry time.Time
	if err := lock.QueryRow(context.Background(), "SELECT max(expires_at) FROM "+b.table("partition_leases")+
		" WHERE node_id = 'a'").Scan(&expiry); err != nil {
		t.Fatal(err)
	}
	wait(t, b.aborted, 2*timeout, "abort of the request in flight")
	if margin := time.Until(expiry); margin < tick/2 {
		t.Errorf("the request in flight was aborted %s before the leases expire, want at least %s", margin, tick/2)
	}
	if err := lock.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The next round renews the leases, and the delivery, handed back, is
	// sent again; the aborted attempt was not recorded.
	wait(t, b.arrived, 2*timeout, "request sent again once the leases are renewed")
	b.wantUntouched(t)
}

// TestHardStopRecordsNothing: a hard stop (Close's deadline passed) aborts
// the attempt in flight, and the attempt is handed back unrecorded, not
// counted as a failure of the receiver (issue 14, finding 5, by the same
// abort path as a revoked partition).
func TestHardStopRecordsNothing(t *testing.T) {
	stores(t, delivery.Config{DeliveryTimeout: time.Minute}, func(t *testing.T, b *bundle) {
		recv, arrived, aborted := hangingReceiver(t)
		b.endpoint(t, recv)
		id := b.send(t, "a", `{}`).ID
		wait(t, arrived, 10*time.Second, "request")
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // no time left: the stop is hard
		if err := b.engine.Close(ctx); err == nil {
			t.Error("Close with no time left for the attempt in flight returned no error")
		}
		wait(t, aborted, 5*time.Second, "abort of the request in flight")
		d := b.deliveries(t, id)[0]
		if d.Status != hookline.StatusPending || d.Attempts != 0 {
			t.Errorf("after a hard stop: %s with %d attempts, want pending with none", d.Status, d.Attempts)
		}
	})
}
