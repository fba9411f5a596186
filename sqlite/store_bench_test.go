package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

// The benchmarks run on a file in a temporary directory (b.TempDir), with
// every commit fsync'd: their numbers are only as good as that disk.

// benchEndpoints creates n endpoints of tenant "acme", subscribed to every
// type, in one store.
func benchEndpoints(b testing.TB, s *Store, n int) []*hookline.Endpoint {
	return benchEndpointsOf(b, s, "acme", n)
}

// benchEndpointsOf creates n endpoints of tenant.
func benchEndpointsOf(b testing.TB, s *Store, tenant string, n int) []*hookline.Endpoint {
	b.Helper()
	now := hookline.Now()
	var eps []*hookline.Endpoint
	for range n {
		ep := &hookline.Endpoint{
			ID: hookline.NewID(hookline.EndpointPrefix, now), Tenant: tenant, URL: "https://receiver.example/hook",
			Secret: "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", CreatedAt: now, UpdatedAt: now,
		}
		if err := s.CreateEndpoint(context.Background(), ep); err != nil {
			b.Fatal(err)
		}
		eps = append(eps, ep)
	}
	return eps
}

var benchData = json.RawMessage(`{"invoice":"in_1234567890","amount":4200,"currency":"eur","customer":{"id":"cus_42","email":"a@example.com"}}`)

// benchRequests returns group requests of one event each, of tenant acme.
func benchRequests(group int, now time.Time, claim bool) []*hookline.IngestRequest {
	return benchRequestsOf("acme", group, now, claim)
}

// benchRequestsOf returns group requests of one event each, of tenant.
func benchRequestsOf(tenant string, group int, now time.Time, claim bool) []*hookline.IngestRequest {
	reqs := make([]*hookline.IngestRequest, group)
	for i := range reqs {
		reqs[i] = &hookline.IngestRequest{Claim: claim, Events: []*hookline.Event{{
			ID: hookline.NewID(hookline.EventPrefix, now), Tenant: tenant, Type: "invoice.paid",
			Data: benchData, CreatedAt: now,
		}}}
	}
	return reqs
}

// BenchmarkIngest measures one Ingest call (one transaction, one fsync) of
// group requests of one event each, fanned out to 10 endpoints; and, with
// no tenant (an install without tenants, whose events the tenant indexes do
// not hold), to 1. Their deliveries are claimed (held, as when the engine
// has room) or, for "stored", written for the poller (a full memory queue).
func BenchmarkIngest(b *testing.B) {
	for _, c := range []struct {
		tenant    string
		endpoints int
		stored    bool
	}{{"acme", 10, false}, {"", 1, false}, {"acme", 10, true}} {
		for _, group := range []int{1, 100} {
			name := fmt.Sprintf("tenant=%q/endpoints=%d/group=%d", c.tenant, c.endpoints, group)
			if c.stored {
				name += "/stored"
			}
			b.Run(name, func(b *testing.B) {
				s := open(b)
				benchEndpointsOf(b, s, c.tenant, c.endpoints)
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					now := hookline.Now()
					if err := s.Ingest(ctx, benchRequestsOf(c.tenant, group, now, !c.stored), now); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(group*b.N)/b.Elapsed().Seconds(), "events/s")
				b.ReportMetric(float64(c.endpoints*group*b.N)/b.Elapsed().Seconds(), "deliveries/s")
			})
		}
	}
}

// BenchmarkIngestFanOut measures one event fanned out to 10,000 endpoints,
// its deliveries claimed (held). Between calls, and outside the timer,
// every delivery's outcome is recorded, as the engine would: otherwise the
// held set and the claims grow by 10,000 a call, to sizes a server, whose
// memory queue bounds them, never has.
func BenchmarkIngestFanOut(b *testing.B) {
	benchFanOut(b, func(s *Store, reqs []*hookline.IngestRequest, now time.Time) {
		if err := s.Ingest(context.Background(), reqs, now); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
	})
}

// BenchmarkIngestFanOutAnswer measures what of BenchmarkIngestFanOut comes
// before the 202: IngestEarly, whose finish (the tasks) runs after the
// answer, outside the timer.
func BenchmarkIngestFanOutAnswer(b *testing.B) {
	benchFanOut(b, func(s *Store, reqs []*hookline.IngestRequest, now time.Time) {
		finish, err := s.IngestEarly(context.Background(), reqs, now)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		finish()
	})
}

