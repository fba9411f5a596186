package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

// eventRequest is an ingest request of one event of acme, claimed.
func eventRequest(now time.Time) *hookline.IngestRequest {
	return &hookline.IngestRequest{Claim: true, Events: []*hookline.Event{{ID: hookline.NewID(hookline.EventPrefix, now),
		Tenant: "acme", Type: "invoice.paid", Data: []byte(`{"n":2}`), CreatedAt: now}}}
}

// boardIngest opens boarding as an outcome transaction does, and starts an
// Ingest of r that boards; it returns the Ingest's result.
func boardIngest(t *testing.T, s *Store, r *hookline.IngestRequest, now time.Time) <-chan error {
	t.Helper()
	s.rides.start()
	errc := make(chan error, 1)
	go func() { errc <- s.Ingest(context.Background(), []*hookline.IngestRequest{r}, now) }()
	waitFor(t, "the ingest to board", s.rides.aboard)
	return errc
}

// TestIngestRidesOnOutcomes checks that an Ingest that comes while an
// outcome transaction writes is committed by it: the transaction stops
// writing outcomes at its next look for a rider, writes the ingest's rows,
// and commits both; the outcomes left go in the next transaction. After a
// reopen (as a crash leaves the file) both are there.
func TestIngestRidesOnOutcomes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hookline.db")
	const n = 100
	s, _ := heldStore(t, path, n)
	now := hookline.Now()
	outcomes := delivered(ingestOne(t, s, true, now), now)
	r := eventRequest(now)
	errc := boardIngest(t, s, r, now)

	written, err := s.recordOutcomes(ctx, outcomes, outcomeIDs(outcomes), micros(now))
	if err != nil {
		t.Fatal(err)
	}
	if written != riderLook {
		t.Errorf("the transaction wrote %d outcomes, want %d (up to its first look)", written, riderLook)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	if r.Err != nil || len(r.Tasks) != n || len(r.Results) != 1 || r.Results[0].Deliveries != n {
		t.Fatalf("the carried ingest: err %v, %d tasks, results %+v", r.Err, len(r.Tasks), r.Results)
	}
	if s.rides.carried != 1 {
		t.Errorf("%d riders carried, want 1", s.rides.carried)
	}
	if err := s.RecordOutcomes(ctx, outcomes[written:], now); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordOutcomes(ctx, delivered(r.Tasks, now), now); err != nil {
		t.Fatal(err)
	}
	// The next ingest plans after the carried one: its bookkeeping ran.
	ingestOne(t, s, true, now)
	s = reopen(t, s, path, 3*n)
	defer s.Close()
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != 3 || st.Delivered != 2*n || st.Pending != n {
		t.Errorf("Stats after reopening = %+v, want 3 events, %d delivered, %d pending", st, 2*n, n)
	}
	if _, err := s.FindEvent(ctx, r.Events[0].ID); err != nil {
		t.Errorf("the carried event: %v", err)
	}
	var seqs int
	if err := s.wdb.QueryRow("SELECT count(DISTINCT seq) FROM events").Scan(&seqs); err != nil {
		t.Fatal(err)
	}
	if seqs != 3 {
		t.Errorf("%d distinct accepted orders among 3 events", seqs)
	}
}

// TestRiderRolledBackAlone checks that a rider whose rows fail is rolled
// back to its savepoint, told to write alone, and that the outcomes of the
// transaction are committed without it.
func TestRiderRolledBackAlone(t *testing.T) {
	ctx := context.Background()
	s, _ := heldStore(t, filepath.Join(t.TempDir(), "hookline.db"), 10)
	defer s.Close()
	now := hookline.Now()
	outcomes := delivered(ingestOne(t, s, true, now), now)
	r := eventRequest(now)
	in := s.newIngest(now)
	s.rides.start()
	x := &rider{done: make(chan error, 1), after: func() { t.Error("after ran for a rider rolled back") },
		write: func(ctx context.Context, tx *sql.Tx) error {
			if err := in.write(ctx, tx, []*hookline.IngestRequest{r}); err != nil {
				return err
			}
			return errors.New("a failure after the rider's rows")
		}}
	if !s.rides.board(x) {
		t.Fatal("board refused the first rider")
	}
	if s.rides.board(&rider{}) {
		t.Error("board took a second rider")
	}
	if err := s.RecordOutcomes(ctx, outcomes, now); err != nil {
		t.Fatal(err)
	}
	if err := <-x.done; !errors.Is(err, errNotCarried) {
		t.Errorf("the rider got %v, want errNotCarried", err)
	}
	if _, err := s.FindEvent(ctx, r.Events[0].ID); hookline.ErrorCode(err) != hookline.ENOTFOUND {
		t.Errorf("FindEvent of the rolled-back rider: %v, want ENOTFOUND", err)
	}
	if st, _ := s.Stats(ctx); st.Delivered != 10 || st.Events != 1 {
		t.Errorf("Stats = %+v, want 10 delivered, 1 event", st)
	}
	if s.rides.board(&rider{}) {
		t.Error("board took a rider with no outcome transaction open")
	}
}

