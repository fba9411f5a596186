package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hookline/hookline"
)

// earlyOne ingests one event of acme, claimed, with IngestEarly, and
// returns its request and the finish it returned.
func earlyOne(t *testing.T, s *Store) (*hookline.IngestRequest, func()) {
	t.Helper()
	now := hookline.Now()
	r := &hookline.IngestRequest{Claim: true, Events: []*hookline.Event{{ID: hookline.NewID(hookline.EventPrefix, now),
		Tenant: "acme", Type: "invoice.paid", Data: []byte(`{"n":1}`), CreatedAt: now}}}
	finish, err := s.IngestEarly(context.Background(), []*hookline.IngestRequest{r}, now)
	if err != nil {
		t.Fatal(err)
	}
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	return r, finish
}

// TestIngestEarlyAnswersBeforeTasks checks that IngestEarly returns the
// results of a committed ingest with no tasks yet, that the store stays
// locked until finish (so no read sees the commit without its
// bookkeeping), and that finish makes every task, as Ingest would have.
func TestIngestEarlyAnswersBeforeTasks(t *testing.T) {
	ctx := context.Background()
	s, eps := heldStore(t, filepath.Join(t.TempDir(), "hookline.db"), 40)
	defer s.Close()
	r, finish := earlyOne(t, s)
	if len(r.Results) != 1 || r.Results[0].Deliveries != len(eps) {
		t.Fatalf("results %+v, want one event with %d deliveries", r.Results, len(eps))
	}
	if len(r.Tasks) != 0 {
		t.Fatalf("%d tasks before finish, want none yet", len(r.Tasks))
	}
	if s.mu.TryLock() {
		s.mu.Unlock()
		t.Fatal("the store is not locked between IngestEarly and finish: a read could miss the deliveries")
	}
	if d, f := rowCounts(t, s); d != 0 || f != 1 {
		t.Fatalf("committed: %d deliveries rows and %d fanouts rows, want 0 and 1", d, f)
	}
	finish()
	if !s.mu.TryLock() {
		t.Fatal("the store is still locked after finish")
	}
	s.mu.Unlock()
	if len(r.Tasks) != len(eps) {
		t.Fatalf("%d tasks after finish, want %d", len(r.Tasks), len(eps))
	}
	seen := make(map[string]bool)
	for _, task := range r.Tasks {
		if task.EventID != r.Results[0].ID || seen[task.Endpoint.ID] || len(task.Payload) == 0 {
			t.Fatalf("task %+v: wrong event, a second one to its endpoint, or no payload", task)
		}
		seen[task.Endpoint.ID] = true
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != int64(len(eps)) || st.Events != 1 {
		t.Errorf("stats %+v, want %d pending of 1 event", st, len(eps))
	}
	// The held deliveries are the store's claims: the outcome of one is
	// written over its held row.
	task := r.Tasks[3]
	if err := s.RecordOutcomes(ctx, []hookline.Outcome{{Status: hookline.StatusDelivered, Attempt: hookline.Attempt{
		DeliveryID: task.DeliveryID, Attempt: 1, StartedAt: hookline.Now(), StatusCode: 200}}}, hookline.Now()); err != nil {
		t.Fatal(err)
	}
	d, err := s.FindDelivery(ctx, task.DeliveryID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != hookline.StatusDelivered || d.Attempts != 1 {
		t.Errorf("delivery after its outcome: %+v", d)
	}
}

// TestIngestEarlyCrashBeforeFinish checks that a process that stops after
// the commit of IngestEarly and before finish (killed after its 202) loses
// none of the deliveries: the file holds the event and its fanouts row, and
// the next Open writes every delivery's row.
func TestIngestEarlyCrashBeforeFinish(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hookline.db")
	s, eps := heldStore(t, path, 25)
	r, finish := earlyOne(t, s) // s is as a process killed before finish leaves it
	// A second store on the same file is the next run's (s holds no
	// transaction: its commit is done). Once it is closed, s is finished
	// and closed too, for its goroutines; Close writes no held delivery.
	next, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		next.Close()
		finish()
		s.Close()
	})
	if d, f := rowCounts(t, next); d != len(eps) || f != 0 {
		t.Fatalf("after the next Open: %d deliveries rows and %d fanouts rows, want %d and 0", d, f, len(eps))
	}
	ds, _, err := next.FindDeliveries(ctx, hookline.DeliveryFilter{EventID: r.Results[0].ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != len(eps) {
		t.Fatalf("%d deliveries of the event, want %d", len(ds), len(eps))
	}
	for _, d := range ds {
		if d.Status != hookline.StatusPending {
			t.Errorf("delivery %s is %s, want pending", d.ID, d.Status)
		}
	}
}
