package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

// rowCounts returns how many deliveries and fanouts rows the file has.
func rowCounts(t *testing.T, s *Store) (deliveries, fanouts int) {
	t.Helper()
	if err := s.wdb.QueryRow("SELECT (SELECT count(*) FROM deliveries), (SELECT count(*) FROM fanouts)").
		Scan(&deliveries, &fanouts); err != nil {
		t.Fatal(err)
	}
	return deliveries, fanouts
}

// heldStore opens a store at path with n endpoints of tenant acme.
func heldStore(t *testing.T, path string, n int) (*Store, []*hookline.Endpoint) {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	now := hookline.Now()
	var eps []*hookline.Endpoint
	for range n {
		ep := &hookline.Endpoint{ID: hookline.NewID(hookline.EndpointPrefix, now), Tenant: "acme",
			URL: "https://x.example/", Secret: "whsec_c2VjcmV0", CreatedAt: now, UpdatedAt: now}
		if err := s.CreateEndpoint(context.Background(), ep); err != nil {
			t.Fatal(err)
		}
		eps = append(eps, ep)
	}
	return s, eps
}

// reopen closes s and opens path again, and checks that the file then has
// the deliveries rows wanted and no fanouts row. Close writes no held
// delivery: the file is as a crash leaves it.
func reopen(t *testing.T, s *Store, path string, deliveries int) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if d, f := rowCounts(t, s); d != deliveries || f != 0 {
		s.Close()
		t.Fatalf("after reopening: %d deliveries rows and %d fanouts rows, want %d and 0", d, f, deliveries)
	}
	return s
}

// ingestOne ingests one event of acme, claimed (held) or not, and returns
// its tasks.
func ingestOne(t *testing.T, s *Store, claim bool, now time.Time) []*hookline.Task {
	t.Helper()
	r := &hookline.IngestRequest{Claim: claim, Events: []*hookline.Event{{ID: hookline.NewID(hookline.EventPrefix, now),
		Tenant: "acme", Type: "invoice.paid", Data: []byte(`{"n":1}`), CreatedAt: now, Priority: 7}}}
	if err := s.Ingest(context.Background(), []*hookline.IngestRequest{r}, now); err != nil {
		t.Fatal(err)
	}
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	return r.Tasks
}

// TestHeldIngestIsOneRow checks that an event whose deliveries all go to
// memory is written as its event row and one fanouts row, whatever its
// fan-out, and that a read of deliveries writes their rows first, as
// ingest would have (claimed, pending, due at ingest).
func TestHeldIngestIsOneRow(t *testing.T) {
	ctx := context.Background()
	s, eps := heldStore(t, filepath.Join(t.TempDir(), "hookline.db"), 50)
	defer s.Close()
	now := hookline.Now()
	tasks := ingestOne(t, s, true, now)
	if len(tasks) != len(eps) {
		t.Fatalf("%d tasks, want %d", len(tasks), len(eps))
	}
	if d, f := rowCounts(t, s); d != 0 || f != 1 {
		t.Fatalf("after a held ingest: %d deliveries rows and %d fanouts rows, want 0 and 1", d, f)
	}
	// Not held: written at ingest, as before.
	ingestOne(t, s, false, now)
	if d, f := rowCounts(t, s); d != len(eps) || f != 1 {
		t.Fatalf("after an unclaimed ingest: %d deliveries rows and %d fanouts rows, want %d and 1", d, f, len(eps))
	}

	got, err := s.FindDelivery(ctx, tasks[17].DeliveryID)
	if err != nil {
		t.Fatalf("FindDelivery of a held delivery: %v", err)
	}
	if got.Status != hookline.StatusPending || got.EndpointID != tasks[17].Endpoint.ID || got.EventID != tasks[17].EventID ||
		got.Priority != 7 || !got.NextAttemptAt.Equal(truncate(now)) {
		t.Errorf("held delivery read as %+v", got)
	}
	if d, f := rowCounts(t, s); d != 2*len(eps) || f != 0 {
		t.Errorf("after a read: %d deliveries rows and %d fanouts rows, want %d and 0", d, f, 2*len(eps))
	}
	var claimed int
	if err := s.wdb.QueryRow("SELECT count(*) FROM deliveries WHERE claimed = 1").Scan(&claimed); err != nil {
		t.Fatal(err)
	}
	if claimed != len(eps) {
		t.Errorf("%d deliveries rows claimed, want %d (the held ones)", claimed, len(eps))
	}
}

