package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookline/hookline"
)

// reqsOf returns one ingest request of events.
func reqsOf(events ...*hookline.Event) []*hookline.IngestRequest {
	return []*hookline.IngestRequest{{Events: events}}
}

// TestDeleteEndpointDoesNotHoldIngest deletes an endpoint while a
// transaction holds a lock on one of its deliveries (as a slow outcome
// batch or claim would, for longer than any real one): ingest for another
// endpoint goes on meanwhile, and beside the purge of its deliveries.
// (Before the soft delete, the delete's cascade waited for the row while
// holding endpoints_version, and every ingest waited for the delete.)
func TestDeleteEndpointDoesNotHoldIngest(t *testing.T) {
	t.Parallel()
	schema := testSchema(t)
	s := openStore(t, schema)
	gone, kept := newEndpoint("acme", epoch, "gone"), newEndpoint("acme", epoch.Add(time.Millisecond), "kept")
	mustCreate(t, s, gone)
	mustCreate(t, s, kept)
	mustIngest(t, s, epoch.Add(2*time.Millisecond), false, newEvent("acme", "gone", epoch))

	ctx := t.Context()
	conn, err := pgx.Connect(ctx, databaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	var locked int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM (SELECT 1 FROM "+pgx.Identifier{schema, "deliveries"}.Sanitize()+
		" WHERE endpoint_id = $1 FOR UPDATE) x", gone.ID).Scan(&locked); err != nil || locked != 1 {
		t.Fatalf("lock the delivery: %d, %v", locked, err)
	}

	deleted := make(chan error, 1)
	go func() {
		_, err := s.DeleteEndpoint(ctx, gone.ID, epoch.Add(3*time.Millisecond))
		deleted <- err
	}()
	// Wait until the delete returned or waits for the row.
	deadline := time.Now().Add(10 * time.Second)
wait:
	for {
		select {
		case err := <-deleted:
			deleted <- err
			break wait
		default:
		}
		var waiting bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM deliveries%')`).Scan(&waiting); err != nil {
			t.Fatal(err)
		} else if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the delete neither returned nor waits for the locked delivery")
		}
		time.Sleep(5 * time.Millisecond)
	}

	ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.Ingest(ictx, reqsOf(newEvent("acme", "kept", epoch)), epoch.Add(3*time.Millisecond)); err != nil {
		t.Fatalf("ingest while the endpoint is deleted: %v", err)
	}
	if err := <-deleted; err != nil {
		t.Fatalf("DeleteEndpoint: %v", err)
	}
	// The purge skips the delivery held, rather than wait for it, and
	// ingest goes on beside it too.
	before := epoch.Add(time.Hour)
	if n, err := s.PurgeDeleted(ictx, nil, before, 100); err != nil || n != 0 {
		t.Fatalf("PurgeDeleted while the delivery is held: %d, %v; want 0", n, err)
	}
	if err := s.Ingest(ictx, reqsOf(newEvent("acme", "kept", epoch)), epoch.Add(4*time.Millisecond)); err != nil {
		t.Fatalf("ingest after the purge: %v", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PurgeDeleted(ictx, nil, before, 100); err != nil || n != 1 {
		t.Fatalf("PurgeDeleted once the delivery is free: %d, %v; want 1", n, err)
	}
}

// waitSignal waits for a value on sig, failing the test after 30 s.
func waitSignal(t *testing.T, sig <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-sig:
	case <-time.After(30 * time.Second):
		t.Fatalf("no signal %s", what)
	}
}

// TestEndpointSignal checks that an endpoint write through one store
// signals another listening on the same schema, and that a listener that
// lost its connection signals again once it is back, when EndpointChanges
// has what was written meanwhile.
func TestEndpointSignal(t *testing.T) {
	t.Parallel()
	schema := testSchema(t)
	a, b := openStore(t, schema), openStore(t, schema)
	sig := b.EndpointSignal()
	waitSignal(t, sig, "when listening started")
	_, since, err := b.EndpointChanges(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	ep := newEndpoint("acme", epoch)
	mustCreate(t, a, ep)
	waitSignal(t, sig, "after an endpoint was created on another node")
	url := "https://receiver.example/moved"
	if _, err := a.UpdateEndpoint(t.Context(), ep.ID, hookline.EndpointUpdate{URL: &url}, epoch); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, sig, "after an endpoint was updated on another node")

	// b's listener loses its connection: the new connection signals, for
	// what was written meanwhile.
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, databaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var killed int
	if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query = $1`,
		"LISTEN "+pgx.Identifier{b.ListenChannel()}.Sanitize()).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminate the listener: %d, %v", killed, err)
	}
	if _, err := a.DeleteEndpoint(ctx, ep.ID, epoch); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, sig, "after the listener lost its connection")
	eps, _, err := b.EndpointChanges(ctx, since, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 1 || eps[0].ID != ep.ID || !eps[0].Deleted {
		t.Fatalf("changes since before the create: %+v, want the deleted endpoint", eps)
	}
	// Nothing written, the listener's connection lost again: it signals
	// all the same once back.
	if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query = $1`,
		"LISTEN "+pgx.Identifier{b.ListenChannel()}.Sanitize()).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sig: // the delete's, if it came after the first reconnection
	default:
	}
	waitSignal(t, sig, "after the listener reconnected")
}
