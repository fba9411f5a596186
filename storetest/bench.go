package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

// DeleteUnderIngest measures what deleting a big endpoint costs ingest. It
// fills one endpoint of s with n deliveries, each delivered at its first
// attempt, and gives ten others of another tenant; then, while clients
// goroutines ingest one event at a time for those ten, it calls del to
// delete the big one, which returns once the endpoint is gone from fan-out
// and its deliveries and attempts from the store. It reports the ingest
// latency (p50, p99, max) during del, the same over as many ingests before
// it, and how long del took. Each benchmark iteration is one such delete;
// run it with -benchtime=1x -count=N.
func DeleteUnderIngest(b *testing.B, s hookline.Store, n, clients int, del func(ctx context.Context, id string) error) {
	b.Helper()
	ctx := context.Background()
	now := hookline.Now()
	endpoint := func(tenant string) *hookline.Endpoint {
		id := hookline.NewID(hookline.EndpointPrefix, now)
		ep := &hookline.Endpoint{ID: id, Tenant: tenant, URL: "https://receiver.example/" + id,
			Secret: "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", CreatedAt: now, UpdatedAt: now}
		if err := s.CreateEndpoint(ctx, ep); err != nil {
			b.Fatal(err)
		}
		return ep
	}
	for range 10 {
		endpoint("acme")
	}
	data := json.RawMessage(`{"invoice":"in_1234567890","amount":4200,"currency":"eur"}`)
	event := func(tenant string, at time.Time) *hookline.Event {
		return &hookline.Event{ID: hookline.NewID(hookline.EventPrefix, at), Tenant: tenant, Type: "invoice.paid",
			Data: data, CreatedAt: at}
	}
	var total []time.Duration
	var deletes []time.Duration
	for range b.N {
		b.StopTimer()
		big := endpoint("big")
		for done := 0; done < n; {
			at := hookline.Now()
			r := &hookline.IngestRequest{Claim: true}
			for range min(1000, n-done) {
				r.Events = append(r.Events, event("big", at))
			}
			if err := s.Ingest(ctx, []*hookline.IngestRequest{r}, at); err != nil {
				b.Fatal(err)
			}
			outs := make([]hookline.Outcome, len(r.Tasks))
			for i, t := range r.Tasks {
				outs[i] = hookline.Outcome{EndpointID: big.ID, Status: hookline.StatusDelivered,
					Attempt: hookline.Attempt{DeliveryID: t.DeliveryID, Attempt: 1, StartedAt: at,
						Duration: time.Millisecond, StatusCode: 200}}
			}
			for i := 0; i < len(outs); i += 500 {
				chunk := outs[i:min(i+500, len(outs))]
				if err := s.RecordOutcomes(ctx, chunk, at); err != nil {
					b.Fatal(err)
				}
			}
			done += len(r.Tasks)
		}

		// Ingest from clients goroutines, one event a call, until stop. An
		// ingest counts as during the delete when it started during it,
		// however long after it ended.
		type sample struct {
			at time.Time
			d  time.Duration
		}
		var mu sync.Mutex
		var samples []sample
		stop := make(chan struct{})
		var wg sync.WaitGroup
		ingest := func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				at := hookline.Now()
				r := &hookline.IngestRequest{Claim: true, Events: []*hookline.Event{event("acme", at)}}
				start := time.Now()
				if err := s.Ingest(ctx, []*hookline.IngestRequest{r}, at); err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				samples = append(samples, sample{start, time.Since(start)})
				mu.Unlock()
			}
		}
		// count returns how many ingests started at or after t finished.
		count := func(t time.Time) int {
			mu.Lock()
			defer mu.Unlock()
			k := 0
			for _, x := range samples {
				if !x.at.Before(t) {
					k++
				}
			}
			return k
		}
		waitCount := func(t time.Time, k int) {
			for count(t) < k {
				time.Sleep(time.Millisecond) // polls the count; synchronises nothing
			}
		}
		wg.Add(clients)
		for range clients {
			go ingest()
		}
		begin := time.Now()
		waitCount(begin, 200)
		start := time.Now()
		b.StartTimer()
		if err := del(ctx, big.ID); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		end := time.Now()
		waitCount(end, max(200, count(start)-count(end)))
		close(stop)
		wg.Wait()
		var before, during, after []time.Duration
		for _, x := range samples {
			switch {
			case x.at.Before(start):
				before = append(before, x.d)
			case x.at.Before(end):
				during = append(during, x.d)
			default:
				after = append(after, x.d)
			}
		}
		took := end.Sub(start)
		deletes = append(deletes, took)
		total = append(total, during...)
		b.Logf("delete of %d deliveries: %s; ingest before it: %s; during it: %s; after it: %s",
			n, took.Round(time.Millisecond), percentiles(before), percentiles(during), percentiles(after))
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(total)
	b.ReportMetric(ms(pct(total, 0.50)), "ingest-p50-ms")
	b.ReportMetric(ms(pct(total, 0.99)), "ingest-p99-ms")
	b.ReportMetric(ms(pct(total, 1)), "ingest-max-ms")
	b.ReportMetric(float64(len(total))/float64(len(deletes)), "ingests/delete")
	var sum time.Duration
	for _, d := range deletes {
		sum += d
	}
	b.ReportMetric(ms(sum/time.Duration(len(deletes))), "delete-ms")
}

// percentiles formats the p50, p99 and max of ds.
func percentiles(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("n=%d p50=%.1fms p99=%.1fms max=%.1fms", len(s), ms(pct(s, 0.5)), ms(pct(s, 0.99)), ms(pct(s, 1)))
}

// pct returns the q-quantile of sorted ds (0 for none).
func pct(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(q*float64(len(ds))))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Purge deletes every delivery of the deleted endpoints of s as the engine
// does (package delivery, purger.go): PurgeBatch at a time, each call
// followed by a pause as long as it took, so that it takes at most half of
// the writer's time.
func Purge(ctx context.Context, s hookline.Store) error {
	for {
		start := time.Now()
		n, err := s.PurgeDeleted(ctx, nil, hookline.Now(), PurgeBatch)
		if err != nil || n < PurgeBatch {
			return err
		}
		time.Sleep(time.Since(start))
	}
}

// PurgeBatch is the engine's purge batch (package delivery, purgeBatch).
const PurgeBatch = 500

// DeleteAndPurge returns a del for DeleteUnderIngest that deletes as the
// API and the engine do: DeleteEndpoint (what DELETE /v1/endpoints/{id}
// waits for, logged), then Purge.
func DeleteAndPurge(b *testing.B, s hookline.Store) func(ctx context.Context, id string) error {
	return func(ctx context.Context, id string) error {
		start := time.Now()
		if _, err := s.DeleteEndpoint(ctx, id, hookline.Now()); err != nil {
			return err
		}
		answered := time.Since(start)
		err := Purge(ctx, s)
		b.Logf("DeleteEndpoint answered in %s; the purge took %s more", answered, time.Since(start)-answered)
		return err
	}
}
