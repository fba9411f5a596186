package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

// endpointVersion returns the Version of an endpoint as FindEndpoint reads
// it.
func (b *bundle) endpointVersion(t *testing.T, id string) int64 {
	t.Helper()
	ep, err := b.s.FindEndpoint(b.ctx, id)
	if err != nil {
		t.Fatalf("FindEndpoint: %v", err)
	}
	return ep.Version
}

// changes reads EndpointChanges from since to the end, limit at a time, and
// returns what it got and the last since.
func (b *bundle) changes(t *testing.T, since int64, limit int) ([]*hookline.Endpoint, int64) {
	t.Helper()
	var all []*hookline.Endpoint
	for {
		eps, next, err := b.s.EndpointChanges(b.ctx, since, limit)
		if err != nil {
			t.Fatalf("EndpointChanges(%d, %d): %v", since, limit, err)
		}
		if next < since {
			t.Fatalf("EndpointChanges(%d, %d): next %d goes back", since, limit, next)
		}
		for i, ep := range eps {
			if ep.Version <= since || ep.Version > next || (i > 0 && ep.Version <= eps[i-1].Version) {
				t.Fatalf("EndpointChanges(%d, %d) = versions %v, next %d: not in order, above since, up to next",
					since, limit, versions(eps), next)
			}
		}
		all = append(all, eps...)
		if len(eps) < limit {
			return all, next
		}
		since = next
	}
}

func versions(eps []*hookline.Endpoint) []int64 {
	out := make([]int64, len(eps))
	for i, ep := range eps {
		out[i] = ep.Version
	}
	return out
}

