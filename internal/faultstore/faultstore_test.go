package faultstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/internal/faultstore"
	"github.com/hookline/hookline/sqlite"
)

func open(t *testing.T) (*faultstore.Store, *hookline.Endpoint) {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "hookline.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := hookline.Now()
	ep := &hookline.Endpoint{ID: hookline.NewID(hookline.EndpointPrefix, now), URL: "https://example.com/hook",
		Secret: "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateEndpoint(context.Background(), ep); err != nil {
		t.Fatal(err)
	}
	return faultstore.New(s), ep
}

func ingest(t *testing.T, s hookline.Store, claim bool) (*hookline.IngestRequest, error) {
	t.Helper()
	now := hookline.Now()
	r := &hookline.IngestRequest{Claim: claim, Events: []*hookline.Event{{
		ID: hookline.NewID(hookline.EventPrefix, now), Type: "x", CreatedAt: now}}}
	return r, s.Ingest(context.Background(), []*hookline.IngestRequest{r}, now)
}

func claim(t *testing.T, s hookline.Store, ep *hookline.Endpoint) ([]*hookline.Task, error) {
	t.Helper()
	res, err := s.ClaimDue(context.Background(), []hookline.ClaimRequest{{EndpointID: ep.ID, Limit: 10}}, hookline.Now())
	if err != nil {
		return nil, err
	}
	return res[0].Tasks, nil
}

// TestFail checks that a failed call does not run, for as many calls as
// asked, and that the calls after it pass through.
func TestFail(t *testing.T) {
	s, ep := open(t)
	s.Fail(faultstore.Ingest, 1)
	r, err := ingest(t, s, false)
	if !errors.Is(err, faultstore.Err) || hookline.ErrorCode(err) != hookline.EUNAVAILABLE {
		t.Fatalf("Ingest with a fault = %v, want faultstore.Err", err)
	}
	if r.Results != nil || r.Tasks != nil {
		t.Error("a failed Ingest left results")
	}
	if st, _ := s.Stats(context.Background()); st.Events != 0 {
		t.Fatalf("a failed Ingest wrote %d events", st.Events)
	}
	if _, err := ingest(t, s, false); err != nil {
		t.Fatalf("Ingest after the fault: %v", err)
	}
	if got := s.Calls(faultstore.Ingest); got != 2 {
		t.Errorf("Calls = %d, want 2", got)
	}
	if got := s.Faults(faultstore.Ingest); got != 1 {
		t.Errorf("Faults = %d, want 1", got)
	}

	s.Fail(faultstore.ClaimDue, -1)
	for range 3 {
		if _, err := claim(t, s, ep); !errors.Is(err, faultstore.Err) {
			t.Fatalf("ClaimDue until Heal = %v", err)
		}
	}
	s.Heal(faultstore.ClaimDue)
	if tasks, err := claim(t, s, ep); err != nil || len(tasks) != 1 {
		t.Fatalf("ClaimDue after Heal = %d tasks, %v", len(tasks), err)
	}
}

// TestLoseReply checks that a call whose reply is lost runs: what it wrote
// is there, and the caller gets an error.
func TestLoseReply(t *testing.T) {
	s, ep := open(t)
	if _, err := ingest(t, s, false); err != nil {
		t.Fatal(err)
	}
	s.LoseReply(faultstore.ClaimDue, 1)
	if tasks, err := claim(t, s, ep); !errors.Is(err, faultstore.Err) || tasks != nil {
		t.Fatalf("ClaimDue with a lost reply = %v, %v", tasks, err)
	}
	// The claim was made: nothing is left to claim.
	if tasks, err := claim(t, s, ep); err != nil || len(tasks) != 0 {
		t.Fatalf("ClaimDue after a lost reply = %d tasks, %v; want none (claimed)", len(tasks), err)
	}

	s.LoseReply(faultstore.Ingest, 1)
	if _, err := ingest(t, s, true); !errors.Is(err, faultstore.Err) {
		t.Fatalf("Ingest with a lost reply = %v", err)
	}
	if st, _ := s.Stats(context.Background()); st.Events != 2 {
		t.Fatalf("events after a lost Ingest reply = %d, want 2 (it committed)", st.Events)
	}
}

// TestRescueFaults: FindStaleClaims fails without reading; RescueClaims
// with a lost reply frees the claim and says it failed.
func TestRescueFaults(t *testing.T) {
	s, ep := open(t)
	if _, err := ingest(t, s, true); err != nil {
		t.Fatal(err)
	}
	later := hookline.Now().Add(time.Minute)
	s.Fail(faultstore.FindStaleClaims, 1)
	if _, err := s.FindStaleClaims(context.Background(), hookline.StaleClaimFilter{Before: later}); !errors.Is(err, faultstore.Err) {
		t.Fatalf("FindStaleClaims with a fault: %v", err)
	}
	ids, err := s.FindStaleClaims(context.Background(), hookline.StaleClaimFilter{Before: later})
	if err != nil || len(ids) != 1 {
		t.Fatalf("FindStaleClaims = %v, %v; want the one claim", ids, err)
	}
	s.LoseReply(faultstore.RescueClaims, 1)
	if _, err := s.RescueClaims(context.Background(), ids, later); !errors.Is(err, faultstore.Err) {
		t.Fatalf("RescueClaims with a lost reply: %v", err)
	}
	if tasks, err := claim(t, s, ep); err != nil || len(tasks) != 1 {
		t.Fatalf("ClaimDue after a rescue whose reply was lost = %d tasks, %v; want the one freed", len(tasks), err)
	}
	if s.Faults(faultstore.FindStaleClaims) != 1 || s.Faults(faultstore.RescueClaims) != 1 {
		t.Errorf("faults: FindStaleClaims %d, RescueClaims %d; want 1 each",
			s.Faults(faultstore.FindStaleClaims), s.Faults(faultstore.RescueClaims))
	}
}
