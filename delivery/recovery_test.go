package delivery_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/delivery"
)

// TestReplayMissingAndBulkRetry sends, through a real receiver, what an
// endpoint missed while it did not exist (replay-missing), and the dead
// letters of a bulk retry.
func TestReplayMissingAndBulkRetry(t *testing.T) {
	var mu sync.Mutex
	up := false
	rc := newReceiver(t, func(w http.ResponseWriter, r *received) {
		mu.Lock()
		defer mu.Unlock()
		if !up {
			w.WriteHeader(500)
		}
	})
	b := setup(t, delivery.Config{RetrySchedule: []time.Duration{0}})
	since := hookline.Now()
	var events []string
	for range 3 {
		events = append(events, b.send(t, "a", `{}`).ID) // no endpoint yet
	}
	ep := b.endpoint(t, rc.URL)
	n, err := b.engine.ReplayMissing(context.Background(), ep.ID, since, time.Time{})
	if err != nil || n != 3 {
		t.Fatalf("replay missing = %d, %v", n, err)
	}
	for _, id := range events {
		b.waitStatus(t, id, hookline.StatusFailed) // the receiver is down
	}
	if n, err := b.engine.ReplayMissing(context.Background(), ep.ID, since, time.Time{}); err != nil || n != 0 {
		t.Fatalf("a second replay missing = %d, %v", n, err)
	}

	mu.Lock()
	up = true
	mu.Unlock()
	n, err = b.engine.RetryDeliveries(context.Background(), hookline.DeliveryFilter{EndpointID: ep.ID, EventType: "a"})
	if err != nil || n != 3 {
		t.Fatalf("bulk retry = %d, %v", n, err)
	}
	for _, id := range events {
		d := b.waitStatus(t, id, hookline.StatusDelivered)
		if d.Attempts != 2 {
			t.Fatalf("attempts %d, want 2 (attempts continue)", d.Attempts)
		}
	}
}
