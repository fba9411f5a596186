package delivery_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

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

// stamped is a receiver that notes when each request arrived.
type stamped struct {
	*httptest.Server
	mu  sync.Mutex
	at  []time.Time
	got chan struct{} // a request arrived
}

func newStamped(t *testing.T) *stamped {
	s := &stamped{got: make(chan struct{}, 1)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		s.mu.Lock()
		s.at = append(s.at, time.Now())
		s.mu.Unlock()
		select {
		case s.got <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// after returns how many requests arrived after t.
func (s *stamped) after(t time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, at := range s.at {
		if at.After(t) {
			n++
		}
	}
	return n
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

// TestEndpointChangesReachQueues writes an endpoint through the store only
// (as another node does; EndpointChanged is never called) while the engine
// holds its deliveries in memory (10 requests/s, 20 events queued: two
// seconds of work): within the bound of EndpointPoll (100 ms here; on
// PostgreSQL the notification comes sooner) plus a request already under
// way, the engine sends to the new URL only; once the endpoint is deleted,
// it sends nothing more, holds nothing in memory for it, and purges its
// deliveries.
func TestEndpointChangesReachQueues(t *testing.T) {
	const (
		events = 20
		bound  = 500 * time.Millisecond
	)
	stores(t, delivery.Config{EndpointPoll: 100 * time.Millisecond}, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		other := otherNode(t, b)
		oldRc, newRc := newStamped(t), newStamped(t)
		ep := b.endpoint(t, oldRc.URL)
		rate := 10.0
		if _, err := b.store.UpdateEndpoint(ctx, ep.ID, hookline.EndpointUpdate{RateLimit: &rate}, hookline.Now()); err != nil {
			t.Fatal(err)
		}
		queue := func() []string {
			var ids []string
			for i := range events {
				ids = append(ids, b.send(t, "a", fmt.Sprintf(`{"i":%d}`, i)).ID)
			}
			return ids
		}
		ids := queue()
		<-oldRc.got
		url := newRc.URL
		if _, err := other.UpdateEndpoint(ctx, ep.ID, hookline.EndpointUpdate{URL: &url}, hookline.Now()); err != nil {
			t.Fatal(err)
		}
		changed := time.Now()
		for _, id := range ids {
			b.waitStatus(t, id, hookline.StatusDelivered)
		}
		if n := oldRc.after(changed.Add(bound)); n > 0 {
			t.Errorf("%d requests to the old URL later than %s after the change", n, bound)
		}
		if n := newRc.after(changed); n == 0 {
			t.Errorf("no request to the new URL")
		}

		queue()
		<-newRc.got
		if _, err := other.DeleteEndpoint(ctx, ep.ID, hookline.Now()); err != nil {
			t.Fatal(err)
		}
		deleted := time.Now()
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
		if since := time.Since(deleted); since > 2*time.Second {
			t.Errorf("the purge took %s", since)
		}
		if n := newRc.after(deleted.Add(bound)); n > 0 {
			t.Errorf("%d requests to the deleted endpoint later than %s after the delete", n, bound)
		}
	})
}
