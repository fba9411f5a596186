package delivery_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/delivery"
	"github.com/hookline/hookline/sqlite"
)

// gateStore records the tenants of each group commit and holds the first
// one until released.
type gateStore struct {
	hookline.Store
	first   chan struct{} // closed when the first group commit starts
	release chan struct{}
	mu      sync.Mutex
	groups  [][]string // the tenant of each request, by group
}

func (g *gateStore) Ingest(ctx context.Context, reqs []*hookline.IngestRequest, now time.Time) error {
	g.mu.Lock()
	var tenants []string
	for _, r := range reqs {
		tenants = append(tenants, r.Events[0].Tenant)
	}
	g.groups = append(g.groups, tenants)
	n := len(g.groups)
	g.mu.Unlock()
	if n == 1 {
		close(g.first)
		<-g.release
	}
	return g.Store.Ingest(ctx, reqs, now)
}

// TestIngestFairAcrossTenants checks that one tenant's flood of batches
// queued for the group commit does not stand in front of another tenant's
// request: that goes in the next group commit, however many are queued.
func TestIngestFairAcrossTenants(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hookline.db")
	g := &gateStore{first: make(chan struct{}), release: make(chan struct{})}
	b := &bundle{open: func(t *testing.T) hookline.Store {
		s, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		g.Store = s
		return g
	}}
	b.start(t, delivery.Config{})
	batch := func(tenant string) []*hookline.Event {
		evs := make([]*hookline.Event, 1000)
		for i := range evs {
			evs[i] = &hookline.Event{Tenant: tenant, Type: "a", Data: json.RawMessage(`{}`)}
		}
		return evs
	}
	var wg sync.WaitGroup
	ingest := func(evs []*hookline.Event) {
		defer wg.Done()
		if _, err := b.engine.Ingest(context.Background(), evs); err != nil {
			t.Error(err)
		}
	}
	wg.Add(1)
	go ingest(batch("noisy"))
	<-g.first
	// 20 batches of 1,000 events queue behind the held commit: five groups'
	// worth. Then one request of another tenant.
	for range 20 {
		wg.Add(1)
		go ingest(batch("noisy"))
	}
	waitFor(t, "20 requests queued", func() bool { return b.engine.IngestQueued() == 20 })
	wg.Add(1)
	go ingest([]*hookline.Event{{Tenant: "quiet", Type: "a", Data: json.RawMessage(`{}`)}})
	waitFor(t, "21 requests queued", func() bool { return b.engine.IngestQueued() == 21 })
	close(g.release)
	wg.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, tenants := range g.groups {
		for _, tenant := range tenants {
			if tenant == "quiet" {
				if i != 1 {
					t.Fatalf("the quiet tenant's request went in group commit %d of %d, want the second: %v", i+1, len(g.groups), g.groups)
				}
				return
			}
		}
	}
	t.Fatalf("the quiet tenant's request was not committed: %v", g.groups)
}