// benchFanOut runs ingest, which stops the timer, on one event of 10,000
// deliveries a call, then records their outcomes.
func benchFanOut(b *testing.B, ingest func(s *Store, reqs []*hookline.IngestRequest, now time.Time)) {
	const endpoints = 10000
	s := open(b)
	benchEndpoints(b, s, endpoints)
	b.ReportAllocs()
	for b.Loop() {
		now := hookline.Now()
		reqs := benchRequests(1, now, true)
		ingest(s, reqs, now)
		if len(reqs[0].Tasks) != endpoints {
			b.Fatalf("%d tasks", len(reqs[0].Tasks))
		}
		deliverAll(b, s, reqs[0].Tasks, now)
		b.StartTimer()
	}
	b.ReportMetric(float64(endpoints*b.N)/b.Elapsed().Seconds(), "deliveries/s")
}

// deliverAll records a successful first attempt of every task, in
// batches of 512 as the engine's outcome writer does.
func deliverAll(b testing.TB, s *Store, tasks []*hookline.Task, now time.Time) {
	b.Helper()
	for len(tasks) > 0 {
		n := min(len(tasks), 512)
		outcomes := make([]hookline.Outcome, n)
		for i, t := range tasks[:n] {
			outcomes[i] = hookline.Outcome{Status: hookline.StatusDelivered, Attempt: hookline.Attempt{
				DeliveryID: t.DeliveryID, Attempt: 1, StartedAt: now, Duration: time.Millisecond, StatusCode: 200,
			}}
		}
		if err := s.RecordOutcomes(context.Background(), outcomes, now); err != nil {
			b.Fatal(err)
		}
		tasks = tasks[n:]
	}
}

// BenchmarkFanOutMatch measures the matching part of fan-out, one event
// against 10,000 endpoints, without filters and with a filter on each
// (which half of them pass): what filters add to an ingest, beside its
// writes (BenchmarkIngestFanOut).
func BenchmarkFanOutMatch(b *testing.B) {
	const endpoints = 10000
	for _, filtered := range []bool{false, true} {
		b.Run(fmt.Sprintf("filters=%v", filtered), func(b *testing.B) {
			s := open(b)
			eps := benchEndpoints(b, s, endpoints)
			if filtered {
				for i, ep := range eps {
					f := json.RawMessage(`{"data":{"amount":{"$gte":1000},"currency":{"$in":["eur","usd"]}}}`)
					if i%2 == 1 {
						f = json.RawMessage(`{"data":{"customer":{"id":"cus_7"}}}`)
					}
					if _, err := s.UpdateEndpoint(context.Background(), ep.ID, hookline.EndpointUpdate{SetFilter: true, Filter: f}, hookline.Now()); err != nil {
						b.Fatal(err)
					}
				}
			}
			now := hookline.Now()
			ev := benchRequests(1, now, false)[0].Events[0]
			want := endpoints
			if filtered {
				want = endpoints / 2
			}
			b.ReportAllocs()
			for b.Loop() {
				in := ingest{s: s, now: now}
				if n := in.matches(ev); n != want {
					b.Fatalf("%d endpoints match, want %d", n, want)
				}
			}
		})
	}
}

// BenchmarkRecordOutcomes measures one batch of 256 outcomes: 256 attempt
// rows and 256 delivery updates in one transaction.
func BenchmarkRecordOutcomes(b *testing.B) {
	const batch = 256
	s := open(b)
	benchEndpoints(b, s, batch)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		now := hookline.Now()
		reqs := benchRequests(1, now, true)
		if err := s.Ingest(ctx, reqs, now); err != nil {
			b.Fatal(err)
		}
		outcomes := make([]hookline.Outcome, len(reqs[0].Tasks))
		for j, task := range reqs[0].Tasks {
			status := hookline.StatusDelivered
			if j%4 == 0 {
				status = hookline.StatusPending
			}
			outcomes[j] = hookline.Outcome{Status: status, NextAttemptAt: now.Add(time.Minute), Attempt: hookline.Attempt{
				DeliveryID: task.DeliveryID, Attempt: 1, StartedAt: now, Duration: 12 * time.Millisecond,
				StatusCode: 200, ResponseBody: `{"ok":true}`,
			}}
		}
		b.StartTimer()
		if err := s.RecordOutcomes(ctx, outcomes, now); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "outcomes/s")
}