// TestHeldOutcomeWritesTheRow checks that an outcome of a held delivery
// writes its row and its attempt, and that the fanouts row goes with the
// last of the deliveries it lists.
func TestHeldOutcomeWritesTheRow(t *testing.T) {
	ctx := context.Background()
	s, _ := heldStore(t, filepath.Join(t.TempDir(), "hookline.db"), 3)
	defer s.Close()
	now := hookline.Now()
	tasks := ingestOne(t, s, true, now)
	outcome := func(task *hookline.Task) hookline.Outcome {
		return hookline.Outcome{Status: hookline.StatusDelivered, Attempt: hookline.Attempt{DeliveryID: task.DeliveryID,
			Attempt: 1, StartedAt: now, Duration: time.Millisecond, StatusCode: 200, ResponseBody: "ok"}}
	}
	if err := s.RecordOutcomes(ctx, []hookline.Outcome{outcome(tasks[0]), outcome(tasks[1])}, now); err != nil {
		t.Fatal(err)
	}
	if d, f := rowCounts(t, s); d != 2 || f != 1 {
		t.Fatalf("after 2 of 3 outcomes: %d deliveries rows and %d fanouts rows, want 2 and 1", d, f)
	}
	last := []hookline.Outcome{outcome(tasks[2])}
	if err := s.RecordOutcomes(ctx, last, now); err != nil {
		t.Fatal(err)
	}
	if last[0].Dropped != "" {
		t.Fatalf("outcome of a held delivery dropped: %s", last[0].Dropped)
	}
	if d, f := rowCounts(t, s); d != 3 || f != 0 {
		t.Fatalf("after 3 of 3 outcomes: %d deliveries rows and %d fanouts rows, want 3 and 0", d, f)
	}
	// The same batch again (as after a commit reported failed that had
	// succeeded) changes nothing.
	if err := s.RecordOutcomes(ctx, last, now); err != nil {
		t.Fatal(err)
	}
	d, err := s.FindDelivery(ctx, tasks[2].DeliveryID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != hookline.StatusDelivered || d.Attempts != 1 || d.LastStatusCode != 200 {
		t.Errorf("delivery after its outcome: %+v", d)
	}
	as, err := s.FindAttempts(ctx, tasks[2].DeliveryID)
	if err != nil || len(as) != 1 || as[0].ResponseBody != "ok" {
		t.Errorf("FindAttempts = %+v, %v; want one attempt", as, err)
	}
	if st, _ := s.Stats(ctx); st.Pending != 0 || st.Delivered != 3 {
		t.Errorf("Stats = %+v, want 3 delivered", st)
	}
}

// TestHeldRecoveredAfterCrash checks that the deliveries a store held when
// it stopped without writing them (as kill -9 would leave them) are in the
// file when it opens again, as ingest would have written them, next to the
// one whose outcome was written, and are claimed by nobody once the engine
// resets the claims.
func TestHeldRecoveredAfterCrash(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hookline.db")
	s, eps := heldStore(t, path, 3)
	now := hookline.Now()
	var tasks []*hookline.Task
	for range 2 {
		tasks = append(tasks, ingestOne(t, s, true, now)...)
	}
	if err := s.RecordOutcomes(ctx, []hookline.Outcome{{Status: hookline.StatusDelivered,
		Attempt: hookline.Attempt{DeliveryID: tasks[4].DeliveryID, Attempt: 1, StartedAt: now, StatusCode: 200}}}, now); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, path, 6)
	defer s.Close()
	if st, _ := s.Stats(ctx); st.Pending != 5 || st.Delivered != 1 || st.Events != 2 {
		t.Errorf("Stats after reopening = %+v, want 5 pending, 1 delivered, 2 events", st)
	}
	for i, task := range tasks {
		d, err := s.FindDelivery(ctx, task.DeliveryID)
		if err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
		want := hookline.StatusPending
		if i == 4 {
			want = hookline.StatusDelivered
		}
		if d.Status != want || d.EndpointID != task.Endpoint.ID || d.EventID != task.EventID {
			t.Errorf("delivery %d after reopening: %+v", i, d)
		}
	}
	if err := s.ResetClaims(ctx, nil); err != nil {
		t.Fatal(err)
	}
	var reqs []hookline.ClaimRequest
	for _, ep := range eps {
		reqs = append(reqs, hookline.ClaimRequest{EndpointID: ep.ID, Limit: 10})
	}
	res, err := s.ClaimDue(ctx, reqs, now.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range res {
		n += len(r.Tasks)
	}
	if n != 5 {
		t.Errorf("ClaimDue after ResetClaims = %d tasks, want 5", n)
	}
}

// TestFanoutBody checks that a fanouts row's body decodes to the
// deliveries encoded, across ID steps of more than one.
func TestFanoutBody(t *testing.T) {
	first := hookline.NewID(hookline.DeliveryPrefix, hookline.Now())
	ids := []string{first}
	for range 40 {
		ids = append(ids, nextID(ids[len(ids)-1]))
	}
	var rows []*heldRow
	var steps []int
	last := 0
	for _, i := range []int{0, 1, 2, 5, 6, 40} {
		rows = append(rows, &heldRow{id: ids[i], endpointID: "ep_" + ids[i][4:], partition: i % hookline.Partitions})
		steps = append(steps, i-last)
		last = i
	}
	got, err := decodeFanout(first, fanoutBody(rows, steps), heldRow{eventID: "evt_x", priority: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("%d deliveries decoded, want %d", len(got), len(rows))
	}
	for i, r := range got {
		if r.id != rows[i].id || r.endpointID != rows[i].endpointID || r.partition != rows[i].partition ||
			r.eventID != "evt_x" || r.priority != 3 {
			t.Errorf("delivery %d decoded as %+v, want %+v", i, r, rows[i])
		}
	}
	if _, err := decodeFanout(first, []byte{1, 2, 9, 'x'}, heldRow{}); err == nil {
		t.Error("a truncated body decoded")
	}
}

// TestHeldNamedTwice checks that a batch naming a held delivery twice
// writes its row once and keeps the fanouts row, which still lists the
// others, so that they survive a crash.
func TestHeldNamedTwice(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hookline.db")
	s, _ := heldStore(t, path, 2)
	now := hookline.Now()
	tasks := ingestOne(t, s, true, now)
	id := tasks[0].DeliveryID
	if err := s.RecordOutcomes(ctx, []hookline.Outcome{
		{Status: hookline.StatusPending, NextAttemptAt: now.Add(time.Minute),
			Attempt: hookline.Attempt{DeliveryID: id, Attempt: 1, StartedAt: now, StatusCode: 503}},
		{Status: hookline.StatusDelivered, Attempt: hookline.Attempt{DeliveryID: id, Attempt: 2, StartedAt: now, StatusCode: 200}},
	}, now); err != nil {
		t.Fatal(err)
	}
	if d, f := rowCounts(t, s); d != 1 || f != 1 {
		t.Fatalf("%d deliveries rows and %d fanouts rows, want 1 and 1", d, f)
	}
	s = reopen(t, s, path, 2)
	defer s.Close()
	if st, _ := s.Stats(ctx); st.Pending != 1 || st.Delivered != 1 {
		t.Errorf("Stats after reopening = %+v, want 1 pending and 1 delivered", st)
	}
}

// TestHeldNamedInTwoChunks checks that a batch naming a held delivery in
// two of its chunks (outcomeYield outcomes are written at a time) writes
// the second outcome over the row the first chunk inserted.
func TestHeldNamedInTwoChunks(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hookline.db")
	s, _ := heldStore(t, path, outcomeYield+1)
	defer s.Close()
	now := hookline.Now()
	tasks := ingestOne(t, s, true, now)
	id := tasks[0].DeliveryID
	outcomes := []hookline.Outcome{{Status: hookline.StatusPending, NextAttemptAt: now.Add(time.Minute),
		Attempt: hookline.Attempt{DeliveryID: id, Attempt: 1, StartedAt: now, StatusCode: 503}}}
	for _, task := range tasks[1:] {
		outcomes = append(outcomes, hookline.Outcome{Status: hookline.StatusDelivered,
			Attempt: hookline.Attempt{DeliveryID: task.DeliveryID, Attempt: 1, StartedAt: now, StatusCode: 200}})
	}
	outcomes = append(outcomes, hookline.Outcome{Status: hookline.StatusDelivered,
		Attempt: hookline.Attempt{DeliveryID: id, Attempt: 2, StartedAt: now.Add(time.Second), StatusCode: 200}})
	if err := s.RecordOutcomes(ctx, outcomes, now); err != nil {
		t.Fatal(err)
	}
	for i, o := range outcomes {
		if o.Dropped != "" {
			t.Errorf("outcome %d dropped: %s", i, o.Dropped)
		}
	}
	d, err := s.FindDelivery(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != hookline.StatusDelivered || d.Attempts != 2 {
		t.Errorf("delivery named in two chunks: status %s, %d attempts; want delivered after 2", d.Status, d.Attempts)
	}
	if st, _ := s.Stats(ctx); st.Pending != 0 || st.Delivered != int64(len(tasks)) {
		t.Errorf("Stats = %+v, want %d delivered", st, len(tasks))
	}
	if rows, f := rowCounts(t, s); rows != len(tasks) || f != 0 {
		t.Errorf("%d deliveries rows and %d fanouts rows, want %d and 0", rows, f, len(tasks))
	}
}

// TestFanOutIDsAscend checks that the deliveries of one fan-out, wider
// than the blocks its IDs are made in, get each the ID after the one
// before, and that an ID's last character carries into the one before it.
func TestFanOutIDsAscend(t *testing.T) {
	s, eps := heldStore(t, filepath.Join(t.TempDir(), "hookline.db"), 3*allocBlock+5)
	defer s.Close()
	tasks := ingestOne(t, s, true, hookline.Now())
	if len(tasks) != len(eps) {
		t.Fatalf("%d tasks, want %d", len(tasks), len(eps))
	}
	for i := 1; i < len(tasks); i++ {
		if want := nextID(tasks[i-1].DeliveryID); tasks[i].DeliveryID != want {
			t.Fatalf("task %d has ID %s, want %s (after %s)", i, tasks[i].DeliveryID, want, tasks[i-1].DeliveryID)
		}
	}
	if got := nextID("dlv_0ZZ"); got != "dlv_100" {
		t.Errorf("nextID(dlv_0ZZ) = %s, want dlv_100", got)
	}
	if got := idsAfter("dlv_0ZY", 2); got != "dlv_0ZZdlv_100" {
		t.Errorf("idsAfter(dlv_0ZY, 2) = %s", got)
	}
}
