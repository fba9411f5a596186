// Package storetest is the conformance suite of hookline.Store: one set of
// tests that every store (SQLite, PostgreSQL) runs unchanged, through the
// interface only.
//
// A store's test calls Run with a function that opens a fresh, empty store
// with state of its own (a temporary SQLite file, a PostgreSQL schema) and
// registers its cleanup:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) hookline.Store {
//			s, err := sqlite.Open(filepath.Join(t.TempDir(), "hookline.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Every test gets its own store and runs in parallel with the others. Time
// is injected: the tests pass explicit times, from a fixed clock in the past,
// so a store that reads the wall clock where it was given a time fails them.
// Nothing sleeps.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

// Run runs the conformance suite against the stores open returns. open is
// called once per test, from that test's goroutine.
func Run(t *testing.T, open func(t *testing.T) hookline.Store) {
	t.Helper()
	groups := []struct {
		name  string
		tests []test
	}{
		{"Endpoint", endpointTests},
		{"Ingest", ingestTests},
		{"Idempotency", idempotencyTests},
		{"Claim", claimTests},
		{"Outcome", outcomeTests},
		{"Fence", fenceTests},
		{"Rescue", rescueTests},
		{"Delivery", deliveryTests},
		{"Replay", replayTests},
		{"Stats", statsTests},
		{"Prune", pruneTests},
		{"Concurrency", concurrencyTests},
		{"Atomicity", atomicityTests},
		{"Health", healthTests},
		{"Order", orderTests},
		{"Key", keyTests},
		{"Recovery", recoveryTests},
		{"EventType", eventTypeTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(t, setup(t, open))
				})
			}
		})
	}
}

// test is one test of the suite, given a fresh store.
type test struct {
	name string
	fn   func(t *testing.T, b *bundle)
}

// epoch is the start of every test's clock: fixed, and in the past.
var epoch = time.Date(2024, 2, 29, 12, 0, 0, 123456000, time.UTC)

// bundle is a store under test with the test's clock.
type bundle struct {
	s   hookline.Store
	ctx context.Context
	// now is the test's clock. tick moves it on by a millisecond, so that
	// IDs made at successive ticks sort in order.
	now time.Time
}

func setup(t *testing.T, open func(t *testing.T) hookline.Store) *bundle {
	t.Helper()
	s := open(t)
	if s == nil {
		t.Fatal("open returned a nil store")
	}
	return &bundle{s: s, ctx: t.Context(), now: epoch}
}

// tick advances the clock by a millisecond and returns it.
func (b *bundle) tick() time.Time {
	b.now = b.now.Add(time.Millisecond)
	return b.now
}

// advance moves the clock on by d and returns it.
func (b *bundle) advance(d time.Duration) time.Time {
	b.now = b.now.Add(d)
	return b.now
}

// newEndpoint returns an enabled endpoint made at the next tick, not stored.
func (b *bundle) newEndpoint(tenant string, types ...string) *hookline.Endpoint {
	now := b.tick()
	id := hookline.NewID(hookline.EndpointPrefix, now)
	return &hookline.Endpoint{
		ID:          id,
		Tenant:      tenant,
		URL:         "https://receiver.example/hooks/" + strings.ToLower(id),
		Description: "endpoint " + id,
		EventTypes:  types,
		Secret:      "whsec_" + strings.Repeat("c2VjcmV0", 4) + id[len(id)-4:],
		CreatedAt:   now,
		UpdatedAt:   now,
	}
}

// endpoint creates an enabled endpoint of tenant subscribed to types.
func (b *bundle) endpoint(t *testing.T, tenant string, types ...string) *hookline.Endpoint {
	t.Helper()
	ep := b.newEndpoint(tenant, types...)
	if err := b.s.CreateEndpoint(b.ctx, ep); err != nil {
		t.Fatalf("CreateEndpoint: %v", err)
	}
	return ep
}

// disabledEndpoint creates a disabled endpoint of tenant subscribed to every
// type.
func (b *bundle) disabledEndpoint(t *testing.T, tenant string) *hookline.Endpoint {
	t.Helper()
	ep := b.newEndpoint(tenant)
	ep.Disabled = true
	if err := b.s.CreateEndpoint(b.ctx, ep); err != nil {
		t.Fatalf("CreateEndpoint: %v", err)
	}
	return ep
}

