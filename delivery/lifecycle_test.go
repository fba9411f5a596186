package delivery_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/delivery"
	"github.com/hookline/hookline/sqlite"
)

// TestRefusedDestinationFailsAtOnce sends to a receiver on an address the
// guard refuses: no retry can succeed while the configuration stands, so
// the delivery fails at its first attempt, saying why and what allows it,
// instead of being retried for the whole schedule.
func TestRefusedDestinationFailsAtOnce(t *testing.T) {
	b := setup(t, delivery.Config{
		AllowDestinations: []netip.Prefix{netip.MustParsePrefix("10.99.0.0/16")},
		RetrySchedule:     []time.Duration{0, time.Hour, time.Hour},
	})
	rc := newReceiver(t, nil)
	b.endpoint(t, rc.URL)
	res := b.send(t, "a", `{}`)
	d := b.waitStatus(t, res.ID, hookline.StatusFailed)
	if d.Attempts != 1 || !strings.Contains(d.LastError, "--allow-destinations 127.0.0.1/32") || d.NextAttemptAt != nil {
		t.Fatalf("delivery %+v; want failed after one attempt, naming the flag", d)
	}
	if n := rc.count(); n != 0 {
		t.Fatalf("the receiver got %d requests", n)
	}
}

// injectStore is a store with failures injected on chosen calls; a nil
// hook passes the call through.
type injectStore struct {
	hookline.Store
	mu       sync.Mutex
	ping     error
	ingest   func(ctx context.Context, s hookline.Store, reqs []*hookline.IngestRequest, now time.Time) error
	outcomes func(ctx context.Context, s hookline.Store, os []hookline.Outcome, now time.Time) error
	claim    func(ctx context.Context, s hookline.Store, reqs []hookline.ClaimRequest, now time.Time) ([]hookline.ClaimResult, error)
}

// set changes the hooks under the lock.
func (s *injectStore) set(fn func(s *injectStore)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s)
}

func (s *injectStore) Ping(ctx context.Context) error {
	s.mu.Lock()
	err := s.ping
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.Store.Ping(ctx)
}

func (s *injectStore) Ingest(ctx context.Context, reqs []*hookline.IngestRequest, now time.Time) error {
	s.mu.Lock()
	fn := s.ingest
	s.mu.Unlock()
	if fn != nil {
		return fn(ctx, s.Store, reqs, now)
	}
	return s.Store.Ingest(ctx, reqs, now)
}

func (s *injectStore) RecordOutcomes(ctx context.Context, os []hookline.Outcome, now time.Time) error {
	s.mu.Lock()
	fn := s.outcomes
	s.mu.Unlock()
	if fn != nil {
		return fn(ctx, s.Store, os, now)
	}
	return s.Store.RecordOutcomes(ctx, os, now)
}

func (s *injectStore) ClaimDue(ctx context.Context, reqs []hookline.ClaimRequest, now time.Time) ([]hookline.ClaimResult, error) {
	s.mu.Lock()
	fn := s.claim
	s.mu.Unlock()
	if fn != nil {
		return fn(ctx, s.Store, reqs, now)
	}
	return s.Store.ClaimDue(ctx, reqs, now)
}

