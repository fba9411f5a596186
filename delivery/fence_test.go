package delivery

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/sqlite"
)

// TestStaleOutcomeCounted: an outcome the store's fence drops (a node that
// paused and wrote attempt 1 after attempts 1 and 2 were recorded) is
// counted by reason and changes nothing.
func TestStaleOutcomeCounted(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "hookline.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	reg := prometheus.NewRegistry()
	e := New(Config{Store: s, Registerer: reg, RetrySchedule: []time.Duration{0, time.Hour, time.Hour}})
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(ctx) })

	now := hookline.Now()
	ep := &hookline.Endpoint{ID: hookline.NewID(hookline.EndpointPrefix, now), URL: "http://127.0.0.1:1/",
		Secret: "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	ev := &hookline.Event{ID: hookline.NewID(hookline.EventPrefix, now), Type: "a", CreatedAt: now}
	req := &hookline.IngestRequest{Events: []*hookline.Event{ev}, Claim: true}
	if err := s.Ingest(ctx, []*hookline.IngestRequest{req}, now); err != nil {
		t.Fatal(err)
	}
	id := req.Tasks[0].DeliveryID
	outcome := func(n int, started time.Time, status hookline.DeliveryStatus, code int) hookline.Outcome {
		return hookline.Outcome{Status: status, NextAttemptAt: started.Add(time.Hour), EndpointID: ep.ID,
			Attempt: hookline.Attempt{DeliveryID: id, Attempt: n, StartedAt: started, StatusCode: code}}
	}
	if err := s.RecordOutcomes(ctx, []hookline.Outcome{outcome(1, now.Add(time.Millisecond), hookline.StatusPending, 503),
		outcome(2, now.Add(2*time.Millisecond), hookline.StatusPending, 503)}, now); err != nil {
		t.Fatal(err)
	}

	e.outcomes.write([]hookline.Outcome{outcome(1, now, hookline.StatusDelivered, 200)})
	if got := droppedCount(t, reg, hookline.DropStale); got != 1 {
		t.Errorf("hookline_outcomes_dropped_total{reason=stale} = %v, want 1", got)
	}
	d, err := s.FindDelivery(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != hookline.StatusPending || d.Attempts != 2 || d.LastStatusCode != 503 {
		t.Errorf("after the stale outcome: %s after %d attempts, last %d; want pending after 2, last 503",
			d.Status, d.Attempts, d.LastStatusCode)
	}
}

// droppedCount reads hookline_outcomes_dropped_total for one reason.
func droppedCount(t *testing.T, reg *prometheus.Registry, why hookline.OutcomeDrop) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "hookline_outcomes_dropped_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == string(why) {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
