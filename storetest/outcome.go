package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

var outcomeTests = []test{
	{"Delivered", testOutcomeDelivered},
	{"RetryScheduled", testOutcomeRetryScheduled},
	{"Failed", testOutcomeFailed},
	{"Attempts", testOutcomeAttempts},
	{"DeletedDelivery", testOutcomeDeletedDelivery},
	{"FindAttemptsMissing", testOutcomeFindAttemptsMissing},
	{"Batch", testOutcomeBatch},
}

// oneDelivery creates an endpoint of acme and ingests one event to it,
// claimed, and returns the delivery's ID.
func (b *bundle) oneDelivery(t *testing.T) string {
	t.Helper()
	b.endpoint(t, "acme")
	_, r := b.ingestClaimed(t)
	return single(t, r.Tasks).DeliveryID
}

func testOutcomeDelivered(t *testing.T, b *bundle) {
	id := b.oneDelivery(t)
	started := b.tick()
	now := b.advance(250 * time.Millisecond)
	b.record(t, hookline.Outcome{Status: hookline.StatusDelivered, Attempt: hookline.Attempt{
		DeliveryID: id, Attempt: 1, StartedAt: started, Duration: 120 * time.Millisecond,
		StatusCode: 204, ResponseBody: "thanks",
	}})
	d := b.delivery(t, id)
	equal(t, d.Status, hookline.StatusDelivered, "Status")
	equal(t, d.Attempts, 1, "Attempts")
	equal(t, d.LastStatusCode, 204, "LastStatusCode")
	equal(t, d.LastError, "", "LastError")
	timePtr(t, d.NextAttemptAt, zeroTime, "NextAttemptAt")
	timePtr(t, d.DeliveredAt, now, "DeliveredAt") // the time the outcome was recorded
	sameTime(t, d.UpdatedAt, now, "UpdatedAt")
	sameIDs(t, taskIDs(b.claim(t, b.advance(time.Hour))), nil, "ClaimDue after delivery")
	b.wantStats(t, hookline.StoreStats{Delivered: 1, Events: 1, Endpoints: 1})
}

func testOutcomeRetryScheduled(t *testing.T, b *bundle) {
	id := b.oneDelivery(t)
	started := b.tick()
	next := started.Add(5 * time.Second)
	b.record(t, hookline.Outcome{Status: hookline.StatusPending, NextAttemptAt: next, Attempt: hookline.Attempt{
		DeliveryID: id, Attempt: 1, StartedAt: started, Duration: time.Second,
		StatusCode: 503, Error: "HTTP 503", ResponseBody: "busy",
	}})
	d := b.delivery(t, id)
	equal(t, d.Status, hookline.StatusPending, "Status")
	equal(t, d.Attempts, 1, "Attempts")
	equal(t, d.LastStatusCode, 503, "LastStatusCode")
	equal(t, d.LastError, "HTTP 503", "LastError")
	timePtr(t, d.NextAttemptAt, next, "NextAttemptAt")
	timePtr(t, d.DeliveredAt, zeroTime, "DeliveredAt")
	b.wantStats(t, hookline.StoreStats{Pending: 1, Events: 1, Endpoints: 1})

	// The claim is released: once due, ClaimDue returns it, and not before.
	sameIDs(t, taskIDs(b.claim(t, next.Add(-time.Microsecond))), nil, "ClaimDue before the retry is due")
	task := single(t, b.claim(t, next))
	equal(t, task.DeliveryID, id, "task DeliveryID")
	equal(t, task.Attempts, 1, "task Attempts")
	equal(t, task.ScheduleOffset, 0, "task ScheduleOffset")
	sameIDs(t, taskIDs(b.claim(t, next.Add(time.Hour))), nil, "ClaimDue again")

	// A success after a failure clears the error.
	b.now = next.Add(time.Second)
	b.record(t, hookline.Outcome{Status: hookline.StatusDelivered, Attempt: hookline.Attempt{
		DeliveryID: id, Attempt: 2, StartedAt: next, Duration: time.Millisecond, StatusCode: 200,
	}})
	d = b.delivery(t, id)
	equal(t, d.Status, hookline.StatusDelivered, "Status after the retry")
	equal(t, d.Attempts, 2, "Attempts after the retry")
	equal(t, d.LastStatusCode, 200, "LastStatusCode after the retry")
	equal(t, d.LastError, "", "LastError after the retry")
	timePtr(t, d.NextAttemptAt, zeroTime, "NextAttemptAt after the retry")
	b.wantStats(t, hookline.StoreStats{Delivered: 1, Events: 1, Endpoints: 1})
}