// TestRiderEndingTheTransaction checks that a rider whose rows end the
// whole transaction (a constraint violation: its event's ID is taken) fails
// the outcomes with it, that the Ingest then fails alone as it would have
// without riding, and that the outcomes are written when tried again.
func TestRiderEndingTheTransaction(t *testing.T) {
	ctx := context.Background()
	s, _ := heldStore(t, filepath.Join(t.TempDir(), "hookline.db"), 10)
	defer s.Close()
	now := hookline.Now()
	first := eventRequest(now)
	if err := s.Ingest(ctx, []*hookline.IngestRequest{first}, now); err != nil {
		t.Fatal(err)
	}
	outcomes := delivered(first.Tasks, now)
	again := eventRequest(now)
	again.Events[0].ID = first.Events[0].ID
	errc := boardIngest(t, s, again, now)
	if err := s.RecordOutcomes(ctx, outcomes, now); err == nil {
		t.Fatal("RecordOutcomes succeeded in a transaction its rider ended")
	}
	if err := <-errc; err == nil {
		t.Fatal("the Ingest of a taken event ID succeeded")
	}
	if again.Tasks != nil || again.Results != nil {
		t.Errorf("the failed Ingest left tasks %v, results %v", again.Tasks, again.Results)
	}
	if st, _ := s.Stats(ctx); st.Delivered != 0 || st.Pending != 10 {
		t.Errorf("after the failed transaction, Stats = %+v, want 10 pending", st)
	}
	if err := s.RecordOutcomes(ctx, outcomes, now); err != nil {
		t.Fatal(err)
	}
	for i := range outcomes {
		if outcomes[i].Dropped != "" {
			t.Errorf("outcome %d dropped when tried again: %s", i, outcomes[i].Dropped)
		}
	}
	if st, _ := s.Stats(ctx); st.Delivered != 10 || st.Events != 1 {
		t.Errorf("Stats = %+v, want 10 delivered, 1 event", st)
	}
}

// TestIngestsBesideOutcomes ingests events one at a time while outcome
// batches are written beside them, riding or not, and checks that every
// event is committed once, in its own accepted order, and every delivery
// recorded.
func TestIngestsBesideOutcomes(t *testing.T) {
	ctx := context.Background()
	const endpoints, events = 20, 200
	s, _ := heldStore(t, filepath.Join(t.TempDir(), "hookline.db"), endpoints)
	defer s.Close()
	now := hookline.Now()
	tasks := make(chan []*hookline.Task, events)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range events {
			r := eventRequest(now)
			if err := s.Ingest(ctx, []*hookline.IngestRequest{r}, now); err != nil {
				t.Error(err)
				break
			}
			tasks <- r.Tasks
		}
		close(tasks)
	}()
	for ts := range tasks {
		if err := s.RecordOutcomes(ctx, delivered(ts, now), now); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != events || st.Delivered != events*endpoints || st.Pending != 0 {
		t.Errorf("Stats = %+v, want %d events, %d delivered", st, events, events*endpoints)
	}
	var seqs int
	if err := s.wdb.QueryRow("SELECT count(DISTINCT seq) FROM events").Scan(&seqs); err != nil {
		t.Fatal(err)
	}
	if seqs != events {
		t.Errorf("%d distinct accepted orders among %d events", seqs, events)
	}
	t.Logf("%d of %d ingests rode on an outcome transaction", s.rides.carried, events)
}

// TestRiderAnsweredBeforeItsBookkeeping checks that a carried rider is
// answered once the transaction has committed, before its bookkeeping
// (which for a wide fan-out is making thousands of tasks), and that the
// store stays locked until that is done.
func TestRiderAnsweredBeforeItsBookkeeping(t *testing.T) {
	ctx := context.Background()
	s, _ := heldStore(t, filepath.Join(t.TempDir(), "hookline.db"), 10)
	defer s.Close()
	now := hookline.Now()
	outcomes := delivered(ingestOne(t, s, true, now), now)
	r := eventRequest(now)
	in := s.newIngest(now)
	release := make(chan struct{})
	x := &rider{done: make(chan error, 1), built: make(chan struct{}),
		write: func(ctx context.Context, tx *sql.Tx) error { return in.write(ctx, tx, []*hookline.IngestRequest{r}) },
		after: func() { <-release; in.committed([]*hookline.IngestRequest{r}) }}
	s.rides.start()
	if !s.rides.board(x) {
		t.Fatal("board refused the rider")
	}
	recorded := make(chan error, 1)
	go func() {
		_, err := s.recordOutcomes(ctx, outcomes, outcomeIDs(outcomes), micros(now))
		recorded <- err
	}()
	select {
	case err := <-x.done:
		if err != nil {
			t.Fatalf("the rider was answered %v, want nil", err)
		}
	case <-time.After(15 * time.Second):
		close(release)
		t.Fatal("the rider was not answered while its bookkeeping waited")
	}
	select {
	case <-x.built:
		t.Fatal("built closed before the bookkeeping ran")
	default:
	}
	if s.mu.TryLock() {
		s.mu.Unlock()
		t.Fatal("the store was unlocked before the rider's bookkeeping ran")
	}
	close(release)
	if err := <-recorded; err != nil {
		t.Fatal(err)
	}
	<-x.built
	if len(r.Tasks) != 10 {
		t.Errorf("%d tasks after the bookkeeping, want 10", len(r.Tasks))
	}
}