// BenchmarkClaimDue measures claiming 256 due deliveries (16 of each of 16
// endpoints) out of a backlog of 16,384.
func BenchmarkClaimDue(b *testing.B) {
	const limit, endpoints, events = 256, 16, 1024
	s := open(b)
	eps := benchEndpoints(b, s, endpoints)
	ctx := context.Background()
	now := hookline.Now()
	for range events / 64 {
		if err := s.Ingest(ctx, benchRequests(64, now, false), now); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		reqs := make([]hookline.ClaimRequest, len(eps))
		for j, ep := range eps {
			reqs[j] = hookline.ClaimRequest{EndpointID: ep.ID, Limit: limit / endpoints}
		}
		res, err := s.ClaimDue(ctx, reqs, now)
		if err != nil {
			b.Fatal(err)
		}
		var tasks []*hookline.Task
		for _, r := range res {
			tasks = append(tasks, r.Tasks...)
		}
		if len(tasks) != limit {
			b.Fatalf("%d tasks", len(tasks))
		}
		b.StopTimer()
		ids := make([]string, len(tasks))
		for j, task := range tasks {
			ids[j] = task.DeliveryID
		}
		if err := s.Unclaim(ctx, ids); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(limit*b.N)/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkIngestAndOutcome measures what a delivery costs the store from
// its ingest to its first attempt's outcome: one Ingest call of group
// requests of one event each, fanned out to 10 endpoints and claimed (as
// the engine does when it has room), then one RecordOutcomes of them all,
// delivered.
func BenchmarkIngestAndOutcome(b *testing.B) {
	for _, group := range []int{1, 50} {
		b.Run(fmt.Sprintf("endpoints=10/group=%d", group), func(b *testing.B) {
			s := open(b)
			benchEndpoints(b, s, 10)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				now := hookline.Now()
				reqs := benchRequests(group, now, true)
				if err := s.Ingest(ctx, reqs, now); err != nil {
					b.Fatal(err)
				}
				var outcomes []hookline.Outcome
				for _, r := range reqs {
					for _, task := range r.Tasks {
						outcomes = append(outcomes, hookline.Outcome{Status: hookline.StatusDelivered, Attempt: hookline.Attempt{
							DeliveryID: task.DeliveryID, Attempt: 1, StartedAt: now, Duration: 12 * time.Millisecond,
							StatusCode: 200, ResponseBody: `{"ok":true}`,
						}})
					}
				}
				if err := s.RecordOutcomes(ctx, outcomes, now); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(10*group*b.N)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkIngestBesideOutcomes measures one Ingest (one event, 1
// endpoint, claimed) while another goroutine writes outcome batches of 512
// back to back, as the engine's outcome writer does under load: the time an
// ingest, and so a 202, waits for the store's one writer.
func BenchmarkIngestBesideOutcomes(b *testing.B) {
	s := open(b)
	benchEndpointsOf(b, s, "", 1)
	benchEndpoints(b, s, 512) // of acme: each event of the other goroutine makes 512 deliveries
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			now := hookline.Now()
			reqs := benchRequests(1, now, true)
			if err := s.Ingest(ctx, reqs, now); err != nil {
				return
			}
			outcomes := make([]hookline.Outcome, len(reqs[0].Tasks))
			for i, t := range reqs[0].Tasks {
				outcomes[i] = hookline.Outcome{Status: hookline.StatusDelivered, Attempt: hookline.Attempt{
					DeliveryID: t.DeliveryID, Attempt: 1, StartedAt: now, Duration: time.Millisecond, StatusCode: 200}}
			}
			if err := s.RecordOutcomes(ctx, outcomes, now); err != nil {
				return
			}
		}
	}()
	b.ReportAllocs()
	for b.Loop() {
		now := hookline.Now()
		reqs := benchRequestsOf("", 1, now, true)
		if err := s.Ingest(context.Background(), reqs, now); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cancel()
	<-done
}