func testOutcomeFailed(t *testing.T, b *bundle) {
	id := b.oneDelivery(t)
	started := b.tick()
	b.record(t, hookline.Outcome{Status: hookline.StatusFailed, Attempt: hookline.Attempt{
		DeliveryID: id, Attempt: 1, StartedAt: started, Duration: 10 * time.Second, Error: "timeout after 10s",
	}})
	d := b.delivery(t, id)
	equal(t, d.Status, hookline.StatusFailed, "Status")
	equal(t, d.Attempts, 1, "Attempts")
	equal(t, d.LastStatusCode, 0, "LastStatusCode")
	equal(t, d.LastError, "timeout after 10s", "LastError")
	timePtr(t, d.NextAttemptAt, zeroTime, "NextAttemptAt")
	timePtr(t, d.DeliveredAt, zeroTime, "DeliveredAt")
	sameTime(t, d.UpdatedAt, b.now, "UpdatedAt")
	sameIDs(t, taskIDs(b.claim(t, b.advance(time.Hour))), nil, "ClaimDue after failure")
	b.wantStats(t, hookline.StoreStats{Failed: 1, Events: 1, Endpoints: 1})
}

// testOutcomeAttempts records three attempts and reads them back, every
// field, first attempt first.
func testOutcomeAttempts(t *testing.T, b *bundle) {
	id := b.oneDelivery(t)
	body := strings.Repeat("é", hookline.MaxStoredResponse/2) // 1024 bytes
	want := []hookline.Attempt{
		{DeliveryID: id, Attempt: 1, StartedAt: b.tick(), Duration: 1500 * time.Microsecond,
			StatusCode: 500, Error: "HTTP 500", ResponseBody: `{"error":"oops"}`},
		{DeliveryID: id, Attempt: 2, StartedAt: b.advance(5 * time.Second), Duration: 30 * time.Second,
			Error: "timeout: no response in 30s"},
		{DeliveryID: id, Attempt: 3, StartedAt: b.advance(5 * time.Minute), Duration: 42 * time.Millisecond,
			StatusCode: 200, ResponseBody: body},
	}
	for i, a := range want {
		o := hookline.Outcome{Attempt: a, Status: hookline.StatusPending, NextAttemptAt: a.StartedAt.Add(time.Second)}
		if i == len(want)-1 {
			o.Status = hookline.StatusDelivered
		}
		b.now = a.StartedAt.Add(a.Duration)
		b.record(t, o)
	}
	got, err := b.s.FindAttempts(b.ctx, id)
	if err != nil {
		t.Fatalf("FindAttempts: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d attempts, want %d", len(got), len(want))
	}
	for i, a := range got {
		w := want[i]
		what := fmt.Sprintf("attempt %d: ", i+1)
		equal(t, a.DeliveryID, w.DeliveryID, what+"DeliveryID")
		equal(t, a.Attempt, w.Attempt, what+"Attempt")
		sameTime(t, a.StartedAt, w.StartedAt, what+"StartedAt")
		equal(t, a.Duration, w.Duration, what+"Duration")
		equal(t, a.StatusCode, w.StatusCode, what+"StatusCode")
		equal(t, a.Error, w.Error, what+"Error")
		equal(t, a.ResponseBody, w.ResponseBody, what+"ResponseBody")
	}
	equal(t, b.delivery(t, id).Attempts, 3, "Attempts")
}