// event returns a new event of tenant and type, created at the next tick.
func (b *bundle) event(tenant, typ string) *hookline.Event {
	now := b.tick()
	id := hookline.NewID(hookline.EventPrefix, now)
	return &hookline.Event{
		ID:        id,
		Tenant:    tenant,
		Type:      typ,
		Data:      json.RawMessage(fmt.Sprintf(`{"event":%q,"amount":4200,"note":"caf\u00e9 \"quoted\""}`, id)),
		CreatedAt: now,
	}
}

// keyed sets an idempotency key and request hash on ev and returns it.
func keyed(ev *hookline.Event, key, hash string) *hookline.Event {
	ev.IdempotencyKey, ev.RequestHash = key, hash
	return ev
}

// ingest ingests events as one request at the current time and fails the
// test on any error.
func (b *bundle) ingest(t *testing.T, claim bool, events ...*hookline.Event) *hookline.IngestRequest {
	t.Helper()
	r := &hookline.IngestRequest{Events: events, Claim: claim}
	if err := b.s.Ingest(b.ctx, []*hookline.IngestRequest{r}, b.now); err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	if r.Err != nil {
		t.Fatalf("Ingest: request error: %v", r.Err)
	}
	if len(r.Results) != len(events) {
		t.Fatalf("Ingest: %d results for %d events", len(r.Results), len(events))
	}
	return r
}

// send ingests one new event of tenant and type, unclaimed, and returns it
// with its request.
func (b *bundle) send(t *testing.T, tenant, typ string) (*hookline.Event, *hookline.IngestRequest) {
	t.Helper()
	ev := b.event(tenant, typ)
	return ev, b.ingest(t, false, ev)
}

// deliveries returns every delivery that f selects, reading all pages.
func (b *bundle) deliveries(t *testing.T, f hookline.DeliveryFilter) []*hookline.Delivery {
	t.Helper()
	f.Limit = hookline.MaxLimit
	var all []*hookline.Delivery
	for {
		ds, next, err := b.s.FindDeliveries(b.ctx, f)
		if err != nil {
			t.Fatalf("FindDeliveries(%+v): %v", f, err)
		}
		all = append(all, ds...)
		if next == "" {
			return all
		}
		f.Cursor = next
	}
}

// delivery returns one delivery.
func (b *bundle) delivery(t *testing.T, id string) *hookline.Delivery {
	t.Helper()
	d, err := b.s.FindDelivery(b.ctx, id)
	if err != nil {
		t.Fatalf("FindDelivery(%s): %v", id, err)
	}
	return d
}

// claim claims every delivery due at now, in all partitions.
func (b *bundle) claim(t *testing.T, now time.Time) []*hookline.Task {
	t.Helper()
	tasks, err := claimAll(b.ctx, b.s, nil, now, hookline.MaxLimit)
	if err != nil {
		t.Fatal(err)
	}
	return tasks
}

// claimAll claims, for every endpoint of the partitions (nil: all) that
// DueEndpoints names, up to limit deliveries due at now, as a dispatcher
// does.
func claimAll(ctx context.Context, s hookline.Store, partitions []int, now time.Time, limit int) ([]*hookline.Task, error) {
	due, err := s.DueEndpoints(ctx, partitions)
	if err != nil {
		return nil, fmt.Errorf("DueEndpoints: %w", err)
	}
	reqs := make([]hookline.ClaimRequest, len(due))
	for i, d := range due {
		reqs[i] = hookline.ClaimRequest{EndpointID: d.EndpointID, Limit: limit}
	}
	res, err := s.ClaimDue(ctx, reqs, now)
	if err != nil {
		return nil, fmt.Errorf("ClaimDue: %w", err)
	}
	if len(res) != len(reqs) {
		return nil, fmt.Errorf("ClaimDue: %d results for %d requests", len(res), len(reqs))
	}
	var tasks []*hookline.Task
	for i, r := range res {
		for _, task := range r.Tasks {
			if task.Endpoint == nil || task.Endpoint.ID != reqs[i].EndpointID {
				return nil, fmt.Errorf("ClaimDue: a task of request %d is not for endpoint %s", i, reqs[i].EndpointID)
			}
		}
		tasks = append(tasks, r.Tasks...)
	}
	return tasks, nil
}

