package delivery_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/delivery"
	"github.com/hookline/hookline/postgres"
)

// TestEndpointChangesOrderedByVersion makes two changes of an endpoint one
// after the other, the second stamped earlier than the first (written by a
// node whose clock is behind): the engine keeps the one written last, by
// the store's order, not the one with the latest UpdatedAt.
func TestEndpointChangesOrderedByVersion(t *testing.T) {
	stores(t, delivery.Config{}, func(t *testing.T, b *bundle) {
		first, second, third := newReceiver(t, nil), newReceiver(t, nil), newReceiver(t, nil)
		ep := b.endpoint(t, first.URL)
		deliver(t, b, first, "a") // the engine now holds the endpoint
		ctx := context.Background()
		now := hookline.Now()
		for _, c := range []struct {
			url string
			at  time.Time
		}{{second.URL, now.Add(10 * time.Second)}, {third.URL, now.Add(5 * time.Second)}} {
			got, err := b.store.UpdateEndpoint(ctx, ep.ID, hookline.EndpointUpdate{URL: &c.url}, c.at)
			if err != nil {
				t.Fatal(err)
			}
			b.engine.EndpointChanged(ep.ID, got)
		}
		deliver(t, b, third, "a")
		if n := second.count(); n != 0 {
			t.Fatalf("%d deliveries to the URL of the first change, which the second replaced", n)
		}
	})
}

// gated is a receiver that counts requests and, when gate is set, holds
// the next request until the gate is closed.
type gated struct {
	*httptest.Server
	n    atomic.Int64
	gate atomic.Pointer[chan struct{}]
	got  chan struct{} // a request arrived
}

func newGated(t *testing.T) *gated {
	g := &gated{got: make(chan struct{}, 1000)}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		g.n.Add(1)
		g.got <- struct{}{}
		if gate := g.gate.Swap(nil); gate != nil {
			<-*gate
		}
	}))
	t.Cleanup(g.Close)
	return g
}

// hold makes the next request wait until the returned channel is closed.
func (g *gated) hold() chan struct{} {
	c := make(chan struct{})
	g.gate.Store(&c)
	return c
}

// otherNode returns a store through which the test writes as another node
// would: on PostgreSQL a store of its own on the same schema (its writes
// reach the engine only through the database), on SQLite the engine's own
// store, written without telling the engine.
func otherNode(t *testing.T, b *bundle) hookline.Store {
	if _, ok := b.store.(*postgres.Store); !ok {
		return b.store
	}
	s := b.open(t)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// appliedVersion returns hookline_endpoint_version from reg: the latest
// endpoint write the engine applied.
func appliedVersion(t *testing.T, reg *prometheus.Registry) int64 {
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "hookline_endpoint_version" {
			return int64(mf.GetMetric()[0].GetGauge().GetValue())
		}
	}
	return -1
}

// TestEndpointChangesReachQueues writes an endpoint through the store only
// (as another node does; EndpointChanged is never called) while the engine
// holds its deliveries in memory: one request at a time (max_in_flight 1),
// the first held by the receiver, 19 queued behind it. The engine applies
// the write within EndpointPoll (100 ms here; on PostgreSQL the
// notification comes sooner); once the held request is let go, the 19 go
// to the new URL, not one to the old. Once the endpoint is deleted the
// same way, nothing but the held request is sent, nothing stays in memory
// for it and its deliveries are purged.
func TestEndpointChangesReachQueues(t *testing.T) {
	const events = 20
	for _, st := range []struct {
		name  string
		setup func(*testing.T, delivery.Config) *bundle
	}{{"SQLite", setup}, {"PostgreSQL", setupPostgres}} {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			b := st.setup(t, delivery.Config{EndpointPoll: 100 * time.Millisecond, Registerer: reg})
			ctx := context.Background()
			other := otherNode(t, b)
			oldRc, newRc := newGated(t), newGated(t)
			ep := b.endpoint(t, oldRc.URL)
			one := 1
			if _, err := b.store.UpdateEndpoint(ctx, ep.ID, hookline.EndpointUpdate{MaxInFlight: &one}, hookline.Now()); err != nil {
				t.Fatal(err)
			}
			// applied waits until the engine applied version v, and says
			// how long that took.
			applied := func(what string, v int64) {
				t.Helper()
				start := time.Now()
				waitFor(t, "the engine applying "+what, func() bool { return appliedVersion(t, reg) >= v })
				t.Logf("%s applied %s after the write", what, time.Since(start))
			}
			queue := func(rc *gated) (ids []string, release chan struct{}) {
				release = rc.hold()
				for i := range events {
					ids = append(ids, b.send(t, "a", fmt.Sprintf(`{"i":%d}`, i)).ID)
				}
				<-rc.got
				return ids, release
			}

			ids, release := queue(oldRc)
			url := newRc.URL
			got, err := other.UpdateEndpoint(ctx, ep.ID, hookline.EndpointUpdate{URL: &url}, hookline.Now())
			if err != nil {
				t.Fatal(err)
			}
			applied("the new URL", got.Version)
			close(release)
			for _, id := range ids {
				b.waitStatus(t, id, hookline.StatusDelivered)
			}
			if n := oldRc.n.Load(); n != 1 {
				t.Errorf("%d requests to the old URL, want only the one under way at the change", n)
			}
			if n := newRc.n.Load(); n != events-1 {
				t.Errorf("%d requests to the new URL, want %d", n, events-1)
			}

			before := newRc.n.Load()
			_, release = queue(newRc)
			gone, err := other.DeleteEndpoint(ctx, ep.ID, hookline.Now())
			if err != nil {
				t.Fatal(err)
			}
			applied("the delete", gone.Version)
			close(release)
			waitFor(t, "nothing held in memory and every delivery purged", func() bool {
				st, err := b.engine.Stats(ctx)
				if err != nil {
					t.Fatal(err)
				}
				ss, err := b.store.Stats(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return st.Node.InMemory == 0 && ss.Pending == 0 && ss.Delivered == 0
			})
			if n := newRc.n.Load() - before; n != 1 {
				t.Errorf("%d requests to the deleted endpoint, want only the one under way at the delete", n)
			}
		})
	}
}