// testOutcomeDeletedDelivery checks that outcomes of deliveries deleted
// while in flight are dropped, and the rest of the batch written.
func testOutcomeDeletedDelivery(t *testing.T, b *bundle) {
	gone := b.endpoint(t, "acme")
	b.endpoint(t, "acme")
	_, r := b.ingestClaimed(t)
	var goneID, keptID string
	for _, task := range r.Tasks {
		if task.Endpoint.ID == gone.ID {
			goneID = task.DeliveryID
		} else {
			keptID = task.DeliveryID
		}
	}
	b.deleteEndpoint(t, gone.ID)
	now := b.tick()
	err := b.s.RecordOutcomes(b.ctx, []hookline.Outcome{
		{Status: hookline.StatusDelivered, Attempt: hookline.Attempt{DeliveryID: goneID, Attempt: 1, StartedAt: now, StatusCode: 200}},
		{Status: hookline.StatusDelivered, Attempt: hookline.Attempt{DeliveryID: keptID, Attempt: 1, StartedAt: now, StatusCode: 200}},
		{Status: hookline.StatusFailed, Attempt: hookline.Attempt{DeliveryID: "dlv_never_existed", Attempt: 1, StartedAt: now}},
	}, now)
	if err != nil {
		t.Fatalf("RecordOutcomes with deleted deliveries: %v", err)
	}
	equal(t, b.delivery(t, keptID).Status, hookline.StatusDelivered, "Status of the other delivery")
	_, err = b.s.FindDelivery(b.ctx, goneID)
	wantNotFound(t, err, "FindDelivery of the deleted delivery")
	_, err = b.s.FindAttempts(b.ctx, goneID)
	wantNotFound(t, err, "FindAttempts of the deleted delivery")
	b.wantStats(t, hookline.StoreStats{Delivered: 1, Events: 1, Endpoints: 1})
}

func testOutcomeFindAttemptsMissing(t *testing.T, b *bundle) {
	b.oneDelivery(t)
	_, err := b.s.FindAttempts(b.ctx, hookline.NewID(hookline.DeliveryPrefix, b.now))
	wantNotFound(t, err, "FindAttempts of an unknown delivery")
}

// testOutcomeBatch writes one batch of many outcomes, of every kind.
func testOutcomeBatch(t *testing.T, b *bundle) {
	const endpoints, events = 30, 10 // 300 deliveries
	for range endpoints {
		b.endpoint(t, "acme")
	}
	var ids []string
	for range events {
		_, r := b.ingestClaimed(t)
		ids = append(ids, taskIDs(r.Tasks)...)
	}
	now := b.tick()
	next := now.Add(time.Minute)
	outcomes := make([]hookline.Outcome, len(ids))
	want := map[hookline.DeliveryStatus]int64{}
	for i, id := range ids {
		status := []hookline.DeliveryStatus{hookline.StatusDelivered, hookline.StatusPending, hookline.StatusFailed}[i%3]
		want[status]++
		outcomes[i] = hookline.Outcome{Status: status, NextAttemptAt: next, Attempt: hookline.Attempt{
			DeliveryID: id, Attempt: 1, StartedAt: now, Duration: time.Duration(i) * time.Millisecond, StatusCode: 200 + i,
		}}
	}
	if err := b.s.RecordOutcomes(b.ctx, outcomes, now); err != nil {
		t.Fatalf("RecordOutcomes: %v", err)
	}
	for i, id := range ids {
		d := b.delivery(t, id)
		equal(t, d.Status, outcomes[i].Status, "Status of "+id)
		equal(t, d.LastStatusCode, 200+i, "LastStatusCode of "+id)
		a := single(t, mustAttempts(t, b, id))
		equal(t, a.Duration, time.Duration(i)*time.Millisecond, "Duration of the attempt of "+id)
	}
	b.wantStats(t, hookline.StoreStats{Pending: want[hookline.StatusPending], Delivered: want[hookline.StatusDelivered],
		Failed: want[hookline.StatusFailed], Events: events, Endpoints: endpoints})
	equal(t, int64(len(b.claim(t, next))), want[hookline.StatusPending], "due retries")
}

func mustAttempts(t *testing.T, b *bundle, id string) []*hookline.Attempt {
	t.Helper()
	as, err := b.s.FindAttempts(b.ctx, id)
	if err != nil {
		t.Fatalf("FindAttempts(%s): %v", id, err)
	}
	return as
}