// deleteEndpoint deletes an endpoint and purges its deliveries, as the
// engine does.
func (b *bundle) deleteEndpoint(t *testing.T, id string) {
	t.Helper()
	if _, err := b.s.DeleteEndpoint(b.ctx, id, b.tick()); err != nil {
		t.Fatalf("DeleteEndpoint: %v", err)
	}
	for {
		n, err := b.s.PurgeDeleted(b.ctx, nil, b.now.Add(time.Microsecond), 1000)
		if err != nil {
			t.Fatalf("PurgeDeleted: %v", err)
		}
		if n < 1000 {
			return
		}
	}
}

// record writes one outcome at the current time.
func (b *bundle) record(t *testing.T, o hookline.Outcome) {
	t.Helper()
	if err := b.s.RecordOutcomes(b.ctx, []hookline.Outcome{o}, b.now); err != nil {
		t.Fatalf("RecordOutcomes: %v", err)
	}
}

// settle records the next attempt of a delivery (numbered past its count,
// as the engine numbers them: outcomes are written only forward) ending in
// status (delivered or failed) at the current time.
func (b *bundle) settle(t *testing.T, deliveryID string, status hookline.DeliveryStatus) {
	t.Helper()
	o := hookline.Outcome{Status: status, Attempt: hookline.Attempt{
		DeliveryID: deliveryID, Attempt: b.delivery(t, deliveryID).Attempts + 1, StartedAt: b.now,
		Duration: 3 * time.Millisecond, StatusCode: 200,
	}}
	if status == hookline.StatusFailed {
		o.Attempt.StatusCode, o.Attempt.Error = 500, "HTTP 500"
	}
	b.record(t, o)
}

// stats returns the store's counts.
func (b *bundle) stats(t *testing.T) hookline.StoreStats {
	t.Helper()
	st, err := b.s.Stats(b.ctx)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return st
}

// wantStats checks the store's counts, and PendingCount against them. A
// want without circuit counts has every endpoint closed.
func (b *bundle) wantStats(t *testing.T, want hookline.StoreStats) {
	t.Helper()
	if want.EndpointsByCircuit == (hookline.CircuitCounts{}) {
		want.EndpointsByCircuit.Closed = want.Endpoints
	}
	if got := b.stats(t); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
	n, err := b.s.PendingCount(b.ctx)
	if err != nil {
		t.Fatalf("PendingCount: %v", err)
	}
	if n != want.Pending {
		t.Errorf("PendingCount = %d, want %d", n, want.Pending)
	}
}

// wantCode checks that err carries the error code.
func wantCode(t *testing.T, err error, code, what string) {
	t.Helper()
	if got := hookline.ErrorCode(err); got != code {
		t.Errorf("%s: error %v has code %q, want %q", what, err, got, code)
	}
}

// wantNotFound checks that err is ENOTFOUND.
func wantNotFound(t *testing.T, err error, what string) {
	t.Helper()
	wantCode(t, err, hookline.ENOTFOUND, what)
}

// equal checks that got == want.
func equal[T comparable](t *testing.T, got, want T, what string) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// sameTime checks two times for the same instant.
func sameTime(t *testing.T, got, want time.Time, what string) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// timePtr checks an optional time: nil when want is zero.
func timePtr(t *testing.T, got *time.Time, want time.Time, what string) {
	t.Helper()
	switch {
	case want.IsZero() && got != nil:
		t.Errorf("%s = %v, want nil", what, *got)
	case !want.IsZero() && got == nil:
		t.Errorf("%s = nil, want %v", what, want)
	case got != nil && !got.Equal(want):
		t.Errorf("%s = %v, want %v", what, *got, want)
	}
}

// sameIDs checks that got and want hold the same IDs, in any order.
func sameIDs(t *testing.T, got, want []string, what string) {
	t.Helper()
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("%s = %v, want %v", what, g, w)
	}
}

// taskIDs returns the delivery IDs of tasks.
func taskIDs(tasks []*hookline.Task) []string {
	ids := make([]string, len(tasks))
	for i, task := range tasks {
		ids[i] = task.DeliveryID
	}
	return ids
}

// taskEndpoints returns the endpoint IDs of tasks.
func taskEndpoints(tasks []*hookline.Task) []string {
	ids := make([]string, len(tasks))
	for i, task := range tasks {
		ids[i] = task.Endpoint.ID
	}
	return ids
}

// deliveryIDs returns the IDs of ds.
func deliveryIDs(ds []*hookline.Delivery) []string {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}

