package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

var concurrencyTests = []test{
	{"Ingest", testConcurrentIngest},
	{"IdempotencyKey", testConcurrentIdempotencyKey},
	{"EndpointChanges", testConcurrentEndpointChanges},
}

// testConcurrentIngest runs many Ingest calls at once, with claims,
// outcomes and reads going on beside them, and checks that the counts add
// up.
func testConcurrentIngest(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	b.endpoint(t, "acme", "invoice.*")
	b.endpoint(t, "globex")
	const goroutines, calls, perCall = 16, 12, 3
	now := b.tick()
	ctx := b.ctx

	var wg sync.WaitGroup
	errs := make(chan error, goroutines+2)
	results := make([][]hookline.IngestResult, goroutines)
	done := make(chan struct{})
	for g := range goroutines {
		wg.Go(func() {
			for i := range calls {
				r := &hookline.IngestRequest{Claim: i%2 == 0}
				for j := range perCall {
					ev := &hookline.Event{
						ID:        hookline.NewID(hookline.EventPrefix, now),
						Tenant:    "acme",
						Type:      "invoice.paid",
						Data:      json.RawMessage(fmt.Sprintf(`{"g":%d,"i":%d,"j":%d}`, g, i, j)),
						CreatedAt: now,
					}
					if j == 0 {
						keyed(ev, fmt.Sprintf("key-%d-%d", g, i), "hash")
					}
					r.Events = append(r.Events, ev)
				}
				if err := b.s.Ingest(ctx, []*hookline.IngestRequest{r}, now); err != nil {
					errs <- fmt.Errorf("goroutine %d: Ingest: %w", g, err)
					return
				} else if r.Err != nil {
					errs <- fmt.Errorf("goroutine %d: request: %w", g, r.Err)
					return
				}
				results[g] = append(results[g], r.Results...)
			}
		})
	}
	// A dispatcher: claims what is due and delivers it, until ingest is
	// done and nothing is left.
	var delivered int
	var bg sync.WaitGroup
	bg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			tasks, err := claimAll(ctx, b.s, nil, now, 50)
			if err != nil {
				errs <- err
				return
			}
			var outcomes []hookline.Outcome
			for _, task := range tasks {
				outcomes = append(outcomes, hookline.Outcome{Status: hookline.StatusDelivered,
					Attempt: hookline.Attempt{DeliveryID: task.DeliveryID, Attempt: 1, StartedAt: now, StatusCode: 200}})
			}
			if err := b.s.RecordOutcomes(ctx, outcomes, now); err != nil {
				errs <- fmt.Errorf("RecordOutcomes: %w", err)
				return
			}
			delivered += len(outcomes)
		}
	})
	// A reader.
	bg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, _, err := b.s.FindDeliveries(ctx, hookline.DeliveryFilter{Status: hookline.StatusPending, Limit: 10}); err != nil {
				errs <- fmt.Errorf("FindDeliveries: %w", err)
				return
			}
			if _, err := b.s.PendingCount(ctx); err != nil {
				errs <- fmt.Errorf("PendingCount: %w", err)
				return
			}
		}
	})
	wg.Wait()
	close(done)
	bg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}

	const events = goroutines * calls * perCall
	ids := map[string]bool{}
	for _, rs := range results {
		for _, res := range rs {
			if res.Duplicate || res.Deliveries != 2 {
				t.Fatalf("result %+v, want 2 deliveries and no duplicate", res)
			}
			ids[res.ID] = true
		}
	}
	equal(t, len(ids), events, "distinct event IDs")
	st := b.stats(t)
	equal(t, st.Events, int64(events), "Stats.Events")
	equal(t, st.Delivered, int64(delivered), "Stats.Delivered")
	equal(t, st.Pending+st.Delivered, int64(2*events), "pending and delivered deliveries")
	equal(t, int64(len(b.deliveries(t, hookline.DeliveryFilter{}))), int64(2*events), "stored deliveries")
	n, err := b.s.PendingCount(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, n, st.Pending, "PendingCount")
}

// testConcurrentIdempotencyKey sends one keyed request from many goroutines
// at once: exactly one is written, and the others are its duplicates.
func testConcurrentIdempotencyKey(t *testing.T, b *bundle) {
	b.endpoint(t, "acme")
	const goroutines = 16
	now := b.tick()
	results := make([]hookline.IngestResult, goroutines)
	errs := make([]error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			ev := keyed(&hookline.Event{
				ID: hookline.NewID(hookline.EventPrefix, now), Tenant: "acme", Type: "invoice.paid",
				Data: json.RawMessage(`{"order":1234}`), CreatedAt: now,
			}, "order-1234", "hash")
			r := &hookline.IngestRequest{Events: []*hookline.Event{ev}}
			errs[g] = b.s.Ingest(b.ctx, []*hookline.IngestRequest{r}, now.Add(time.Duration(g)*time.Microsecond))
			if errs[g] == nil {
				errs[g] = r.Err
			}
			if errs[g] == nil {
				results[g] = r.Results[0]
			}
		})
	}
	wg.Wait()
	firsts := 0
	for g, err := range errs {
		if err != nil {
			t.Fatalf("goroutine %d: %v", g, err)
		}
		if !results[g].Duplicate {
			firsts++
		}
		equal(t, results[g].ID, results[0].ID, fmt.Sprintf("goroutine %d: ID", g))
		equal(t, results[g].Deliveries, 1, fmt.Sprintf("goroutine %d: Deliveries", g))
	}
	equal(t, firsts, 1, "requests written")
	b.wantStats(t, hookline.StoreStats{Pending: 1, Events: 1, Endpoints: 1})
}
