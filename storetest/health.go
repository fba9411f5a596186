package storetest

import (
	"testing"
	"time"

	"github.com/hookline/hookline"
)

var healthTests = []test{
	{"SaveFind", testHealthSaveFind},
	{"Missing", testHealthMissing},
	{"Load", testHealthLoad},
	{"Replace", testHealthReplace},
	{"Stats", testHealthStats},
	{"DeleteEndpoint", testHealthDeleteEndpoint},
	{"Reenable", testHealthReenable},
	{"EndpointCounts", testHealthEndpointCounts},
}

// openHealth returns the health of an open circuit of ep, failing since an
// hour before now.
func (b *bundle) openHealth(ep *hookline.Endpoint) hookline.EndpointHealth {
	since, success, paused := b.now.Add(-time.Hour), b.now.Add(-2*time.Hour), b.now.Add(time.Minute)
	return hookline.EndpointHealth{
		EndpointID: ep.ID, Circuit: hookline.CircuitOpen, ConsecutiveFailures: 12,
		FailingSince: &since, LastSuccessAt: &success, PausedUntil: &paused,
		OpenedAt: b.now.Add(-30 * time.Second), Cooldown: 60 * time.Second, UpdatedAt: b.now,
	}
}

func (b *bundle) saveHealth(t *testing.T, hs ...hookline.EndpointHealth) {
	t.Helper()
	if err := b.s.SaveHealth(b.ctx, hs); err != nil {
		t.Fatalf("SaveHealth: %v", err)
	}
}

func (b *bundle) findHealth(t *testing.T, id string) hookline.EndpointHealth {
	t.Helper()
	h, err := b.s.FindHealth(b.ctx, id)
	if err != nil {
		t.Fatalf("FindHealth(%s): %v", id, err)
	}
	return h
}

func wantHealth(t *testing.T, got, want hookline.EndpointHealth) {
	t.Helper()
	equal(t, got.EndpointID, want.EndpointID, "health EndpointID")
	equal(t, got.Circuit, want.Circuit, "health Circuit")
	equal(t, got.ConsecutiveFailures, want.ConsecutiveFailures, "health ConsecutiveFailures")
	optTime := func(p *time.Time) time.Time {
		if p == nil {
			return time.Time{}
		}
		return *p
	}
	timePtr(t, got.FailingSince, optTime(want.FailingSince), "health FailingSince")
	timePtr(t, got.LastSuccessAt, optTime(want.LastSuccessAt), "health LastSuccessAt")
	timePtr(t, got.PausedUntil, optTime(want.PausedUntil), "health PausedUntil")
	sameTime(t, got.OpenedAt, want.OpenedAt, "health OpenedAt")
	equal(t, got.Cooldown, want.Cooldown, "health Cooldown")
	sameTime(t, got.UpdatedAt, want.UpdatedAt, "health UpdatedAt")
}

func testHealthSaveFind(t *testing.T, b *bundle) {
	ep := b.endpoint(t, "acme")
	other := b.endpoint(t, "acme")
	h := b.openHealth(ep)
	b.saveHealth(t, h)
	wantHealth(t, b.findHealth(t, ep.ID), h)
	// An endpoint without saved health reads as the zero value.
	wantHealth(t, b.findHealth(t, other.ID), hookline.EndpointHealth{EndpointID: other.ID})
	if err := b.s.SaveHealth(b.ctx, nil); err != nil {
		t.Errorf("SaveHealth(nil): %v", err)
	}
}

func testHealthMissing(t *testing.T, b *bundle) {
	id := hookline.NewID(hookline.EndpointPrefix, b.now)
	_, err := b.s.FindHealth(b.ctx, id)
	wantNotFound(t, err, "FindHealth of a missing endpoint")
	// Saving the health of a missing endpoint is dropped, with the rest kept.
	ep := b.endpoint(t, "acme")
	h := b.openHealth(ep)
	b.saveHealth(t, hookline.EndpointHealth{EndpointID: id, Circuit: hookline.CircuitOpen, UpdatedAt: b.now}, h)
	wantHealth(t, b.findHealth(t, ep.ID), h)
	all, err := b.s.LoadHealth(b.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, len(all), 1, "saved healths")
}

