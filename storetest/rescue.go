package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

// The claims a rescuer frees (ARCHITECTURE.md promise 8): a claim names
// since when it is held, so that one nothing in memory holds any more (a
// failed Unclaim, a lost reply of a claim) can be found and freed, while a
// delivery claimed again since keeps its new claim.
var rescueTests = []test{
	{"AfterFailedUnclaim", testRescueAfterFailedUnclaim},
	{"KeepsNewerClaim", testRescueKeepsNewerClaim},
	{"Filter", testRescueFilter},
}

// staleClaims returns the IDs FindStaleClaims gives for f.
func (b *bundle) staleClaims(t *testing.T, f hookline.StaleClaimFilter) []string {
	t.Helper()
	ids, err := b.s.FindStaleClaims(b.ctx, f)
	if err != nil {
		t.Fatalf("FindStaleClaims(%+v): %v", f, err)
	}
	return ids
}

// rescue calls RescueClaims and checks how many it says it freed.
func (b *bundle) rescue(t *testing.T, ids []string, before time.Time, want int) {
	t.Helper()
	n, err := b.s.RescueClaims(b.ctx, ids, before)
	if err != nil {
		t.Fatalf("RescueClaims: %v", err)
	}
	if n != want {
		t.Errorf("RescueClaims(%v, %s) freed %d, want %d", ids, before.Format(time.StampMicro), n, want)
	}
}

// testRescueAfterFailedUnclaim: a delivery claimed by ingest whose Unclaim
// never happened (it failed) is claimed and held by nothing: ClaimDue does
// not return it. It is found stale once its claim is older than the bound,
// not before, and once rescued ClaimDue pages it in again.
func testRescueAfterFailedUnclaim(t *testing.T, b *bundle) {
	id := b.oneDelivery(t) // claimed at b.now; the Unclaim that should follow failed
	claimedAt := b.now
	sameIDs(t, taskIDs(b.claim(t, b.tick())), nil, "ClaimDue of a claimed delivery")

	sameIDs(t, b.staleClaims(t, hookline.StaleClaimFilter{Before: claimedAt}), nil, "stale claims before the claim")
	b.rescue(t, []string{id}, claimedAt, 0)
	sameIDs(t, taskIDs(b.claim(t, b.tick())), nil, "ClaimDue after a rescue of nothing")

	bound := claimedAt.Add(time.Millisecond)
	stale := b.staleClaims(t, hookline.StaleClaimFilter{Before: bound})
	sameIDs(t, stale, []string{id}, "stale claims after the bound")
	b.rescue(t, stale, bound, 1)
	sameIDs(t, b.staleClaims(t, hookline.StaleClaimFilter{Before: bound}), nil, "stale claims after the rescue")
	sameIDs(t, taskIDs(b.claim(t, b.tick())), []string{id}, "ClaimDue after the rescue")
	b.wantStats(t, hookline.StoreStats{Pending: 1, Events: 1, Endpoints: 1})

	// The outcome of the attempt made from the new claim is written.
	b.recordDropped(t, deliveredOutcome(id, 1, b.tick()), "")
	b.wantDelivery(t, id, hookline.StatusDelivered, 1, 200)
	sameIDs(t, b.staleClaims(t, hookline.StaleClaimFilter{Before: b.advance(time.Hour)}), nil, "stale claims of a settled delivery")
}

// testRescueKeepsNewerClaim: the rescuer found a claim stale, and the
// delivery was rescued and claimed again before it acted on its list (by
// another node's rescuer, or its own earlier round): the new claim stays.
func testRescueKeepsNewerClaim(t *testing.T, b *bundle) {
	id := b.oneDelivery(t)
	bound := b.tick()
	stale := b.staleClaims(t, hookline.StaleClaimFilter{Before: bound})
	sameIDs(t, stale, []string{id}, "stale claims")
	b.rescue(t, stale, bound, 1)
	sameIDs(t, taskIDs(b.claim(t, b.tick())), []string{id}, "ClaimDue after the rescue")
	b.rescue(t, stale, bound, 0) // the second rescuer, late
	sameIDs(t, taskIDs(b.claim(t, b.tick())), nil, "ClaimDue while the new claim is held")
	sameIDs(t, b.staleClaims(t, hookline.StaleClaimFilter{Before: bound}), nil, "stale claims before the new claim")
}

// testRescueFilter: FindStaleClaims keeps to its partitions, pages by ID,
// and skips settled and unclaimed deliveries.
func testRescueFilter(t *testing.T, b *bundle) {
	p, _ := b.partitionedEndpoints(t)
	var ids []string
	for range 3 {
		_, r := b.ingestClaimed(t)
		for _, task := range r.Tasks {
			ids = append(ids, task.DeliveryID)
		}
	}
	b.send(t, "acme", "invoice.paid") // unclaimed: never stale
	slices.Sort(ids)
	if len(ids) != 6 {
		t.Fatalf("%d deliveries claimed, want 6 (3 events to 2 endpoints)", len(ids))
	}
	bound := b.tick()
	sameIDs(t, b.staleClaims(t, hookline.StaleClaimFilter{Before: bound}), ids, "every stale claim")
	sameIDs(t, b.staleClaims(t, hookline.StaleClaimFilter{Before: bound, Partitions: []int{}}), nil, "no partition")

	var ofP []string
	for _, d := range b.deliveries(t, hookline.DeliveryFilter{EndpointID: p.ID}) {
		if slices.Contains(ids, d.ID) {
			ofP = append(ofP, d.ID)
		}
	}
	slices.Sort(ofP)
	sameIDs(t, b.staleClaims(t, hookline.StaleClaimFilter{Before: bound, Partitions: []int{hookline.PartitionOf(p.ID)}}),
		ofP, "stale claims of p's partition")

	first := b.staleClaims(t, hookline.StaleClaimFilter{Before: bound, Limit: 4})
	sameIDs(t, first, ids[:4], "first page")
	sameIDs(t, b.staleClaims(t, hookline.StaleClaimFilter{Before: bound, Limit: 4, After: first[3]}), ids[4:], "second page")

	b.settle(t, ids[0], hookline.StatusDelivered)
	sameIDs(t, b.staleClaims(t, hookline.StaleClaimFilter{Before: bound}), ids[1:], "after one settled")
}