// endpointIDs returns the IDs of endpoints.
func endpointIDs(eps ...*hookline.Endpoint) []string {
	ids := make([]string, len(eps))
	for i, ep := range eps {
		ids[i] = ep.ID
	}
	return ids
}

// wantEndpoint compares every field of an endpoint, secret included. Nil and
// empty EventTypes are the same.
func wantEndpoint(t *testing.T, got, want *hookline.Endpoint) {
	t.Helper()
	if got == nil {
		t.Fatalf("endpoint %s: got nil", want.ID)
	}
	equal(t, got.ID, want.ID, "endpoint ID")
	equal(t, got.Tenant, want.Tenant, "endpoint Tenant")
	equal(t, got.URL, want.URL, "endpoint URL")
	equal(t, got.Description, want.Description, "endpoint Description")
	if !slices.Equal(got.EventTypes, want.EventTypes) {
		t.Errorf("endpoint EventTypes = %q, want %q", got.EventTypes, want.EventTypes)
	}
	equal(t, got.Secret, want.Secret, "endpoint Secret")
	equal(t, got.PreviousSecret, want.PreviousSecret, "endpoint PreviousSecret")
	sameTime(t, got.PreviousSecretExpiresAt, want.PreviousSecretExpiresAt, "endpoint PreviousSecretExpiresAt")
	equal(t, got.Disabled, want.Disabled, "endpoint Disabled")
	equal(t, got.DisabledReason, want.DisabledReason, "endpoint DisabledReason")
	equal(t, got.RateLimit, want.RateLimit, "endpoint RateLimit")
	equal(t, got.MaxInFlight, want.MaxInFlight, "endpoint MaxInFlight")
	equal(t, string(got.Filter), string(want.Filter), "endpoint Filter")
	if !maps.Equal(got.Headers, want.Headers) || (got.Headers == nil) != (want.Headers == nil) {
		t.Errorf("endpoint Headers = %q, want %q", got.Headers, want.Headers)
	}
	equal(t, got.Timeout, want.Timeout, "endpoint Timeout")
	if !slices.Equal(got.RetrySchedule, want.RetrySchedule) {
		t.Errorf("endpoint RetrySchedule = %v, want %v", got.RetrySchedule, want.RetrySchedule)
	}
	if (got.Auth == nil) != (want.Auth == nil) || got.Auth != nil && *got.Auth != *want.Auth {
		t.Errorf("endpoint Auth = %+v, want %+v", got.Auth, want.Auth)
	}
	sameTime(t, got.CreatedAt, want.CreatedAt, "endpoint CreatedAt")
	sameTime(t, got.UpdatedAt, want.UpdatedAt, "endpoint UpdatedAt")
	equal(t, got.Version, want.Version, "endpoint Version")
	equal(t, got.Deleted, want.Deleted, "endpoint Deleted")
}

// wantTask checks a task of a fresh delivery of ev to ep.
func wantTask(t *testing.T, task *hookline.Task, ev *hookline.Event, ep *hookline.Endpoint) {
	t.Helper()
	if !strings.HasPrefix(task.DeliveryID, hookline.DeliveryPrefix) {
		t.Errorf("task DeliveryID %q lacks the prefix %q", task.DeliveryID, hookline.DeliveryPrefix)
	}
	equal(t, task.EventID, ev.ID, "task EventID")
	if task.Endpoint == nil {
		t.Fatalf("task %s has no endpoint", task.DeliveryID)
	}
	equal(t, task.Endpoint.ID, ep.ID, "task Endpoint.ID")
	equal(t, task.Endpoint.URL, ep.URL, "task Endpoint.URL")
	equal(t, task.Endpoint.Secret, ep.Secret, "task Endpoint.Secret")
	equal(t, task.Endpoint.PreviousSecret, ep.PreviousSecret, "task Endpoint.PreviousSecret")
	if !bytes.Equal(task.Payload, ev.Payload()) {
		t.Errorf("task Payload = %s, want %s", task.Payload, ev.Payload())
	}
	sameTime(t, task.EventCreatedAt, ev.CreatedAt, "task EventCreatedAt")
	equal(t, task.Partition, hookline.PartitionOf(ep.ID), "task Partition")
}

// zeroTime is the zero time, wanted of an optional time that should be nil.
var zeroTime time.Time

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }
