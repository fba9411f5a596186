package delivery

import (
	"encoding/json"
	"testing"

	"github.com/hookline/hookline"
)

func jobOf(tenant string, events int) *ingestJob {
	evs := make([]*hookline.Event, events)
	for i := range evs {
		evs[i] = &hookline.Event{Tenant: tenant, Type: "a", Data: json.RawMessage(`{}`)}
	}
	return &ingestJob{req: &hookline.IngestRequest{Events: evs}}
}

// TestTenantJobsRoundRobin checks that a tenant's request queued behind
// another tenant's flood goes in the next group, that each tenant's jobs
// keep their order, that the turn moves on between groups, and that the
// bounds hold with at least one job a group.
func TestTenantJobsRoundRobin(t *testing.T) {
	var q tenantJobs
	var flood []*ingestJob
	for range 100 {
		j := jobOf("noisy", 10)
		flood = append(flood, j)
		q.push(j)
	}
	quiet := jobOf("quiet", 1)
	q.push(quiet)
	g := q.group(nil, 31, 1<<20)
	if len(g) != 4 || g[0] != flood[0] || g[1] != quiet || g[2] != flood[1] || g[3] != flood[2] {
		t.Fatalf("first group of %d jobs: want noisy 0, quiet, noisy 1, noisy 2", len(g))
	}
	if q.len() != 97 {
		t.Fatalf("%d jobs wait, want 97", q.len())
	}
	other := jobOf("other", 1)
	q.push(other)
	g = q.group(g[:0], 21, 1<<20)
	if len(g) != 3 || g[0] != flood[3] || g[1] != other || g[2] != flood[4] {
		t.Fatalf("second group: %d jobs, want noisy 3, other, noisy 4", len(g))
	}
	// One job larger than the bound still makes a group of its own.
	big := jobOf("big", 500)
	var q2 tenantJobs
	q2.push(big)
	q2.push(jobOf("big", 1))
	if g := q2.group(nil, 100, 1<<20); len(g) != 1 || g[0] != big {
		t.Fatalf("a job past the bound: group of %d", len(g))
	}
	// Draining keeps each tenant's order.
	next := 5
	for q.len() > 0 {
		for _, j := range q.group(nil, 1000, 1<<20) {
			if tenantOf(j) == "noisy" {
				if j != flood[next] {
					t.Fatalf("noisy job out of order at %d", next)
				}
				next++
			}
		}
	}
	if next != 100 {
		t.Fatalf("%d noisy jobs drained, want 100", next)
	}
	if len(q.queues) != 0 || len(q.turn) != 0 {
		t.Fatalf("an empty queue keeps %d tenants, %d turns", len(q.queues), len(q.turn))
	}
}
