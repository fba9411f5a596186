package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/internal/poll"
)

// waitFor polls cond until it holds, failing the test after poll.Deadline.
var waitFor = poll.Until

// delivered returns a first, successful outcome of each task.
func delivered(tasks []*hookline.Task, now time.Time) []hookline.Outcome {
	out := make([]hookline.Outcome, len(tasks))
	for i, t := range tasks {
		out[i] = hookline.Outcome{Status: hookline.StatusDelivered, Attempt: hookline.Attempt{
			DeliveryID: t.DeliveryID, Attempt: 1, StartedAt: now, StatusCode: 200}}
	}
	return out
}

// outcomeIDs returns the delivery ID of each outcome, as RecordOutcomes
// hands them to recordOutcomes.
func outcomeIDs(outcomes []hookline.Outcome) []string {
	ids := make([]string, len(outcomes))
	for i := range outcomes {
		ids[i] = outcomes[i].Attempt.DeliveryID
	}
	return ids
}

// TestOutcomesLetWaitingIngestGoFirst checks that an outcome batch that
// comes while an Ingest waits for the writer does not wait for the writer
// itself (where it could take the writer first), but at the gate, until the
// Ingest has the writer; and that both are then written.
func TestOutcomesLetWaitingIngestGoFirst(t *testing.T) {
	ctx := context.Background()
	s, _ := heldStore(t, filepath.Join(t.TempDir(), "hookline.db"), 3)
	defer s.Close()
	now := hookline.Now()
	tasks := ingestOne(t, s, true, now)

	s.mu.Lock() // the writer is busy
	ingested := make(chan error, 1)
	go func() {
		r := &hookline.IngestRequest{Claim: true, Events: []*hookline.Event{{ID: hookline.NewID(hookline.EventPrefix, now),
			Tenant: "acme", Type: "invoice.paid", CreatedAt: now}}}
		ingested <- s.Ingest(ctx, []*hookline.IngestRequest{r}, now)
	}()
	waitFor(t, "the ingest to wait for the writer", s.gate.ingestWaiting)
	recorded := make(chan error, 1)
	go func() { recorded <- s.RecordOutcomes(ctx, delivered(tasks, now), now) }()
	waitFor(t, "the outcomes to wait at the gate", func() bool { return s.gate.waitingOutcomes() == 1 })
	s.mu.Unlock()

	if err := <-ingested; err != nil {
		t.Fatal(err)
	}
	if err := <-recorded; err != nil {
		t.Fatal(err)
	}
	if got := s.gate.waitingOutcomes(); got != 0 {
		t.Errorf("%d outcome batches still at the gate", got)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Delivered != 3 || st.Pending != 3 {
		t.Errorf("Stats = %d delivered, %d pending; want 3 and 3", st.Delivered, st.Pending)
	}
}

// TestGateWaitIsBounded checks that an outcome batch waits at the gate at
// most maxOutcomeWait, should the ingest ahead of it never get the writer,
// and not at all when no ingest waits.
func TestGateWaitIsBounded(t *testing.T) {
	var g ingestGate
	start := time.Now()
	g.wait(context.Background())
	if d := time.Since(start); d >= maxOutcomeWait {
		t.Errorf("with no ingest waiting, wait took %v", d)
	}
	g.enter()
	start = time.Now()
	g.wait(context.Background())
	if d := time.Since(start); d < maxOutcomeWait {
		t.Errorf("with an ingest waiting, wait returned after %v, before maxOutcomeWait (%v)", d, maxOutcomeWait)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g.wait(ctx) // returns at once: the test would time out otherwise
	g.leave()
	if g.ingestWaiting() || g.waitingOutcomes() != 0 {
		t.Errorf("after leave: ingest waiting %v, outcomes at the gate %d", g.ingestWaiting(), g.waitingOutcomes())
	}
}

// TestOutcomesYieldToWaitingIngest checks that a batch of outcomes written
// while an ingest waits for the writer is committed in parts of
// outcomeYield, and that every outcome is then recorded once: among them a
// delivery named twice, on both sides of a part's end (its failed attempt,
// then its successful one).
func TestOutcomesYieldToWaitingIngest(t *testing.T) {
	ctx := context.Background()
	const n = 2*outcomeYield + 10
	s, _ := heldStore(t, filepath.Join(t.TempDir(), "hookline.db"), n)
	defer s.Close()
	now := hookline.Now()
	tasks := ingestOne(t, s, true, now)
	outcomes := delivered(tasks, now)
	twice := tasks[outcomeYield-1].DeliveryID
	outcomes[outcomeYield-1] = hookline.Outcome{Status: hookline.StatusPending, NextAttemptAt: now, Attempt: hookline.Attempt{
		DeliveryID: twice, Attempt: 1, StartedAt: now, StatusCode: 503}}
	outcomes = append(outcomes[:outcomeYield], append([]hookline.Outcome{{Status: hookline.StatusDelivered,
		Attempt: hookline.Attempt{DeliveryID: twice, Attempt: 2, StartedAt: now.Add(time.Millisecond), StatusCode: 200}}},
		outcomes[outcomeYield:]...)...)
	ids := outcomeIDs(outcomes)

	s.gate.enter() // an ingest waits for the writer, all along
	defer s.gate.leave()
	s.outcomeTurn = 0 // yield at the first chunk's end
	written, err := s.recordOutcomes(ctx, outcomes, ids, micros(now))
	if err != nil {
		t.Fatal(err)
	}
	if written != outcomeYield {
		t.Fatalf("the first transaction wrote %d outcomes, want %d", written, outcomeYield)
	}
	if err := s.RecordOutcomes(ctx, outcomes[written:], now); err != nil {
		t.Fatal(err)
	}
	for i, o := range outcomes[written:] {
		if o.Dropped != "" {
			t.Errorf("outcome %d dropped: %s", written+i, o.Dropped)
		}
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Delivered != n || st.Pending != 0 {
		t.Errorf("Stats = %d delivered, %d pending; want %d and 0", st.Delivered, st.Pending, n)
	}
	atts, err := s.FindAttempts(ctx, twice)
	if err != nil {
		t.Fatal(err)
	}
	if len(atts) != 2 {
		t.Errorf("%s has %d attempts, want 2", twice, len(atts))
	}
}

// TestOutcomeLockWaitsBehindIngest checks that the write lock the
// checkpointer takes for its last pass is taken as an outcome batch takes
// it: after an ingest waiting for the writer, at the gate.
func TestOutcomeLockWaitsBehindIngest(t *testing.T) {
	s, _ := heldStore(t, filepath.Join(t.TempDir(), "hookline.db"), 1)
	defer s.Close()
	if err := s.ckpt.close(); err != nil { // so that only this test's lock waits at the gate
		t.Fatal(err)
	}
	s.gate.enter() // an ingest waits for the writer
	locked := make(chan struct{})
	go func() {
		l := outcomeLock{s}
		l.Lock()
		close(locked)
		l.Unlock()
	}()
	waitFor(t, "the lock to wait at the gate", func() bool { return s.gate.waitingOutcomes() == 1 })
	select {
	case <-locked:
		t.Fatal("the lock was taken while an ingest waited")
	default:
	}
	s.gate.leave()
	<-locked
}

// TestOutcomesKeepTheirTurn checks that an outcome transaction that finds
// an ingest waiting writes on while it has had the writer for less than
// outcomeTurn.
func TestOutcomesKeepTheirTurn(t *testing.T) {
	ctx := context.Background()
	const n = 2*outcomeYield + 10
	s, _ := heldStore(t, filepath.Join(t.TempDir(), "hookline.db"), n)
	defer s.Close()
	now := hookline.Now()
	outcomes := delivered(ingestOne(t, s, true, now), now)
	ids := outcomeIDs(outcomes)
	s.gate.enter() // an ingest waits for the writer, all along
	defer s.gate.leave()
	s.outcomeTurn = time.Hour
	written, err := s.recordOutcomes(ctx, outcomes, ids, micros(now))
	if err != nil {
		t.Fatal(err)
	}
	if written != n {
		t.Errorf("the transaction wrote %d outcomes, want all %d", written, n)
	}
}
