package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/delivery"
	"github.com/hookline/hookline/internal/pgtest"
	"github.com/hookline/hookline/internal/poll"
	"github.com/hookline/hookline/postgres"
	"github.com/hookline/hookline/signature"
	"github.com/hookline/hookline/sqlite"
)

// bundle is an engine under test with its collaborators.
type bundle struct {
	engine *delivery.Engine
	store  hookline.Store
	open   func(t *testing.T) hookline.Store // opens the same store again
	// wrap, when set, wraps each store opened before the engine gets it
	// (a faultstore, for tests of a failing database).
	wrap func(hookline.Store) hookline.Store
}

// setup starts an engine on a fresh SQLite store.
func setup(t *testing.T, cfg delivery.Config) *bundle {
	t.Helper()
	b := sqliteBundle(t)
	b.start(t, cfg)
	return b
}

// sqliteBundle returns a bundle that opens a fresh SQLite store, not
// started.
func sqliteBundle(t *testing.T) *bundle {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hookline.db")
	return &bundle{open: func(t *testing.T) hookline.Store {
		s, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}}
}

// setupPostgres starts an engine on a fresh PostgreSQL schema.
func setupPostgres(t *testing.T, cfg delivery.Config) *bundle {
	t.Helper()
	b := postgresBundle(t)
	b.start(t, cfg)
	return b
}

// postgresBundle returns a bundle that opens stores on a fresh PostgreSQL
// schema, not started.
func postgresBundle(t *testing.T) *bundle {
	t.Helper()
	url, schema := pgtest.Schema(t)
	return &bundle{open: func(t *testing.T) hookline.Store {
		s, err := postgres.Open(context.Background(), url, postgres.WithSchema(schema))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}}
}

// stores runs a test against an engine on each store.
func stores(t *testing.T, cfg delivery.Config, fn func(t *testing.T, b *bundle)) {
	t.Helper()
	for _, s := range []struct {
		name  string
		setup func(*testing.T, delivery.Config) *bundle
	}{{"SQLite", setup}, {"PostgreSQL", setupPostgres}} {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			fn(t, s.setup(t, cfg))
		})
	}
}

// start opens the store and starts an engine on it; cleanup stops both.
func (b *bundle) start(t *testing.T, cfg delivery.Config) {
	t.Helper()
	s := b.open(t)
	if b.wrap != nil {
		s = b.wrap(s)
	}
	cfg.Store = s
	// Receivers are on loopback; a test that lists destinations gets the
	// guard that refuses the others.
	cfg.AllowPrivateNetworks = cfg.AllowDestinations == nil
	if cfg.RetrySchedule == nil {
		cfg.RetrySchedule = []time.Duration{0, 10 * time.Millisecond, 10 * time.Millisecond}
	}
	if cfg.DeliveryTimeout == 0 {
		cfg.DeliveryTimeout = 5 * time.Second
	}
	cfg.PollInterval = 20 * time.Millisecond
	e := delivery.New(cfg)
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.engine, b.store = e, s
	t.Cleanup(func() { b.stop(t, 10*time.Second) })
}

// stop closes the engine (waiting at most grace for in-flight attempts) and
// the store; it may be called more than once.
func (b *bundle) stop(t *testing.T, grace time.Duration) {
	if b.engine == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	_ = b.engine.Close(ctx)
	if err := b.store.Close(); err != nil {
		t.Error(err)
	}
	b.engine, b.store = nil, nil
}

func (b *bundle) endpoint(t *testing.T, url string, types ...string) *hookline.Endpoint {
	t.Helper()
	now := hookline.Now()
	ep := &hookline.Endpoint{
		ID: hookline.NewID(hookline.EndpointPrefix, now), URL: url, EventTypes: types,
		Secret: signature.GenerateSecret(), CreatedAt: now, UpdatedAt: now,
	}
	if err := b.store.CreateEndpoint(context.Background(), ep); err != nil {
		t.Fatal(err)
	}
	return ep
}