func testHealthLoad(t *testing.T, b *bundle) {
	p, q := b.partitionedEndpoints(t)
	hp, hq := b.openHealth(p), b.openHealth(q)
	hq.Circuit, hq.PausedUntil = hookline.CircuitHalfOpen, nil
	b.saveHealth(t, hp, hq)
	load := func(parts []int) map[string]hookline.EndpointHealth {
		t.Helper()
		hs, err := b.s.LoadHealth(b.ctx, parts)
		if err != nil {
			t.Fatalf("LoadHealth(%v): %v", parts, err)
		}
		m := map[string]hookline.EndpointHealth{}
		for _, h := range hs {
			m[h.EndpointID] = h
		}
		return m
	}
	all := load(nil)
	equal(t, len(all), 2, "LoadHealth(nil)")
	wantHealth(t, all[p.ID], hp)
	wantHealth(t, all[q.ID], hq)
	onlyQ := load([]int{q.Partition()})
	if len(onlyQ) != 1 {
		t.Errorf("LoadHealth of q's partition = %d, want 1", len(onlyQ))
	}
	wantHealth(t, onlyQ[q.ID], hq)
	equal(t, len(load([]int{})), 0, "LoadHealth of no partition")
}

func testHealthReplace(t *testing.T, b *bundle) {
	ep := b.endpoint(t, "acme")
	b.saveHealth(t, b.openHealth(ep))
	now := b.tick()
	closed := hookline.EndpointHealth{EndpointID: ep.ID, Circuit: hookline.CircuitClosed, LastSuccessAt: &now, UpdatedAt: now}
	b.saveHealth(t, closed)
	wantHealth(t, b.findHealth(t, ep.ID), closed)
}

func testHealthStats(t *testing.T, b *bundle) {
	a := b.endpoint(t, "acme")
	c := b.endpoint(t, "acme")
	b.endpoint(t, "acme")
	b.disabledEndpoint(t, "acme")
	half := b.openHealth(c)
	half.Circuit = hookline.CircuitHalfOpen
	b.saveHealth(t, b.openHealth(a), half)
	b.wantStats(t, hookline.StoreStats{Endpoints: 4, EndpointsDisabled: 1,
		EndpointsByCircuit: hookline.CircuitCounts{Closed: 2, Open: 1, HalfOpen: 1}})
	now := b.tick()
	b.saveHealth(t, hookline.EndpointHealth{EndpointID: a.ID, Circuit: hookline.CircuitClosed, LastSuccessAt: &now, UpdatedAt: now})
	b.wantStats(t, hookline.StoreStats{Endpoints: 4, EndpointsDisabled: 1,
		EndpointsByCircuit: hookline.CircuitCounts{Closed: 3, HalfOpen: 1}})
	if _, err := b.s.UpdateEndpoint(b.ctx, a.ID, hookline.EndpointUpdate{Disabled: ptr(true), DisabledReason: ptr(hookline.DisabledManual)}, b.tick()); err != nil {
		t.Fatal(err)
	}
	b.wantStats(t, hookline.StoreStats{Endpoints: 4, EndpointsDisabled: 2,
		EndpointsByCircuit: hookline.CircuitCounts{Closed: 3, HalfOpen: 1}})
}

func testHealthDeleteEndpoint(t *testing.T, b *bundle) {
	ep := b.endpoint(t, "acme")
	b.endpoint(t, "acme")
	b.saveHealth(t, b.openHealth(ep))
	if _, err := b.s.DeleteEndpoint(b.ctx, ep.ID, b.tick()); err != nil {
		t.Fatal(err)
	}
	hs, err := b.s.LoadHealth(b.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, len(hs), 0, "healths after DeleteEndpoint")
	b.wantStats(t, hookline.StoreStats{Endpoints: 1})
}

