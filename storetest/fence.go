package storetest

import (
	"testing"
	"time"

	"github.com/hookline/hookline"
)

// The fencing of outcomes (ARCHITECTURE.md promise 8): an outcome is
// written only while its writer may still hold the delivery, and only
// forward in attempt number, so that a node that paused, lost its lease or
// lost a database reply can never overwrite a newer record.
var fenceTests = []test{
	{"StaleAfterNewer", testFenceStaleAfterNewer},
	{"CollidingAttempt", testFenceCollidingAttempt},
	{"AfterSettled", testFenceAfterSettled},
	{"WrittenTwice", testFenceWrittenTwice},
}

// wantDelivery checks a delivery's status, attempt count and last status
// code.
func (b *bundle) wantDelivery(t *testing.T, id string, status hookline.DeliveryStatus, attempts, code int) {
	t.Helper()
	d := b.delivery(t, id)
	if d.Status != status || d.Attempts != attempts || d.LastStatusCode != code {
		t.Errorf("delivery %s is %s after %d attempts, last status %d; want %s after %d, last %d",
			id, d.Status, d.Attempts, d.LastStatusCode, status, attempts, code)
	}
}

// wantAttempts checks the status codes of a delivery's attempts.
func (b *bundle) wantAttempts(t *testing.T, id string, codes ...int) {
	t.Helper()
	as := mustAttempts(t, b, id)
	got := make([]int, len(as))
	for i, a := range as {
		got[i] = a.StatusCode
		if a.Attempt != i+1 {
			t.Errorf("attempt %d of %s is numbered %d", i+1, id, a.Attempt)
		}
	}
	if len(got) != len(codes) {
		t.Errorf("attempts of %s have status codes %v, want %v", id, got, codes)
		return
	}
	for i := range got {
		if got[i] != codes[i] {
			t.Errorf("attempts of %s have status codes %v, want %v", id, got, codes)
			return
		}
	}
}

// retryOutcome is a failed attempt n of a delivery, retried at next.
func retryOutcome(id string, n int, started, next time.Time) hookline.Outcome {
	return hookline.Outcome{Status: hookline.StatusPending, NextAttemptAt: next, Attempt: hookline.Attempt{
		DeliveryID: id, Attempt: n, StartedAt: started, StatusCode: 503, Error: "HTTP 503"}}
}

// deliveredOutcome is a successful attempt n of a delivery.
func deliveredOutcome(id string, n int, started time.Time) hookline.Outcome {
	return hookline.Outcome{Status: hookline.StatusDelivered, Attempt: hookline.Attempt{
		DeliveryID: id, Attempt: n, StartedAt: started, StatusCode: 200}}
}

// testFenceStaleAfterNewer: a node makes attempt 1 and its outcome is late
// (it paused); meanwhile attempts 1 and 2 were recorded. The late outcome of
// attempt 1, a success, must not flip the delivery to delivered: it is
// dropped as stale.
func testFenceStaleAfterNewer(t *testing.T, b *bundle) {
	id := b.oneDelivery(t)
	late := b.now // when the paused node started its attempt
	first := b.tick()
	b.record(t, retryOutcome(id, 1, first, first))
	sameIDs(t, taskIDs(b.claim(t, b.tick())), []string{id}, "claim of the retry")
	second := b.tick()
	b.record(t, retryOutcome(id, 2, second, second.Add(time.Hour)))

	o := deliveredOutcome(id, 1, late)
	b.recordDropped(t, o, hookline.DropStale)
	b.wantDelivery(t, id, hookline.StatusPending, 2, 503)
	b.wantAttempts(t, id, 503, 503)
	b.wantStats(t, hookline.StoreStats{Pending: 1, Events: 1, Endpoints: 1})
}

// testFenceCollidingAttempt: two nodes made attempt 1 (one paused past its
// lease, the other took over); the first outcome recorded wins, and the
// second, with the same attempt number, is dropped, not written over it.
func testFenceCollidingAttempt(t *testing.T, b *bundle) {
	id := b.oneDelivery(t)
	mine := b.now
	theirs := b.tick()
	b.record(t, retryOutcome(id, 1, theirs, theirs.Add(time.Hour)))
	b.recordDropped(t, deliveredOutcome(id, 1, mine), hookline.DropCollision)
	b.wantDelivery(t, id, hookline.StatusPending, 1, 503)
	b.wantAttempts(t, id, 503)
}

// testFenceAfterSettled: an outcome of a delivery settled since is dropped.
func testFenceAfterSettled(t *testing.T, b *bundle) {
	id := b.oneDelivery(t)
	late := b.now
	b.record(t, deliveredOutcome(id, 1, b.tick()))
	o := retryOutcome(id, 1, late, b.now)
	o.Status = hookline.StatusFailed
	b.recordDropped(t, o, hookline.DropSettled)
	b.wantDelivery(t, id, hookline.StatusDelivered, 1, 200)
	b.wantAttempts(t, id, 200)
}

// testFenceWrittenTwice: an outcome written again (its first write's reply
// was lost, and the batch is retried) is no error and changes nothing; it is
// not reported as dropped, for it was written.
func testFenceWrittenTwice(t *testing.T, b *bundle) {
	id := b.oneDelivery(t)
	at := b.tick()
	o := retryOutcome(id, 1, at, at.Add(time.Hour))
	b.record(t, o)
	b.recordDropped(t, o, "")
	b.wantDelivery(t, id, hookline.StatusPending, 1, 503)
	b.wantAttempts(t, id, 503)
}

// recordDropped records one outcome and checks what RecordOutcomes says it
// did with it: why it was dropped, or "" when it was written.
func (b *bundle) recordDropped(t *testing.T, o hookline.Outcome, want hookline.OutcomeDrop) {
	t.Helper()
	batch := []hookline.Outcome{o}
	if err := b.s.RecordOutcomes(b.ctx, batch, b.now); err != nil {
		t.Fatalf("RecordOutcomes: %v", err)
	}
	if got := batch[0].Dropped; got != want {
		t.Errorf("outcome of attempt %d: Dropped = %q, want %q", o.Attempt.Attempt, got, want)
	}
}