// testEndpointVersions checks that every write of an endpoint gives it a
// greater Version than any before, whatever time the write is stamped with,
// and that every read (FindEndpoint, FindEndpoints, the tasks of ingest and
// claims) carries the Version of the snapshot it returns.
func testEndpointVersions(t *testing.T, b *bundle) {
	a := b.endpoint(t, "acme")
	if a.Version <= 0 {
		t.Fatalf("CreateEndpoint set Version %d, want > 0", a.Version)
	}
	c := b.endpoint(t, "acme")
	if c.Version <= a.Version {
		t.Fatalf("versions %d then %d: not increasing", a.Version, c.Version)
	}
	equal(t, b.endpointVersion(t, a.ID), a.Version, "FindEndpoint Version")
	last := c.Version
	// An update stamped in the past (a node whose clock is behind) is
	// still the latest.
	for i, at := range []time.Time{b.advance(time.Hour), b.now.Add(-2 * time.Hour), b.now.Add(-3 * time.Hour)} {
		url := fmt.Sprintf("https://receiver.example/%d", i)
		got, err := b.s.UpdateEndpoint(b.ctx, a.ID, hookline.EndpointUpdate{URL: &url}, at)
		if err != nil {
			t.Fatal(err)
		}
		if got.Version <= last {
			t.Fatalf("update %d: Version %d, not above the last write's %d", i, got.Version, last)
		}
		last = got.Version
		equal(t, b.endpointVersion(t, a.ID), got.Version, "FindEndpoint Version after an update")
		sameTime(t, got.UpdatedAt, at, "UpdatedAt as given")
	}
	list, _, err := b.s.FindEndpoints(b.ctx, hookline.EndpointFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range list {
		equal(t, ep.Version, b.endpointVersion(t, ep.ID), "FindEndpoints Version")
	}
	_, r := b.send(t, "acme", "invoice.paid")
	for _, task := range r.Tasks {
		equal(t, task.Endpoint.Version, b.endpointVersion(t, task.Endpoint.ID), "Version of an ingest task's endpoint")
	}
	url := "https://receiver.example/claimed"
	got, err := b.s.UpdateEndpoint(b.ctx, a.ID, hookline.EndpointUpdate{URL: &url}, b.tick())
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range b.claim(t, b.tick()) {
		if task.Endpoint.ID == a.ID {
			equal(t, task.Endpoint.Version, got.Version, "Version of a claimed task's endpoint")
			equal(t, task.Endpoint.URL, url, "URL of a claimed task's endpoint")
		}
	}
}

// testEndpointChanges follows EndpointChanges through creates, updates, a
// disable and a delete: each change comes once, as the endpoint is now, in
// Version order, and nothing comes twice past the since it returned.
func testEndpointChanges(t *testing.T, b *bundle) {
	_, start, err := b.s.EndpointChanges(b.ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	eps, next := b.changes(t, start, 100)
	if len(eps) != 0 || next != start {
		t.Fatalf("EndpointChanges(latest) = %v, %d; want none, %d", endpointIDs(eps...), next, start)
	}
	a, c, d := b.endpoint(t, "acme"), b.endpoint(t, "acme"), b.endpoint(t, "globex")
	eps, next = b.changes(t, start, 100)
	sameIDs(t, endpointIDs(eps...), endpointIDs(a, c, d), "changes after three creates")
	if !slices.Equal(endpointIDs(eps...), endpointIDs(a, c, d)) {
		t.Errorf("changes in the order %v, want the order of the writes %v", endpointIDs(eps...), endpointIDs(a, c, d))
	}
	if next < d.Version {
		t.Errorf("next %d is below the last change's version %d", next, d.Version)
	}
	for i, ep := range eps {
		wantEndpoint(t, ep, []*hookline.Endpoint{a, c, d}[i])
	}

	// a changes twice: it comes once, as it is now, after c and d.
	since := next
	url := "https://receiver.example/moved"
	if _, err := b.s.UpdateEndpoint(b.ctx, a.ID, hookline.EndpointUpdate{Disabled: ptr(true)}, b.tick()); err != nil {
		t.Fatal(err)
	}
	a2, err := b.s.UpdateEndpoint(b.ctx, a.ID, hookline.EndpointUpdate{URL: &url}, b.tick())
	if err != nil {
		t.Fatal(err)
	}
	gone, err := b.s.DeleteEndpoint(b.ctx, c.ID, b.tick())
	if err != nil {
		t.Fatal(err)
	}
	eps, next = b.changes(t, since, 100)
	sameIDs(t, endpointIDs(eps...), endpointIDs(a, c), "changes after the updates and the delete")
	if len(eps) == 2 {
		wantEndpoint(t, eps[0], a2)
		equal(t, eps[0].Disabled, true, "the changed endpoint's Disabled")
		equal(t, eps[0].Deleted, false, "the changed endpoint's Deleted")
		equal(t, eps[1].ID, c.ID, "the deleted endpoint comes last")
		equal(t, eps[1].Deleted, true, "the deleted endpoint's Deleted")
		equal(t, eps[1].Version, gone.Version, "the deleted endpoint's Version")
		equal(t, eps[1].Secret, "", "the deleted endpoint's Secret")
	}
	if eps, _ := b.changes(t, next, 100); len(eps) != 0 {
		t.Errorf("changes past the last next: %v", endpointIDs(eps...))
	}
	// Reading from the start, limit 1 at a time, gives the same, in order.
	eps, _ = b.changes(t, start, 1)
	if !slices.Equal(endpointIDs(eps...), endpointIDs(d, a, c)) {
		t.Errorf("changes one at a time: %v, want %v", endpointIDs(eps...), endpointIDs(d, a, c))
	}
}

// testEndpointDelete deletes an endpoint with a pending delivery: the
// endpoint is gone at once from every read, fan-out and claims; its
// delivery stays (counted as pending) until PurgeDeleted removes it with
// its attempts.
func testEndpointDelete(t *testing.T, b *bundle) {
	ep := b.endpoint(t, "acme")
	keep := b.endpoint(t, "acme")
	ev, r := b.send(t, "acme", "invoice.paid")
	var gone, kept string
	for _, task := range r.Tasks {
		if task.Endpoint.ID == ep.ID {
			gone = task.DeliveryID
		} else {
			kept = task.DeliveryID
		}
	}
	if gone == "" || kept == "" {
		t.Fatalf("tasks %v do not reach both endpoints", taskIDs(r.Tasks))
	}
	b.tick()
	b.record(t, hookline.Outcome{Status: hookline.StatusPending, NextAttemptAt: b.now.Add(time.Minute),
		Attempt: hookline.Attempt{DeliveryID: gone, Attempt: 1, StartedAt: b.now, StatusCode: 503}})
	b.wantStats(t, hookline.StoreStats{Pending: 2, Events: 1, Endpoints: 2})
	if err := b.s.SaveHealth(b.ctx, []hookline.EndpointHealth{{EndpointID: ep.ID, Circuit: hookline.CircuitOpen,
		ConsecutiveFailures: 10, UpdatedAt: b.now}}); err != nil {
		t.Fatal(err)
	}

	deletedAt := b.tick()
	del, err := b.s.DeleteEndpoint(b.ctx, ep.ID, deletedAt)
	if err != nil {
		t.Fatalf("DeleteEndpoint: %v", err)
	}
	equal(t, del.ID, ep.ID, "deleted snapshot ID")
	equal(t, del.Deleted, true, "deleted snapshot Deleted")
	equal(t, del.Secret, "", "deleted snapshot Secret")
	if del.Version <= keep.Version {
		t.Errorf("deleted snapshot Version %d, not above the last write's %d", del.Version, keep.Version)
	}
	_, err = b.s.FindEndpoint(b.ctx, ep.ID)
	wantNotFound(t, err, "FindEndpoint after DeleteEndpoint")
	_, err = b.s.UpdateEndpoint(b.ctx, ep.ID, hookline.EndpointUpdate{URL: ptr("https://x.example/")}, b.tick())
	wantNotFound(t, err, "UpdateEndpoint after DeleteEndpoint")
	_, err = b.s.EndpointCounts(b.ctx, ep.ID)
	wantNotFound(t, err, "EndpointCounts after DeleteEndpoint")
	_, err = b.s.FindHealth(b.ctx, ep.ID)
	wantNotFound(t, err, "FindHealth after DeleteEndpoint")
	_, err = b.s.RecoverEndpoint(b.ctx, ep.ID, time.Time{}, b.tick())
	wantNotFound(t, err, "RecoverEndpoint after DeleteEndpoint")
	found, _, err := b.s.FindEndpoints(b.ctx, hookline.EndpointFilter{})
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, endpointIDs(found...), []string{keep.ID}, "FindEndpoints after DeleteEndpoint")
	// Counted until purged, but as an endpoint no more, nor its circuit.
	b.wantStats(t, hookline.StoreStats{Pending: 2, Events: 1, Endpoints: 1})
	// Neither the due retry of the deleted endpoint's delivery nor new
	// events reach it.
	due, err := b.s.DueEndpoints(b.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range due {
		if d.EndpointID == ep.ID {
			t.Errorf("DueEndpoints names the deleted endpoint")
		}
	}
	res, err := b.s.ClaimDue(b.ctx, []hookline.ClaimRequest{{EndpointID: ep.ID, Limit: 10}}, b.advance(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || len(res[0].Tasks) != 0 || !res[0].Next.IsZero() {
		t.Errorf("ClaimDue of the deleted endpoint: %+v, want nothing", res)
	}
	sameIDs(t, taskIDs(b.claim(t, b.now)), []string{kept}, "ClaimDue after DeleteEndpoint")
	_, r = b.send(t, "acme", "invoice.paid")
	sameIDs(t, taskEndpoints(r.Tasks), []string{keep.ID}, "endpoints of an event after DeleteEndpoint")
	tasks, err := b.s.ReplayEvent(b.ctx, ev.ID, false, b.tick())
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, taskEndpoints(tasks), []string{keep.ID}, "endpoints of a replay after DeleteEndpoint")

	// The purge deletes the delivery with its attempt; the deleted
	// snapshot stays for EndpointChanges until it is older than before.
	n, err := b.s.PurgeDeleted(b.ctx, nil, deletedAt, 100)
	if err != nil {
		t.Fatalf("PurgeDeleted: %v", err)
	}
	equal(t, n, 1, "deliveries PurgeDeleted deleted")
	_, err = b.s.FindDelivery(b.ctx, gone)
	wantNotFound(t, err, "FindDelivery of a delivery of a purged endpoint")
	_, err = b.s.FindAttempts(b.ctx, gone)
	wantNotFound(t, err, "FindAttempts of a delivery of a purged endpoint")
	if ds := b.deliveries(t, hookline.DeliveryFilter{EndpointID: ep.ID}); len(ds) != 0 {
		t.Errorf("deliveries of a purged endpoint: %v", deliveryIDs(ds))
	}
	sameIDs(t, deliveryIDs(b.deliveries(t, hookline.DeliveryFilter{EventID: ev.ID})), []string{kept, tasks[0].DeliveryID},
		"deliveries of the event after the purge")
	b.wantStats(t, hookline.StoreStats{Pending: 3, Events: 2, Endpoints: 1})
	inChanges := func() bool {
		eps, _ := b.changes(t, 0, 100)
		return slices.ContainsFunc(eps, func(e *hookline.Endpoint) bool { return e.ID == ep.ID && e.Deleted })
	}
	if !inChanges() {
		t.Error("EndpointChanges lost the deleted endpoint before it was older than before")
	}
	if n, err := b.s.PurgeDeleted(b.ctx, nil, deletedAt.Add(time.Microsecond), 100); err != nil || n != 0 {
		t.Errorf("PurgeDeleted with nothing left: %d, %v", n, err)
	}
	if inChanges() {
		t.Error("EndpointChanges still has the deleted endpoint once it was purged")
	}
	_, err = b.s.DeleteEndpoint(b.ctx, ep.ID, b.tick())
	wantNotFound(t, err, "DeleteEndpoint of a purged endpoint")
	b.wantStats(t, hookline.StoreStats{Pending: 3, Events: 2, Endpoints: 1})
}

func testEndpointDeleteMissing(t *testing.T, b *bundle) {
	ep := b.endpoint(t, "acme")
	if _, err := b.s.DeleteEndpoint(b.ctx, ep.ID, b.tick()); err != nil {
		t.Fatal(err)
	}
	_, err := b.s.DeleteEndpoint(b.ctx, ep.ID, b.tick())
	wantNotFound(t, err, "DeleteEndpoint twice")
	_, err = b.s.DeleteEndpoint(b.ctx, "ep_unknown", b.tick())
	wantNotFound(t, err, "DeleteEndpoint of an unknown ID")
}

// testEndpointPurgeBatches purges a deleted endpoint's deliveries limit at a
// time, only in its partition, and leaves other endpoints' deliveries.
func testEndpointPurgeBatches(t *testing.T, b *bundle) {
	ep := b.endpoint(t, "acme")
	keep := b.endpoint(t, "acme")
	for range 5 {
		_, r := b.send(t, "acme", "invoice.paid")
		for _, task := range r.Tasks {
			b.settle(t, task.DeliveryID, hookline.StatusDelivered)
		}
	}
	b.wantStats(t, hookline.StoreStats{Delivered: 10, Events: 5, Endpoints: 2})
	deletedAt := b.tick()
	if _, err := b.s.DeleteEndpoint(b.ctx, ep.ID, deletedAt); err != nil {
		t.Fatal(err)
	}
	p := hookline.PartitionOf(ep.ID)
	others := []int{(p + 1) % hookline.Partitions}
	if n, err := b.s.PurgeDeleted(b.ctx, others, b.tick(), 2); err != nil || n != 0 {
		t.Fatalf("PurgeDeleted of other partitions: %d, %v; want 0", n, err)
	}
	left := 5
	for _, want := range []int{2, 2, 1, 0} {
		n, err := b.s.PurgeDeleted(b.ctx, []int{p}, b.tick(), 2)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, n, want, "deliveries one PurgeDeleted deleted")
		left -= n
		equal(t, len(b.deliveries(t, hookline.DeliveryFilter{EndpointID: ep.ID})), left, "deliveries left")
	}
	equal(t, len(b.deliveries(t, hookline.DeliveryFilter{EndpointID: keep.ID})), 5, "deliveries of the other endpoint")
	b.wantStats(t, hookline.StoreStats{Delivered: 5, Events: 5, Endpoints: 1})
}

// testConcurrentEndpointChanges writes endpoints from several goroutines
// while another follows EndpointChanges, applying each snapshot over an
// older one only: once the writes are done and it read to the end, it holds
// every endpoint as the store does. A Version that committed after a
// greater one had been read would be missed.
func testConcurrentEndpointChanges(t *testing.T, b *bundle) {
	const writers, writes = 4, 40
	eps := make([]*hookline.Endpoint, writers)
	for i := range eps {
		eps[i] = b.endpoint(t, "acme")
	}
	_, since, err := b.s.EndpointChanges(b.ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	done := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			for i := range writes {
				// Each writer updates every endpoint in turn, so writes of
				// one endpoint race.
				url := fmt.Sprintf("https://receiver.example/%d/%d", w, i)
				ep := eps[(w+i)%writers]
				if _, err := b.s.UpdateEndpoint(b.ctx, ep.ID, hookline.EndpointUpdate{URL: &url}, b.now); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	seen := map[string]*hookline.Endpoint{}
	read := func() error {
		got, next, err := b.s.EndpointChanges(b.ctx, since, 3)
		if err != nil {
			return err
		}
		for _, ep := range got {
			if cur := seen[ep.ID]; cur == nil || ep.Version > cur.Version {
				seen[ep.ID] = ep
			}
		}
		since = max(since, next)
		return nil
	}
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		case err := <-errs:
			t.Fatal(err)
		default:
		}
		if err := read(); err != nil {
			t.Fatal(err)
		}
	}
	for {
		before := since
		if err := read(); err != nil {
			t.Fatal(err)
		}
		if since == before {
			break
		}
	}
	for _, ep := range eps {
		want, err := b.s.FindEndpoint(b.ctx, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := seen[ep.ID]
		if got == nil || got.Version != want.Version || got.URL != want.URL {
			t.Errorf("endpoint %s: followed to %+v, the store has version %d, %s", ep.ID, got, want.Version, want.URL)
		}
	}
}
