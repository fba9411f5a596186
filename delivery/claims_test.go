package delivery_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/delivery"
	"github.com/hookline/hookline/internal/faultstore"
)

// The tests of this file inject faults into the store (internal/faultstore)
// and check that no delivery is stranded by them: issue 14, findings 1 and
// 2.

// faulty runs fn against an engine on each store, wrapped in a faultstore.
func faulty(t *testing.T, cfg delivery.Config, fn func(t *testing.T, b *bundle, fs *faultstore.Store)) {
	t.Helper()
	for _, s := range []struct {
		name string
		open func(*testing.T) *bundle
	}{{"SQLite", sqliteBundle}, {"PostgreSQL", postgresBundle}} {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			b := s.open(t)
			var fs *faultstore.Store
			b.wrap = func(s hookline.Store) hookline.Store { fs = faultstore.New(s); return fs }
			b.start(t, cfg)
			fn(t, b, fs)
		})
	}
}

// rescuing is a configuration whose rescuer acts within milliseconds.
func rescuing(cfg delivery.Config) delivery.Config {
	cfg.RescueAfter, cfg.RescueInterval = 100*time.Millisecond, 20*time.Millisecond
	return cfg
}

// TestRescueAfterFailedUnclaim: an endpoint's circuit opens while
// deliveries wait in memory, which go back to the store; the Unclaim fails.
// The deliveries stay claimed with nothing in memory to send them, until the
// rescuer frees them.
func TestRescueAfterFailedUnclaim(t *testing.T) {
	cfg := rescuing(delivery.Config{MaxInFlightPerEndpoint: 1, BreakerFailures: 1,
		BreakerCooldown: 50 * time.Millisecond, RetrySchedule: []time.Duration{0, 10 * time.Millisecond, 10 * time.Millisecond}})
	faulty(t, cfg, func(t *testing.T, b *bundle, fs *faultstore.Store) {
		release := make(chan struct{})
		var n atomic.Int64
		rc := newReceiver(t, func(w http.ResponseWriter, r *received) {
			if n.Add(1) == 1 {
				<-release // the first attempt hangs while the others queue, then fails
				w.WriteHeader(http.StatusInternalServerError)
			}
		})
		t.Cleanup(func() {
			select {
			case <-release:
			default:
				close(release)
			}
		})
		b.endpoint(t, rc.URL)
		ids := []string{b.send(t, "a", `{}`).ID}
		rc.next(t)
		for range 10 {
			ids = append(ids, b.send(t, "a", `{}`).ID)
		}
		fs.Fail(faultstore.Unclaim, 1)
		close(release) // the circuit opens: the queued ten go back, and the Unclaim fails
		waitFor(t, "the failed Unclaim", func() bool { return fs.Faults(faultstore.Unclaim) == 1 })
		for _, id := range ids {
			b.waitStatus(t, id, hookline.StatusDelivered)
		}
	})
}

// TestRescueAfterLostClaimReply: the reply of the ClaimDue that pages a
// retry in is lost. The delivery is claimed in the store and held nowhere.
func TestRescueAfterLostClaimReply(t *testing.T) {
	faulty(t, rescuing(delivery.Config{}), func(t *testing.T, b *bundle, fs *faultstore.Store) {
		var n atomic.Int64
		rc := newReceiver(t, func(w http.ResponseWriter, r *received) {
			if n.Add(1) == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		})
		b.endpoint(t, rc.URL)
		fs.LoseReply(faultstore.ClaimDue, 1) // the claim of the retry
		id := b.send(t, "a", `{}`).ID
		waitFor(t, "the lost ClaimDue reply", func() bool { return fs.Faults(faultstore.ClaimDue) == 1 })
		d := b.waitStatus(t, id, hookline.StatusDelivered)
		if d.Attempts != 2 {
			t.Errorf("attempts = %d, want 2", d.Attempts)
		}
	})
}

// TestRescueAfterLostIngestReply: the COMMIT of an ingest succeeds but its
// reply is lost. The client is told it failed; the deliveries were written
// claimed, and their tasks dropped. They are delivered all the same.
func TestRescueAfterLostIngestReply(t *testing.T) {
	faulty(t, rescuing(delivery.Config{}), func(t *testing.T, b *bundle, fs *faultstore.Store) {
		rc := newReceiver(t, nil)
		b.endpoint(t, rc.URL)
		fs.LoseReply(faultstore.Ingest, 1)
		if _, err := b.engine.Ingest(context.Background(), []*hookline.Event{{Type: "a", Data: []byte(`{}`)}}); err == nil {
			t.Fatal("Ingest with a lost reply succeeded")
		}
		waitFor(t, "the delivery of the event written", func() bool {
			st, err := b.store.Stats(context.Background())
			return err == nil && st.Events == 1 && st.Delivered == 1
		})
		if got := rc.count(); got != 1 {
			t.Errorf("%d requests, want 1", got)
		}
	})
}

// TestRetryFreesStaleClaim: an operator's retry of a delivery that a lost
// reply left claimed frees the claim, when it is older than RescueAfter,
// even before the rescuer runs.
func TestRetryFreesStaleClaim(t *testing.T) {
	for _, s := range []struct {
		name string
		open func(*testing.T) *bundle
	}{{"SQLite", sqliteBundle}, {"PostgreSQL", postgresBundle}} {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			var offset atomic.Int64 // the engine's clock runs ahead by this much
			b := s.open(t)
			var fs *faultstore.Store
			b.wrap = func(s hookline.Store) hookline.Store { fs = faultstore.New(s); return fs }
			b.start(t, delivery.Config{RescueAfter: time.Minute, RescueInterval: time.Hour,
				Now: func() time.Time { return hookline.Now().Add(time.Duration(offset.Load())) }})
			var n atomic.Int64
			rc := newReceiver(t, func(w http.ResponseWriter, r *received) {
				if n.Add(1) == 1 {
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			})
			b.endpoint(t, rc.URL)
			fs.LoseReply(faultstore.ClaimDue, 1)
			id := b.send(t, "a", `{}`).ID
			waitFor(t, "the lost ClaimDue reply", func() bool { return fs.Faults(faultstore.ClaimDue) == 1 })
			d := b.deliveries(t, id)[0]
			offset.Store(int64(2 * time.Minute))
			if _, err := b.engine.RetryDelivery(context.Background(), d.ID); err != nil {
				t.Fatal(err)
			}
			b.waitStatus(t, id, hookline.StatusDelivered)
		})
	}
}

// TestLostOutcomeReply: the reply of the transaction that recorded an
// outcome is lost, and the writer writes the batch again. The second write
// changes nothing and is not taken for a stale outcome: one attempt, one
// request, delivered.
func TestLostOutcomeReply(t *testing.T) {
	faulty(t, delivery.Config{}, func(t *testing.T, b *bundle, fs *faultstore.Store) {
		rc := newReceiver(t, nil)
		b.endpoint(t, rc.URL)
		fs.LoseReply(faultstore.RecordOutcomes, 1)
		id := b.send(t, "a", `{}`).ID
		d := b.waitStatus(t, id, hookline.StatusDelivered)
		waitFor(t, "the outcome written again", func() bool { return fs.Calls(faultstore.RecordOutcomes) >= 2 })
		as, err := b.store.FindAttempts(context.Background(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Attempts != 1 || len(as) != 1 || rc.count() != 1 {
			t.Errorf("%d attempts counted, %d recorded, %d requests; want 1 of each", d.Attempts, len(as), rc.count())
		}
	})
}