// testHealthReenable checks that enabling a disabled endpoint clears its
// reason and resets its health, and that disabling keeps the reason given.
func testHealthReenable(t *testing.T, b *bundle) {
	ep := b.endpoint(t, "acme")
	b.saveHealth(t, b.openHealth(ep))
	got, err := b.s.UpdateEndpoint(b.ctx, ep.ID, hookline.EndpointUpdate{Disabled: ptr(true), DisabledReason: ptr(hookline.DisabledFailing)}, b.tick())
	if err != nil {
		t.Fatal(err)
	}
	equal(t, got.DisabledReason, hookline.DisabledFailing, "DisabledReason")
	// Another change keeps the reason; the health stays.
	got, err = b.s.UpdateEndpoint(b.ctx, ep.ID, hookline.EndpointUpdate{Description: ptr("still off")}, b.tick())
	if err != nil {
		t.Fatal(err)
	}
	equal(t, got.DisabledReason, hookline.DisabledFailing, "DisabledReason after another change")
	equal(t, b.findHealth(t, ep.ID).Circuit, hookline.CircuitOpen, "Circuit while disabled")
	got, err = b.s.UpdateEndpoint(b.ctx, ep.ID, hookline.EndpointUpdate{Disabled: ptr(false), DisabledReason: ptr(hookline.DisabledManual)}, b.tick())
	if err != nil {
		t.Fatal(err)
	}
	equal(t, got.Disabled, false, "Disabled")
	equal(t, got.DisabledReason, "", "DisabledReason once enabled")
	wantHealth(t, b.findHealth(t, ep.ID), hookline.EndpointHealth{EndpointID: ep.ID})
	b.wantStats(t, hookline.StoreStats{Endpoints: 1})
	found, err := b.s.FindEndpoint(b.ctx, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEndpoint(t, found, got)
}

// testHealthEndpointCounts follows one endpoint's pending and failed counts
// through ingest, outcomes, retry, recover, replay and pruning.
func testHealthEndpointCounts(t *testing.T, b *bundle) {
	ep := b.endpoint(t, "acme")
	other := b.endpoint(t, "other")
	counts := func(id string) hookline.EndpointCounts {
		t.Helper()
		c, err := b.s.EndpointCounts(b.ctx, id)
		if err != nil {
			t.Fatalf("EndpointCounts(%s): %v", id, err)
		}
		return c
	}
	want := func(p, f int64, what string) {
		t.Helper()
		if got := counts(ep.ID); got != (hookline.EndpointCounts{Pending: p, Failed: f}) {
			t.Errorf("%s: EndpointCounts = %+v, want pending %d failed %d", what, got, p, f)
		}
	}
	want(0, 0, "new endpoint")
	_, err := b.s.EndpointCounts(b.ctx, hookline.NewID(hookline.EndpointPrefix, b.now))
	wantNotFound(t, err, "EndpointCounts of a missing endpoint")

	var ids []string
	for range 4 {
		_, r := b.send(t, "acme", "invoice.paid")
		ids = append(ids, taskIDs(r.Tasks)...)
	}
	b.send(t, "other", "invoice.paid")
	want(4, 0, "after ingest")
	equal(t, counts(other.ID).Pending, int64(1), "the other endpoint's pending")
	b.claim(t, b.tick())
	b.settle(t, ids[0], hookline.StatusDelivered)
	b.settle(t, ids[1], hookline.StatusFailed)
	b.settle(t, ids[2], hookline.StatusFailed)
	want(1, 2, "after outcomes")
	if _, err := b.s.RetryDelivery(b.ctx, ids[1], b.tick()); err != nil {
		t.Fatal(err)
	}
	want(2, 1, "after a retry")
	if _, err := b.s.RetryDelivery(b.ctx, ids[0], b.tick()); err != nil {
		t.Fatal(err)
	}
	want(3, 1, "after a retry of a delivered one")
	if n, err := b.s.RecoverEndpoint(b.ctx, ep.ID, time.Time{}, b.tick()); err != nil || n != 1 {
		t.Fatalf("RecoverEndpoint = %d, %v", n, err)
	}
	want(4, 0, "after recover")
	if err := b.s.Unclaim(b.ctx, ids[3:]); err != nil {
		t.Fatal(err)
	}
	for _, task := range b.claim(t, b.tick()) {
		b.settle(t, task.DeliveryID, hookline.StatusFailed)
	}
	want(0, 4, "after failing everything")
	ev := b.event("acme", "x")
	b.ingest(t, false, ev)
	if _, err := b.s.ReplayEvent(b.ctx, ev.ID, false, b.tick()); err != nil {
		t.Fatal(err)
	}
	want(2, 4, "after ingest and replay")
	for _, task := range b.claim(t, b.tick()) {
		b.settle(t, task.DeliveryID, hookline.StatusDelivered)
	}
	want(0, 4, "after delivering them")
	if _, err := b.s.Prune(b.ctx, b.advance(time.Hour), 1000); err != nil {
		t.Fatal(err)
	}
	want(0, 0, "after pruning every event")
	b.deleteEndpoint(t, other.ID)
}