func (b *bundle) send(t *testing.T, typ string, data string) hookline.IngestResult {
	t.Helper()
	res, err := b.engine.Ingest(context.Background(), []*hookline.Event{{Type: typ, Data: json.RawMessage(data)}})
	if err != nil {
		t.Fatal(err)
	}
	return res[0]
}

// waitFor polls cond until it holds, failing the test after poll.Deadline.
var waitFor = poll.Until

func (b *bundle) deliveries(t *testing.T, eventID string) []*hookline.Delivery {
	t.Helper()
	ds, _, err := b.store.FindDeliveries(context.Background(), hookline.DeliveryFilter{EventID: eventID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func (b *bundle) waitStatus(t *testing.T, eventID string, want hookline.DeliveryStatus) *hookline.Delivery {
	t.Helper()
	var d *hookline.Delivery
	waitFor(t, "delivery "+string(want), func() bool {
		ds := b.deliveries(t, eventID)
		if len(ds) == 1 && ds[0].Status == want {
			d = ds[0]
			return true
		}
		return false
	})
	return d
}

// receiver is a webhook receiver that records what it gets.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*received
	arrived  chan *received
	handle   func(w http.ResponseWriter, r *received)
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, handle func(w http.ResponseWriter, r *received)) *receiver {
	rc := &receiver{arrived: make(chan *received, 10000), handle: handle}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got := &received{header: r.Header.Clone(), body: body}
		rc.mu.Lock()
		rc.requests = append(rc.requests, got)
		rc.mu.Unlock()
		rc.arrived <- got
		if rc.handle != nil {
			rc.handle(w, got)
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.requests)
}

func (rc *receiver) next(t *testing.T) *received {
	t.Helper()
	select {
	case r := <-rc.arrived:
		return r
	case <-time.After(15 * time.Second):
		t.Fatal("timed out waiting for a delivery")
		return nil
	}
}

func TestDeliversSignedPayload(t *testing.T) {
	b := setup(t, delivery.Config{})
	rc := newReceiver(t, nil)
	ep := b.endpoint(t, rc.URL+"/hook")
	res := b.send(t, "invoice.paid", `{"amount": 42}`)
	if res.Deliveries != 1 || !strings.HasPrefix(res.ID, "evt_") {
		t.Fatalf("ingest result %+v", res)
	}
	got := rc.next(t)

	wh, err := standardwebhooks.NewWebhook(ep.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(got.body, got.header); err != nil {
		t.Fatalf("official library rejects the signature: %v", err)
	}
	if got.header.Get("webhook-id") != res.ID {
		t.Fatalf("webhook-id %q, want %q", got.header.Get("webhook-id"), res.ID)
	}
	if ua := got.header.Get("user-agent"); ua != "Hookline/"+hookline.Version {
		t.Fatalf("user-agent %q", ua)
	}
	var body struct {
		ID, Type, Timestamp string
		Data                map[string]int
	}
	if err := json.Unmarshal(got.body, &body); err != nil {
		t.Fatal(err)
	}
	if body.ID != res.ID || body.Type != "invoice.paid" || body.Data["amount"] != 42 {
		t.Fatalf("body %s", got.body)
	}
	if _, err := time.Parse(time.RFC3339, body.Timestamp); err != nil {
		t.Fatalf("timestamp %q: %v", body.Timestamp, err)
	}
	d := b.waitStatus(t, res.ID, hookline.StatusDelivered)
	if d.Attempts != 1 || d.LastStatusCode != 200 || d.DeliveredAt == nil {
		t.Fatalf("delivery %+v", d)
	}
}

func TestRetriesThenDeadLetters(t *testing.T) {
	b := setup(t, delivery.Config{})
	big := strings.Repeat("x", 5000)
	rc := newReceiver(t, func(w http.ResponseWriter, r *received) {
		w.WriteHeader(500)
		io.WriteString(w, big)
	})
	b.endpoint(t, rc.URL)
	res := b.send(t, "a", `1`)
	d := b.waitStatus(t, res.ID, hookline.StatusFailed)
	if d.Attempts != 3 || d.LastStatusCode != 500 || d.NextAttemptAt != nil {
		t.Fatalf("delivery %+v", d)
	}
	if n := rc.count(); n != 3 {
		t.Fatalf("receiver got %d requests, want 3", n)
	}
	atts, err := b.store.FindAttempts(context.Background(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(atts) != 3 {
		t.Fatalf("%d attempts recorded", len(atts))
	}
	for i, a := range atts {
		if a.Attempt != i+1 || a.StatusCode != 500 || len(a.ResponseBody) != hookline.MaxStoredResponse || a.Error == "" {
			t.Fatalf("attempt %d: %+v", i, a)
		}
	}
	// The same webhook-id on every attempt, so receivers deduplicate.
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, r := range rc.requests {
		if r.header.Get("webhook-id") != res.ID {
			t.Fatalf("webhook-id changed across attempts")
		}
	}
}

func TestRetryRecovers(t *testing.T) {
	b := setup(t, delivery.Config{})
	var mu sync.Mutex
	fail := 2
	rc := newReceiver(t, func(w http.ResponseWriter, r *received) {
		mu.Lock()
		defer mu.Unlock()
		if fail > 0 {
			fail--
			w.WriteHeader(503)
		}
	})
	b.endpoint(t, rc.URL)
	res := b.send(t, "a", `{}`)
	d := b.waitStatus(t, res.ID, hookline.StatusDelivered)
	if d.Attempts != 3 {
		t.Fatalf("attempts %d, want 3", d.Attempts)
	}
}

func TestGoneDisablesEndpoint(t *testing.T) {
	b := setup(t, delivery.Config{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *received) { w.WriteHeader(http.StatusGone) })
	ep := b.endpoint(t, rc.URL)
	res := b.send(t, "a", `{}`)
	d := b.waitStatus(t, res.ID, hookline.StatusFailed)
	if d.Attempts != 1 {
		t.Fatalf("attempts %d, want 1", d.Attempts)
	}
	waitFor(t, "endpoint disabled", func() bool {
		got, err := b.store.FindEndpoint(context.Background(), ep.ID)
		return err == nil && got.Disabled
	})
	if res := b.send(t, "a", `{}`); res.Deliveries != 0 {
		t.Fatalf("disabled endpoint still gets events")
	}
}

func TestRedirectIsAFailure(t *testing.T) {
	b := setup(t, delivery.Config{RetrySchedule: []time.Duration{0}})
	rc := newReceiver(t, func(w http.ResponseWriter, r *received) {
		w.Header().Set("Location", "/other")
		w.WriteHeader(http.StatusMovedPermanently)
	})
	b.endpoint(t, rc.URL)
	res := b.send(t, "a", `{}`)
	d := b.waitStatus(t, res.ID, hookline.StatusFailed)
	if d.LastStatusCode != 301 || !strings.Contains(d.LastError, "redirect") || rc.count() != 1 {
		t.Fatalf("delivery %+v after %d requests", d, rc.count())
	}
}

func TestTimeoutIsRetried(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	b := setup(t, delivery.Config{DeliveryTimeout: 50 * time.Millisecond, RetrySchedule: []time.Duration{0, 0}})
	rc := newReceiver(t, func(w http.ResponseWriter, r *received) { <-release })
	b.endpoint(t, rc.URL)
	res := b.send(t, "a", `{}`)
	d := b.waitStatus(t, res.ID, hookline.StatusFailed)
	if d.Attempts != 2 || !strings.Contains(d.LastError, "timeout") {
		t.Fatalf("delivery %+v", d)
	}
}

func TestSlowEndpointDoesNotStallOthers(t *testing.T) {
	release := make(chan struct{})
	b := setup(t, delivery.Config{MaxInFlight: 4, MaxInFlightPerEndpoint: 2})
	slow := newReceiver(t, func(w http.ResponseWriter, r *received) { <-release })
	fast := newReceiver(t, nil)
	b.endpoint(t, slow.URL, "slow")
	b.endpoint(t, fast.URL, "fast")
	for range 20 {
		b.send(t, "slow", `{}`)
	}
	for range 20 {
		b.send(t, "fast", `{}`)
	}
	for range 20 {
		fast.next(t)
	}
	if n := slow.count(); n > 2 {
		t.Fatalf("slow endpoint has %d requests in flight, cap is 2", n)
	}
	close(release)
	waitFor(t, "slow endpoint drained", func() bool { return slow.count() == 20 })
}

func TestMemoryOverflowPagesInFromStore(t *testing.T) {
	b := setup(t, delivery.Config{MemoryQueue: 5, MaxInFlight: 2})
	rc := newReceiver(t, nil)
	b.endpoint(t, rc.URL)
	b.endpoint(t, rc.URL)
	events := make([]*hookline.Event, 100)
	for i := range events {
		events[i] = &hookline.Event{Type: "a", Data: json.RawMessage(`{}`)}
	}
	if _, err := b.engine.Ingest(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "200 deliveries", func() bool { return rc.count() >= 200 })
	seen := map[string]int{}
	for range 200 {
		r := rc.next(t)
		seen[r.header.Get("webhook-id")]++
	}
	if len(seen) != 100 {
		t.Fatalf("%d distinct events, want 100", len(seen))
	}
	for id, n := range seen {
		if n != 2 {
			t.Fatalf("event %s delivered %d times, want 2", id, n)
		}
	}
	waitFor(t, "pending 0", func() bool {
		n, err := b.store.PendingCount(context.Background())
		return err == nil && n == 0
	})
}

// TestLargePayloadsPageInByBytes fills memory by bytes rather than count:
// 40 events of 256 KiB to two endpoints with room for 4 such payloads in
// memory are all delivered, paged in from the store as room frees.
func TestLargePayloadsPageInByBytes(t *testing.T) {
	b := setup(t, delivery.Config{MemoryQueue: 50_000, MemoryQueueBytes: 4 << 18, MaxInFlight: 2})
	rc := newReceiver(t, nil)
	b.endpoint(t, rc.URL)
	b.endpoint(t, rc.URL)
	data := json.RawMessage(`"` + strings.Repeat("x", 256<<10) + `"`)
	for range 40 {
		if _, err := b.engine.Ingest(context.Background(), []*hookline.Event{{Type: "a", Data: data}}); err != nil {
			t.Fatal(err)
		}
	}
	var st hookline.Stats
	waitFor(t, "80 deliveries", func() bool {
		var err error
		st, err = b.engine.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Node.InMemory > 6 {
			t.Fatalf("%d large deliveries in memory, with room for about 4", st.Node.InMemory)
		}
		return st.Delivered == 80
	})
}

// TestFanOutBound checks MaxFanout: an ingest that would make more
// deliveries is refused with ETOOLARGE and writes nothing.
func TestFanOutBound(t *testing.T) {
	b := setup(t, delivery.Config{MaxFanout: 5})
	for range 3 {
		b.endpoint(t, "https://example.com/")
	}
	ev := func() *hookline.Event { return &hookline.Event{Type: "a", Data: json.RawMessage(`1`)} }
	_, err := b.engine.Ingest(context.Background(), []*hookline.Event{ev(), ev()})
	if hookline.ErrorCode(err) != hookline.ETOOLARGE || !strings.Contains(hookline.ErrorMessage(err), "5 deliveries") {
		t.Fatalf("6 deliveries with a bound of 5: %v", err)
	}
	if st, err := b.store.Stats(context.Background()); err != nil || st.Events != 0 {
		t.Fatalf("a refused ingest wrote %d events (%v)", st.Events, err)
	}
	if _, err := b.engine.Ingest(context.Background(), []*hookline.Event{ev()}); err != nil {
		t.Fatalf("3 deliveries with a bound of 5: %v", err)
	}
}

// TestRestartResumesClaimedDeliveries stops an engine hard while an attempt
// hangs and others wait in memory, then starts it again: every delivery is
// delivered, and the aborted attempt was handed back rather than recorded
// as a failure of the receiver (one attempt each, a success, numbered 1).
func TestRestartResumesClaimedDeliveries(t *testing.T) {
	stores(t, delivery.Config{MaxInFlight: 2, MaxInFlightPerEndpoint: 1}, func(t *testing.T, b *bundle) {
		block := make(chan struct{})
		var mu sync.Mutex
		blocking := true
		rc := newReceiver(t, func(w http.ResponseWriter, r *received) {
			mu.Lock()
			b := blocking
			mu.Unlock()
			if b {
				<-block
			}
		})
		t.Cleanup(func() { close(block) }) // runs before the receiver closes
		b.endpoint(t, rc.URL)
		var ids []string
		for range 5 {
			ids = append(ids, b.send(t, "a", `{}`).ID)
		}
		rc.next(t) // one attempt is in flight and hangs
		// A hard stop: the attempt in flight is aborted and handed back.
		mu.Lock()
		blocking = false
		mu.Unlock()
		b.stop(t, time.Millisecond)

		b.start(t, delivery.Config{})
		for _, id := range ids {
			d := b.waitStatus(t, id, hookline.StatusDelivered)
			atts, err := b.store.FindAttempts(context.Background(), d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if d.Attempts != 1 || len(atts) != 1 || atts[0].Attempt != 1 || atts[0].StatusCode != 200 || atts[0].Error != "" {
				var got []string
				for _, a := range atts {
					got = append(got, fmt.Sprintf("#%d %d %q", a.Attempt, a.StatusCode, a.Error))
				}
				t.Fatalf("delivery %s: %d attempts counted, recorded %v; want one, a success", d.ID, d.Attempts, got)
			}
		}
	})
}

func TestReplayAndRecover(t *testing.T) {
	var mu sync.Mutex
	up := false
	rc := newReceiver(t, func(w http.ResponseWriter, r *received) {
		mu.Lock()
		defer mu.Unlock()
		if !up {
			w.WriteHeader(500)
		}
	})
	b := setup(t, delivery.Config{RetrySchedule: []time.Duration{0}})
	ep := b.endpoint(t, rc.URL)
	res := b.send(t, "a", `{}`)
	d := b.waitStatus(t, res.ID, hookline.StatusFailed)

	mu.Lock()
	up = true
	mu.Unlock()
	n, err := b.engine.RecoverEndpoint(context.Background(), ep.ID, time.Time{})
	if err != nil || n != 1 {
		t.Fatalf("recover = %d, %v", n, err)
	}
	d = b.waitStatus(t, res.ID, hookline.StatusDelivered)
	if d.Attempts != 2 {
		t.Fatalf("attempts %d, want 2 (attempts continue)", d.Attempts)
	}

	n, err = b.engine.ReplayEvent(context.Background(), res.ID)
	if err != nil || n != 1 {
		t.Fatalf("replay = %d, %v", n, err)
	}
	waitFor(t, "replayed delivery", func() bool {
		ds := b.deliveries(t, res.ID)
		return len(ds) == 2 && ds[0].Status == hookline.StatusDelivered && ds[1].Status == hookline.StatusDelivered
	})

	if _, err := b.engine.RetryDelivery(context.Background(), d.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "retried delivery", func() bool {
		got, err := b.store.FindDelivery(context.Background(), d.ID)
		return err == nil && got.Status == hookline.StatusDelivered && got.Attempts == 3
	})
}