// setupInjected starts an engine on a fresh SQLite store wrapped in an
// injectStore, and a buffer of its logs.
func setupInjected(t *testing.T, cfg delivery.Config) (*bundle, *injectStore, *syncBuffer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hookline.db")
	inj := &injectStore{}
	b := &bundle{open: func(t *testing.T) hookline.Store {
		s, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		inj.Store = s
		return inj
	}}
	logs := &syncBuffer{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	b.start(t, cfg)
	return b, inj, logs
}

// syncBuffer is a buffer safe for concurrent writes, for logs.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// readyDetail returns what Ready reports, as /readyz shows it.
func readyDetail(t *testing.T, e *delivery.Engine) (string, error) {
	t.Helper()
	detail, err := e.Ready(context.Background())
	b, jerr := json.Marshal(detail)
	if jerr != nil {
		t.Fatal(jerr)
	}
	return string(b), err
}

// TestReadyHidesStoreError: /readyz needs no key, so a store that does not
// answer is reported without its error, which names hosts, users and
// databases; the error goes to the log.
func TestReadyHidesStoreError(t *testing.T) {
	b, inj, logs := setupInjected(t, delivery.Config{})
	secret := `failed to connect to host=db.internal user=hookline database=prod: connection refused`
	inj.set(func(s *injectStore) { s.ping = errors.New(secret) })
	detail, err := readyDetail(t, b.engine)
	if err == nil {
		t.Fatal("ready while the store does not answer")
	}
	for _, leak := range []string{"db.internal", "user=hookline", "prod"} {
		if strings.Contains(detail, leak) || strings.Contains(err.Error(), leak) {
			t.Fatalf("readiness shows %q: %s (%v)", leak, detail, err)
		}
	}
	if !strings.Contains(detail, `"store":"unavailable"`) {
		t.Fatalf("detail %s; want the store unavailable", detail)
	}
	if !strings.Contains(logs.String(), "db.internal") {
		t.Fatalf("the store's error is not logged:\n%s", logs)
	}
	inj.set(func(s *injectStore) { s.ping = nil })
	if detail, err := readyDetail(t, b.engine); err != nil {
		t.Fatalf("not ready once the store answers: %v %s", err, detail)
	}
}

// TestReadyFollowsIngestCommits: a store that answers pings but cannot
// commit (a full disk) makes every ingest fail; after a few failures in a
// row the node says it is not ready, so that a load balancer sends
// elsewhere, and the next commit that succeeds makes it ready again.
func TestReadyFollowsIngestCommits(t *testing.T) {
	b, inj, _ := setupInjected(t, delivery.Config{})
	rc := newReceiver(t, nil)
	b.endpoint(t, rc.URL)
	inj.set(func(s *injectStore) {
		s.ingest = func(context.Context, hookline.Store, []*hookline.IngestRequest, time.Time) error {
			return errors.New("sqlite: ingest: database or disk is full (13)")
		}
	})
	ingest := func() error {
		_, err := b.engine.Ingest(context.Background(), []*hookline.Event{{Type: "a", Data: json.RawMessage(`{}`)}})
		return err
	}
	for i := range 3 {
		if detail, err := readyDetail(t, b.engine); err != nil {
			t.Fatalf("not ready after %d failed commits: %v %s", i, err, detail)
		}
		if err := ingest(); hookline.ErrorCode(err) != hookline.EUNAVAILABLE {
			t.Fatalf("ingest on a full disk: %v", err)
		}
	}
	detail, err := readyDetail(t, b.engine)
	if err == nil || !strings.Contains(detail, "ingest commits") || strings.Contains(detail, "disk is full") {
		t.Fatalf("after 3 failed commits: %v %s; want not ready, saying why in general terms", err, detail)
	}
	inj.set(func(s *injectStore) { s.ingest = nil })
	if err := ingest(); err != nil {
		t.Fatalf("ingest once the disk has room: %v", err)
	}
	if detail, err := readyDetail(t, b.engine); err != nil {
		t.Fatalf("not ready after a commit succeeded: %v %s", err, detail)
	}
}

// TestReadyFollowsBacklog: while the pending backlog is over its bound,
// ingest refuses, and the node is not ready; once it drains, it is.
func TestReadyFollowsBacklog(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	b, _, _ := setupInjected(t, delivery.Config{MaxBacklog: 2})
	rc := newReceiver(t, func(w http.ResponseWriter, r *received) { <-release })
	t.Cleanup(func() { once.Do(func() { close(release) }) }) // before the receiver closes
	b.endpoint(t, rc.URL)
	b.send(t, "a", `{}`)
	b.send(t, "a", `{}`)
	if _, err := b.engine.Ingest(context.Background(), []*hookline.Event{{Type: "a", Data: json.RawMessage(`{}`)}}); hookline.ErrorCode(err) != hookline.EUNAVAILABLE {
		t.Fatalf("ingest over the backlog bound: %v", err)
	}
	detail, err := readyDetail(t, b.engine)
	if err == nil || !strings.Contains(detail, "backlog") {
		t.Fatalf("backlog over its bound: %v %s; want not ready", err, detail)
	}
	once.Do(func() { close(release) })
	waitFor(t, "ready once the backlog drained", func() bool {
		_, err := b.engine.Ready(context.Background())
		return err == nil
	})
}

// TestIngestCommitDeadline: a store that does not answer an ingest holds
// its requests only until CommitTimeout; they are answered unavailable,
// and, since the store wrote nothing, told so.
func TestIngestCommitDeadline(t *testing.T) {
	release := make(chan struct{})
	b, inj, _ := setupInjected(t, delivery.Config{CommitTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { close(release) }) // before the engine stops
	b.endpoint(t, "https://example.com/")
	inj.set(func(s *injectStore) {
		s.ingest = func(ctx context.Context, _ hookline.Store, _ []*hookline.IngestRequest, _ time.Time) error {
			select {
			case <-ctx.Done():
				return fmt.Errorf("sqlite: ingest: %w", ctx.Err())
			case <-release:
				return errors.New("released at the end of the test")
			}
		}
	})
	done := make(chan error, 1)
	go func() {
		_, err := b.engine.Ingest(context.Background(), []*hookline.Event{{Type: "a", Data: json.RawMessage(`{}`)}})
		done <- err
	}()
	select {
	case err := <-done:
		if hookline.ErrorCode(err) != hookline.EUNAVAILABLE || !strings.Contains(hookline.ErrorMessage(err), "nothing was written") {
			t.Fatalf("ingest past its commit deadline: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ingest still waits for a store that does not answer after 10 s")
	}
}

// TestIngestUnknownCommit: when the store sent the COMMIT and lost its
// reply, the client is not told that nothing was written (it may have
// been) but that the outcome is unknown and that retrying with the same
// Idempotency-Key is safe; and it is: the retry answers with the event
// written, which is stored once.
func TestIngestUnknownCommit(t *testing.T) {
	b, inj, _ := setupInjected(t, delivery.Config{})
	b.endpoint(t, "https://example.com/")
	inj.set(func(s *injectStore) {
		s.ingest = func(ctx context.Context, st hookline.Store, reqs []*hookline.IngestRequest, now time.Time) error {
			if err := st.Ingest(ctx, reqs, now); err != nil {
				return err
			}
			return fmt.Errorf("postgres: ingest: write events: unexpected EOF: %w", hookline.ErrCommitUnknown)
		}
	})
	events := func() []*hookline.Event {
		return []*hookline.Event{{Type: "a", Data: json.RawMessage(`{"n":1}`), IdempotencyKey: "order-1"}}
	}
	_, err := b.engine.Ingest(context.Background(), events())
	msg := hookline.ErrorMessage(err)
	if hookline.ErrorCode(err) != hookline.EUNAVAILABLE || strings.Contains(msg, "nothing was written") ||
		!strings.Contains(msg, "may or may not") || !strings.Contains(msg, "same Idempotency-Key is safe") {
		t.Fatalf("ingest whose commit reply was lost: %v", err)
	}
	inj.set(func(s *injectStore) { s.ingest = nil })
	res, err := b.engine.Ingest(context.Background(), events())
	if err != nil || len(res) != 1 || !res[0].Duplicate {
		t.Fatalf("the retry with the same key: %+v, %v; want the first answer", res, err)
	}
	if st, err := b.store.Stats(context.Background()); err != nil || st.Events != 1 {
		t.Fatalf("%d events stored (%v); want 1", st.Events, err)
	}
}

// TestCloseWithStoreDown: an attempt was made, and then the store stops
// answering, so its outcome cannot be written. Close must still return soon
// after its context ends (the outcome is dropped, the delivery stays claimed
// and is resent after restart), whether the store's calls end with their
// context (a database that does not answer) or ignore it (a hung disk).
func TestCloseWithStoreDown(t *testing.T) {
	for _, tc := range []struct {
		name        string
		ignoreCtx   bool
		within      time.Duration
		errContains string
	}{
		{"CallsEndWithContext", false, 2 * time.Second, "deadline exceeded"},
		{"CallsIgnoreContext", true, 5 * time.Second, "did not answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			b, inj, _ := setupInjected(t, delivery.Config{})
			t.Cleanup(func() { close(release) }) // before the store closes
			rc := newReceiver(t, nil)
			b.endpoint(t, rc.URL)
			called := make(chan struct{}, 100)
			inj.set(func(s *injectStore) {
				s.outcomes = func(ctx context.Context, _ hookline.Store, _ []hookline.Outcome, _ time.Time) error {
					called <- struct{}{}
					if tc.ignoreCtx {
						<-release
						return errors.New("released at the end of the test")
					}
					select {
					case <-ctx.Done():
						return fmt.Errorf("postgres: record outcomes: %w", ctx.Err())
					case <-release:
						return errors.New("released at the end of the test")
					}
				}
			})
			b.send(t, "a", `{}`)
			rc.next(t)
			select {
			case <-called:
			case <-time.After(15 * time.Second):
				t.Fatal("the outcome was never written")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			done := make(chan error, 1)
			go func() { done <- b.engine.Close(ctx) }()
			select {
			case err := <-done:
				if took := time.Since(start); took > tc.within || err == nil || !strings.Contains(err.Error(), tc.errContains) {
					t.Fatalf("Close took %s and returned %v; want within %s an error saying %q", took, err, tc.within, tc.errContains)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Close still waits for a store that does not answer after 20 s")
			}
		})
	}
}

// TestPoisonClaimIsolated: the store fails every claim that includes one
// endpoint's deliveries (a row it cannot read), for a reason other than
// being unavailable. Another endpoint's deliveries, claimed in the same
// poll, are still claimed and delivered; the poison endpoint is put off,
// and the failure logged.
func TestPoisonClaimIsolated(t *testing.T) {
	b, inj, logs := setupInjected(t, delivery.Config{})
	rcA, rcB := newReceiver(t, nil), newReceiver(t, nil)
	epA := b.endpoint(t, rcA.URL, "a")
	b.endpoint(t, rcB.URL, "b")
	inj.set(func(s *injectStore) {
		s.claim = func(ctx context.Context, st hookline.Store, reqs []hookline.ClaimRequest, now time.Time) ([]hookline.ClaimResult, error) {
			for _, r := range reqs {
				if r.EndpointID == epA.ID {
					return nil, errors.New("sqlite: claim due: scan delivery: malformed JSON in payload")
				}
			}
			return st.ClaimDue(ctx, reqs, now)
		}
	})
	// Written straight to the store, unclaimed: the poller finds both
	// endpoints' work at its next look and claims it in one call.
	now := hookline.Now()
	var events []*hookline.Event
	for i, typ := range []string{"a", "b", "a", "b"} {
		events = append(events, &hookline.Event{ID: hookline.NewID(hookline.EventPrefix, now.Add(time.Duration(i))),
			Type: typ, Data: json.RawMessage(`{}`), CreatedAt: now})
	}
	if err := inj.Store.Ingest(context.Background(), []*hookline.IngestRequest{{Events: events}}, now); err != nil {
		t.Fatal(err)
	}
	b.waitStatus(t, events[1].ID, hookline.StatusDelivered)
	b.waitStatus(t, events[3].ID, hookline.StatusDelivered)
	if n := rcA.count(); n != 0 {
		t.Fatalf("the poison endpoint got %d requests", n)
	}
	if !strings.Contains(logs.String(), "cannot be claimed") || !strings.Contains(logs.String(), epA.ID) {
		t.Fatalf("the poison endpoint is not logged:\n%s", logs)
	}
}

// TestPoisonOutcomeIsolated: the store refuses one endpoint's outcomes
// (for a reason other than being unavailable). The outcome writer drops
// that outcome after a few tries, logging it, instead of retrying it
// forever while every later outcome waits behind it.
func TestPoisonOutcomeIsolated(t *testing.T) {
	b, inj, logs := setupInjected(t, delivery.Config{})
	rcA, rcB := newReceiver(t, nil), newReceiver(t, nil)
	epA := b.endpoint(t, rcA.URL, "a")
	b.endpoint(t, rcB.URL, "b")
	inj.set(func(s *injectStore) {
		s.outcomes = func(ctx context.Context, st hookline.Store, os []hookline.Outcome, now time.Time) error {
			for _, o := range os {
				if o.EndpointID == epA.ID {
					return errors.New("sqlite: record outcomes: CHECK constraint failed: status_code")
				}
			}
			return st.RecordOutcomes(ctx, os, now)
		}
	})
	a := b.send(t, "a", `{}`)
	rcA.next(t)
	bres := b.send(t, "b", `{}`)
	b.waitStatus(t, bres.ID, hookline.StatusDelivered)
	if d := b.deliveries(t, a.ID); len(d) != 1 || d[0].Status != hookline.StatusPending || d[0].Attempts != 0 {
		t.Fatalf("the poison delivery: %+v; want pending, its outcome unrecorded", d)
	}
	waitFor(t, "the dropped outcome logged", func() bool {
		return strings.Contains(logs.String(), "outcome the store refuses was dropped")
	})
}

// TestHardStopWritesOutcomes: a stop that turns hard (an attempt still
// hangs at the deadline) still writes the outcomes of the attempts that
// finished, when the store answers, if slowly: cutting them short would
// send those deliveries again after restart.
func TestHardStopWritesOutcomes(t *testing.T) {
	release := make(chan struct{})
	b, inj, _ := setupInjected(t, delivery.Config{})
	hang := newReceiver(t, func(http.ResponseWriter, *received) { <-release })
	t.Cleanup(func() { close(release) }) // before the receivers close
	rc := newReceiver(t, nil)
	b.endpoint(t, hang.URL, "hang")
	b.endpoint(t, rc.URL, "ok")
	writing := make(chan struct{}, 100)
	inj.set(func(s *injectStore) {
		s.outcomes = func(ctx context.Context, st hookline.Store, os []hookline.Outcome, now time.Time) error {
			writing <- struct{}{}
			select { // a slow store, within closeGrace
			case <-time.After(500 * time.Millisecond):
			case <-ctx.Done():
				return fmt.Errorf("record outcomes: %w", ctx.Err())
			}
			return st.RecordOutcomes(ctx, os, now)
		}
	})
	b.send(t, "hang", `{}`)
	hang.next(t)
	ok := b.send(t, "ok", `{}`)
	rc.next(t)
	select {
	case <-writing:
	case <-time.After(15 * time.Second):
		t.Fatal("the outcome was never written")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := b.engine.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close with an attempt that hangs: %v; want the deadline", err)
	}
	if d := b.deliveries(t, ok.ID); len(d) != 1 || d[0].Status != hookline.StatusDelivered {
		t.Fatalf("the delivery whose attempt finished before the hard stop: %+v; want delivered", d)
	}
}
