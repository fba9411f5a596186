package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

// TestInheritedClaims: the holder and time of a claim live in the store's
// memory, so a claim an earlier run left in the file (it stopped without
// unclaiming) is read back when the rescuer first asks, and counts as made
// before any time; the store cannot Unclaim it (it is not its own), but
// RescueClaims frees it.
func TestInheritedClaims(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hookline.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	now := hookline.Now()
	ep := &hookline.Endpoint{ID: hookline.NewID(hookline.EndpointPrefix, now), Tenant: "acme", URL: "https://x.example/",
		Secret: "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	ev := &hookline.Event{ID: hookline.NewID(hookline.EventPrefix, now), Tenant: "acme", Type: "a", CreatedAt: now}
	r := &hookline.IngestRequest{Events: []*hookline.Event{ev}, Claim: true}
	if err := s.Ingest(ctx, []*hookline.IngestRequest{r}, now); err != nil {
		t.Fatal(err)
	}
	id := r.Tasks[0].DeliveryID
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	long := now.Add(-24 * time.Hour) // before the claim was made, by any clock
	ids, err := s.FindStaleClaims(ctx, hookline.StaleClaimFilter{Before: long})
	if err != nil || len(ids) != 1 || ids[0] != id {
		t.Fatalf("FindStaleClaims after a restart = %v, %v; want the claim the earlier run left", ids, err)
	}
	if err := s.Unclaim(ctx, ids); err != nil {
		t.Fatal(err)
	}
	claim := func() int {
		t.Helper()
		res, err := s.ClaimDue(ctx, []hookline.ClaimRequest{{EndpointID: ep.ID, Limit: 10}}, hookline.Now())
		if err != nil {
			t.Fatal(err)
		}
		return len(res[0].Tasks)
	}
	if n := claim(); n != 0 {
		t.Fatalf("Unclaim freed a claim the store did not make: ClaimDue = %d tasks", n)
	}
	if n, err := s.RescueClaims(ctx, ids, long); err != nil || n != 1 {
		t.Fatalf("RescueClaims of the inherited claim = %d, %v; want 1", n, err)
	}
	if n := claim(); n != 1 {
		t.Fatalf("ClaimDue after the rescue = %d tasks, want 1", n)
	}
}
