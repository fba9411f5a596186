package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/delivery"
)

// hangingServer accepts requests and answers none until the test ends.
func hangingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(stop); srv.Close() })
	return srv, &n
}

// stamps is a receiver that records when each request arrived and answers
// as answer says (nil: 200).
type stamps struct {
	*httptest.Server
	mu     sync.Mutex
	at     []time.Time
	ids    []string
	answer atomic.Pointer[func(w http.ResponseWriter, n int)]
	cur    atomic.Int64 // requests being answered now
	peak   atomic.Int64 // the most at once
}

func newStamps(t *testing.T) *stamps { return newStampsWith(t, nil) }

// newStampsWith is newStamps whose answers come from h (nil: answer).
func newStampsWith(t *testing.T, h http.Handler) *stamps {
	t.Helper()
	s := &stamps{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := s.cur.Add(1)
		defer s.cur.Add(-1)
		for p := s.peak.Load(); c > p && !s.peak.CompareAndSwap(p, c); p = s.peak.Load() {
		}
		s.mu.Lock()
		s.at = append(s.at, time.Now())
		s.ids = append(s.ids, r.Header.Get("webhook-id"))
		n := len(s.at)
		s.mu.Unlock()
		if h != nil {
			h.ServeHTTP(w, r)
		} else if f := s.answer.Load(); f != nil {
			(*f)(w, n)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *stamps) set(f func(w http.ResponseWriter, n int)) { s.answer.Store(&f) }

func (s *stamps) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.at)
}

func (s *stamps) times() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.at)
}

// pendingOf returns the endpoint's deliveries by status.
func (b *bundle) byStatus(t *testing.T, endpointID string) map[hookline.DeliveryStatus][]*hookline.Delivery {
	t.Helper()
	ds, _, err := b.store.FindDeliveries(context.Background(), hookline.DeliveryFilter{EndpointID: endpointID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	m := map[hookline.DeliveryStatus][]*hookline.Delivery{}
	for _, d := range ds {
		m[d.Status] = append(m[d.Status], d)
	}
	return m
}

func (b *bundle) health(t *testing.T, id string) hookline.EndpointHealth {
	t.Helper()
	h, err := b.engine.EndpointHealth(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (b *bundle) update(t *testing.T, id string, u hookline.EndpointUpdate) *hookline.Endpoint {
	t.Helper()
	ep, err := b.store.UpdateEndpoint(context.Background(), id, u, hookline.Now())
	if err != nil {
		t.Fatal(err)
	}
	b.engine.EndpointChanged(id, ep)
	return ep
}

// TestHangingEndpointsDoNotStallHealthy is the isolation promise: with the
// defaults, endpoints whose receivers accept connections and never answer
// hold only their own slots; every event reaches a healthy endpoint while
// their requests are still hanging (long before the delivery timeout).
func TestHangingEndpointsDoNotStallHealthy(t *testing.T) {
	for _, hanging := range []int{8, 100} {
		t.Run(fmt.Sprint(hanging, "Hanging"), func(t *testing.T) {
			stores(t, delivery.Config{DeliveryTimeout: 30 * time.Second}, func(t *testing.T, b *bundle) {
				hang, hung := hangingServer(t)
				for i := range hanging {
					b.endpoint(t, fmt.Sprintf("%s/hang/%d", hang.URL, i))
				}
				healthy := newStamps(t)
				b.endpoint(t, healthy.URL)
				const events = 60 // at 40 events/s
				start := time.Now()
				tick := time.NewTicker(25 * time.Millisecond)
				defer tick.Stop()
				sent := map[string]time.Time{}
				for range events {
					<-tick.C
					at := time.Now()
					sent[b.send(t, "order.created", `{}`).ID] = at
				}
				waitFor(t, "every event at the healthy endpoint", func() bool { return healthy.count() == events })
				// The latency is logged, not asserted (speed is for
				// benchmarks): the isolation asserted is that every event
				// arrives while the hanging requests still hang.
				healthy.mu.Lock()
				var lat []time.Duration
				for i, id := range healthy.ids {
					lat = append(lat, healthy.at[i].Sub(sent[id]))
				}
				healthy.mu.Unlock()
				slices.Sort(lat)
				t.Logf("healthy endpoint end-to-end latency: p50 %s, p99 %s, max %s",
					lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
				if took := time.Since(start); took > 25*time.Second {
					t.Fatalf("the healthy endpoint got its events after %s: it waited for hanging requests", took)
				}
				if n := hung.Load(); n < int64(hanging) {
					t.Fatalf("only %d requests reached the %d hanging endpoints", n, hanging)
				}
				t.Logf("%d requests hanging at %d endpoints; the healthy one got %d events in %s",
					hung.Load(), hanging, events, time.Since(start).Round(time.Millisecond))
			})
		})
	}
}

// TestCircuitBreaker checks, on a failing receiver: the circuit opens after
// the threshold; while it is open only probes are sent, spaced by a growing
// cooldown; deliveries waiting behind it are neither charged attempts nor
// dead-lettered, although the outage outlasts their retry schedule; once a
// probe succeeds the circuit closes and the backlog drains.
func TestCircuitBreaker(t *testing.T) {
	cfg := delivery.Config{
		BreakerFailures: 3, BreakerCooldown: 200 * time.Millisecond, BreakerMaxCooldown: 400 * time.Millisecond,
		RetrySchedule: []time.Duration{0, 20 * time.Millisecond, 20 * time.Millisecond},
	}
	stores(t, cfg, func(t *testing.T, b *bundle) {
		rc := newStamps(t)
		var up atomic.Bool
		rc.set(func(w http.ResponseWriter, n int) {
			if !up.Load() {
				w.WriteHeader(http.StatusInternalServerError)
			}
		})
		ep := b.update(t, b.endpoint(t, rc.URL).ID, hookline.EndpointUpdate{MaxInFlight: ptr(1)})
		const events = 20
		for range events {
			b.send(t, "a", `{}`)
		}
		waitFor(t, "the circuit to open", func() bool { return b.health(t, ep.ID).Circuit != hookline.CircuitClosed })
		h := b.health(t, ep.ID)
		if h.ConsecutiveFailures < 3 || h.FailingSince == nil {
			t.Fatalf("health of an open circuit: %+v", h)
		}
		opened := rc.count()
		// Let three probes fail: the outage lasts longer than any
		// delivery's retry schedule (3 attempts, 40 ms).
		waitFor(t, "three probes", func() bool { return rc.count() >= opened+3 })
		at := rc.times()[opened-1:]
		for i := 1; i < len(at); i++ {
			if gap := at[i].Sub(at[i-1]); gap < 150*time.Millisecond {
				t.Fatalf("requests %s apart while the circuit was open: want probes a cooldown apart", gap)
			}
		}
		// Every request sent is an attempt recorded, and no other: waiting
		// cost nothing. (The last outcome may still be on its way.)
		var st map[hookline.DeliveryStatus][]*hookline.Delivery
		waitFor(t, "the attempts recorded to match the requests sent", func() bool {
			st = b.byStatus(t, ep.ID)
			charged := 0
			for _, d := range st[hookline.StatusPending] {
				charged += d.Attempts
			}
			return charged+3*len(st[hookline.StatusFailed]) == rc.count()
		})
		if waiting := len(st[hookline.StatusPending]); waiting < events-4 {
			t.Fatalf("only %d deliveries still pending behind the open circuit", waiting)
		}
		up.Store(true)
		waitFor(t, "the backlog to drain", func() bool {
			st := b.byStatus(t, ep.ID)
			return len(st[hookline.StatusPending]) == 0
		})
		if h := b.health(t, ep.ID); h.Circuit != hookline.CircuitClosed || h.ConsecutiveFailures != 0 || h.FailingSince != nil || h.LastSuccessAt == nil {
			t.Fatalf("health after recovery: %+v", h)
		}
		for _, d := range b.byStatus(t, ep.ID)[hookline.StatusDelivered] {
			if d.Attempts > 3 {
				t.Fatalf("delivery %s made %d attempts", d.ID, d.Attempts)
			}
		}
	})
}

// TestRetryAfterPausesEndpoint checks that a 429 with Retry-After holds
// back the whole endpoint, not only that delivery.
func TestRetryAfterPausesEndpoint(t *testing.T) {
	stores(t, delivery.Config{}, func(t *testing.T, b *bundle) {
		rc := newStamps(t)
		rc.set(func(w http.ResponseWriter, n int) {
			if n == 1 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
			}
		})
		ep := b.update(t, b.endpoint(t, rc.URL).ID, hookline.EndpointUpdate{MaxInFlight: ptr(1)})
		var ids []string
		for range 5 {
			ids = append(ids, b.send(t, "a", `{}`).ID)
		}
		waitFor(t, "the pause to be known", func() bool { return b.health(t, ep.ID).PausedUntil != nil || rc.count() > 1 })
		for _, id := range ids {
			b.waitStatus(t, id, hookline.StatusDelivered)
		}
		at := rc.times()
		if len(at) != 6 {
			t.Fatalf("%d requests, want 6 (one 429, then the 5 events)", len(at))
		}
		if gap := at[1].Sub(at[0]); gap < 900*time.Millisecond {
			t.Fatalf("the next request came %s after a 429 with Retry-After: 1", gap)
		}
	})
}

// TestRateLimit checks that a receiver with rate_limit 20 sees at most 20
// requests in any second.
func TestRateLimit(t *testing.T) {
	stores(t, delivery.Config{}, func(t *testing.T, b *bundle) {
		rc := newStamps(t)
		ep := b.update(t, b.endpoint(t, rc.URL).ID, hookline.EndpointUpdate{RateLimit: ptr(20.0)})
		events := make([]*hookline.Event, 50)
		for i := range events {
			events[i] = &hookline.Event{Type: "a", Data: json.RawMessage(`{}`)}
		}
		if _, err := b.engine.Ingest(context.Background(), events); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "every delivery", func() bool { return rc.count() == 50 })
		// The limit is on when requests start, which the attempts record:
		// arrival times at the receiver bunch up on a loaded machine.
		var at []time.Time
		waitFor(t, "every attempt recorded", func() bool {
			ds := b.byStatus(t, ep.ID)[hookline.StatusDelivered]
			if len(ds) != 50 {
				return false
			}
			at = at[:0]
			for _, d := range ds {
				as, err := b.store.FindAttempts(context.Background(), d.ID)
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range as {
					at = append(at, a.StartedAt)
				}
			}
			return true
		})
		slices.SortFunc(at, time.Time.Compare)
		most, j := 0, 0
		for i := range at {
			for at[i].Sub(at[j]) >= time.Second {
				j++
			}
			most = max(most, i-j+1)
		}
		if most > 20 {
			t.Fatalf("%d requests within one second to an endpoint limited to 20/s", most)
		}
		if took := at[len(at)-1].Sub(at[0]); took < 2*time.Second {
			t.Fatalf("50 requests in %s at 20/s", took)
		}
	})
}

// TestOperationalEvents checks the operational events: who gets them (only
// explicit subscribers), what they hold, and that they are raised once per
// opening and per closing.
func TestOperationalEvents(t *testing.T) {
	cfg := delivery.Config{BreakerFailures: 2, BreakerCooldown: 100 * time.Millisecond, RetrySchedule: []time.Duration{0}}
	stores(t, cfg, func(t *testing.T, b *bundle) {
		failing := newStamps(t)
		var up atomic.Bool
		failing.set(func(w http.ResponseWriter, n int) {
			if !up.Load() {
				w.WriteHeader(http.StatusBadGateway)
			}
		})
		ops, all := newReceiver(t, nil), newReceiver(t, nil)
		f := b.endpoint(t, failing.URL, "order.*")
		b.endpoint(t, ops.URL, "hookline.*")
		b.endpoint(t, all.URL, "*")
		for range 3 {
			b.send(t, "order.created", `{}`)
		}
		got := map[string][]json.RawMessage{}
		read := func(n int) {
			t.Helper()
			for range n {
				r := ops.next(t)
				var m struct {
					Type string          `json:"type"`
					Data json.RawMessage `json:"data"`
				}
				if err := json.Unmarshal(r.body, &m); err != nil {
					t.Fatal(err)
				}
				got[m.Type] = append(got[m.Type], m.Data)
			}
		}
		read(4) // 3 × delivery.failed, 1 × endpoint.failing, in some order
		if len(got[hookline.EventDeliveryFailed]) != 3 || len(got[hookline.EventEndpointFailing]) != 1 {
			t.Fatalf("operational events received: %v", keysCount(got))
		}
		var df struct {
			EndpointID     string `json:"endpoint_id"`
			URL            string `json:"url"`
			Reason         string `json:"reason"`
			DeliveryID     string `json:"delivery_id"`
			EventID        string `json:"event_id"`
			LastError      string `json:"last_error"`
			LastStatusCode int    `json:"last_status_code"`
		}
		if err := json.Unmarshal(got[hookline.EventDeliveryFailed][0], &df); err != nil {
			t.Fatal(err)
		}
		if df.EndpointID != f.ID || df.URL != f.URL || df.Reason == "" || !strings.HasPrefix(df.DeliveryID, "dlv_") ||
			!strings.HasPrefix(df.EventID, "evt_") || df.LastStatusCode != 502 || df.LastError == "" {
			t.Fatalf("delivery.failed data: %s", got[hookline.EventDeliveryFailed][0])
		}
		var ef struct {
			EndpointID string `json:"endpoint_id"`
			URL        string `json:"url"`
			Reason     string `json:"reason"`
		}
		if err := json.Unmarshal(got[hookline.EventEndpointFailing][0], &ef); err != nil || ef.EndpointID != f.ID || ef.URL != f.URL || ef.Reason == "" {
			t.Fatalf("endpoint.failing data: %s (%v)", got[hookline.EventEndpointFailing][0], err)
		}
		// The circuit closes at the next probe, which a new delivery brings.
		up.Store(true)
		b.send(t, "order.created", `{}`)
		read(1)
		if len(got[hookline.EventEndpointRecovered]) != 1 {
			t.Fatalf("operational events received: %v", keysCount(got))
		}
		// The "*" endpoint got the 4 orders and nothing operational.
		waitFor(t, "the orders at the * endpoint", func() bool { return all.count() >= 4 })
		all.mu.Lock()
		defer all.mu.Unlock()
		for _, r := range all.requests {
			if strings.Contains(string(r.body), `"type":"hookline.`) {
				t.Fatalf("an endpoint subscribed to * got an operational event: %s", r.body)
			}
		}
	})
}

func keysCount(m map[string][]json.RawMessage) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = len(v)
	}
	return out
}

// TestOperationalEndpointRaisesNothing checks that an endpoint subscribed
// to operational events raises none about itself when it fails, so that
// alerting endpoints cannot loop, while a plain endpoint failing beside it
// does.
func TestOperationalEndpointRaisesNothing(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := delivery.Config{BreakerFailures: 1, RetrySchedule: []time.Duration{0}, Registerer: reg}
	b := setup(t, cfg)
	broken := newStamps(t)
	broken.set(func(w http.ResponseWriter, n int) { w.WriteHeader(http.StatusInternalServerError) })
	watcher := newReceiver(t, nil)
	bad := b.endpoint(t, broken.URL, "hookline.*", "order.*")
	plain := b.endpoint(t, broken.URL+"/plain", "order.*")
	b.endpoint(t, watcher.URL, "hookline.*")
	b.send(t, "order.created", `{}`)
	for range 2 { // plain's delivery.failed and endpoint.failing
		watcher.next(t)
	}
	waitFor(t, "both circuits open", func() bool {
		return b.health(t, bad.ID).Circuit == hookline.CircuitOpen && b.health(t, plain.ID).Circuit == hookline.CircuitOpen
	})
	b.stop(t, 5*time.Second) // every attempt's events raised and ingested
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	raised := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "hookline_operational_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			raised[m.GetLabel()[0].GetValue()] += m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{hookline.EventDeliveryFailed: 1, hookline.EventEndpointFailing: 1}
	if !maps.Equal(raised, want) {
		t.Fatalf("operational events raised %v, want %v (none about the operational endpoint)", raised, want)
	}
	watcher.mu.Lock()
	defer watcher.mu.Unlock()
	for _, r := range watcher.requests {
		if strings.Contains(string(r.body), bad.ID) {
			t.Fatalf("an event about the operational endpoint: %s", r.body)
		}
	}
}

// TestAutoDisable checks that an endpoint failing with no success for
// DisableAfter is disabled with reason "failing", and that its tenant is
// told.
func TestAutoDisable(t *testing.T) {
	cfg := delivery.Config{
		BreakerFailures: 1000, DisableAfter: 300 * time.Millisecond,
		RetrySchedule: []time.Duration{0, 50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond,
			100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond},
	}
	stores(t, cfg, func(t *testing.T, b *bundle) {
		rc := newStamps(t)
		rc.set(func(w http.ResponseWriter, n int) { w.WriteHeader(http.StatusServiceUnavailable) })
		ops := newReceiver(t, nil)
		ep := b.endpoint(t, rc.URL, "order.*")
		b.endpoint(t, ops.URL, hookline.EventEndpointDisabled)
		b.send(t, "order.created", `{}`)
		waitFor(t, "the endpoint disabled", func() bool {
			got, err := b.store.FindEndpoint(context.Background(), ep.ID)
			return err == nil && got.Disabled
		})
		got, _ := b.store.FindEndpoint(context.Background(), ep.ID)
		if got.DisabledReason != hookline.DisabledFailing {
			t.Fatalf("disabled_reason %q, want failing", got.DisabledReason)
		}
		r := ops.next(t)
		var m struct {
			Type string
			Data struct {
				EndpointID string `json:"endpoint_id"`
				Reason     string `json:"reason"`
			}
		}
		if err := json.Unmarshal(r.body, &m); err != nil || m.Type != hookline.EventEndpointDisabled ||
			m.Data.EndpointID != ep.ID || m.Data.Reason != hookline.DisabledFailing {
			t.Fatalf("disabled event %s (%v)", r.body, err)
		}
		// Enabling it again clears the reason and the failures.
		en := b.update(t, ep.ID, hookline.EndpointUpdate{Disabled: ptr(false)})
		if en.DisabledReason != "" {
			t.Fatalf("reason after enabling: %q", en.DisabledReason)
		}
		if h := b.health(t, ep.ID); h.ConsecutiveFailures != 0 || h.FailingSince != nil || h.Circuit != hookline.CircuitClosed {
			t.Fatalf("health after enabling: %+v", h)
		}
	})
}

// TestGoneGivesReason checks that a 410 disables with reason "gone".
func TestGoneGivesReason(t *testing.T) {
	stores(t, delivery.Config{}, func(t *testing.T, b *bundle) {
		rc := newStamps(t)
		rc.set(func(w http.ResponseWriter, n int) { w.WriteHeader(http.StatusGone) })
		ep := b.endpoint(t, rc.URL)
		b.send(t, "a", `{}`)
		waitFor(t, "the endpoint disabled", func() bool {
			got, err := b.store.FindEndpoint(context.Background(), ep.ID)
			return err == nil && got.Disabled && got.DisabledReason == hookline.DisabledGone
		})
	})
}

// TestHealthSurvivesRestart checks that an open circuit is still open after
// a restart: the next owner of an endpoint starts from its saved health.
func TestHealthSurvivesRestart(t *testing.T) {
	cfg := delivery.Config{BreakerFailures: 2, BreakerCooldown: time.Hour, RetrySchedule: []time.Duration{0}}
	stores(t, cfg, func(t *testing.T, b *bundle) {
		rc := newStamps(t)
		rc.set(func(w http.ResponseWriter, n int) { w.WriteHeader(http.StatusInternalServerError) })
		ep := b.endpoint(t, rc.URL)
		for range 2 {
			b.send(t, "a", `{}`)
		}
		waitFor(t, "the circuit to open", func() bool { return b.health(t, ep.ID).Circuit == hookline.CircuitOpen })
		b.stop(t, 5*time.Second)
		b.start(t, cfg)
		h := b.health(t, ep.ID)
		if h.Circuit != hookline.CircuitOpen || h.ConsecutiveFailures != 2 || h.FailingSince == nil {
			t.Fatalf("health after a restart: %+v", h)
		}
	})
}

// TestEndpointStats checks the per-endpoint statistics.
func TestEndpointStats(t *testing.T) {
	stores(t, delivery.Config{RetrySchedule: []time.Duration{0}}, func(t *testing.T, b *bundle) {
		rc := newStamps(t)
		rc.set(func(w http.ResponseWriter, n int) {
			if n%4 == 0 {
				w.WriteHeader(http.StatusInternalServerError)
			}
		})
		ep := b.endpoint(t, rc.URL)
		b.update(t, ep.ID, hookline.EndpointUpdate{MaxInFlight: ptr(1)})
		var last string
		for range 8 {
			last = b.send(t, "a", `{}`).ID
		}
		b.waitStatus(t, last, hookline.StatusFailed)
		waitFor(t, "eight attempts", func() bool {
			st, err := b.engine.EndpointStats(context.Background(), ep.ID)
			return err == nil && st.Attempts == 8 && st.Failed == 2
		})
		st, _ := b.engine.EndpointStats(context.Background(), ep.ID)
		if st.Failures != 2 || st.Pending != 0 || st.SuccessRate != 0.75 || st.DeliveriesPerSecond <= 0 ||
			st.LatencyMS.P50 <= 0 || st.LatencyMS.P99 < st.LatencyMS.P50 || !st.Live {
			t.Fatalf("stats %+v", st)
		}
		if _, err := b.engine.EndpointStats(context.Background(), "ep_missing"); hookline.ErrorCode(err) != hookline.ENOTFOUND {
			t.Fatalf("stats of a missing endpoint: %v", err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// TestBadReceiversDoNotStallHealthy mixes the receivers a sender meets:
// slow (a second per answer), refusing connections, answering 500 and
// hanging, beside a healthy one. The healthy one gets every event while
// the others are still failing or hanging; the failing ones' circuits
// open; the slow ones get theirs, at their pace.
func TestBadReceiversDoNotStallHealthy(t *testing.T) {
	cfg := delivery.Config{DeliveryTimeout: 20 * time.Second, BreakerFailures: 5, BreakerCooldown: time.Hour}
	stores(t, cfg, func(t *testing.T, b *bundle) {
		// The slow ones answer after a second, and not before the healthy
		// one has every event: however slow the machine, they are still
		// holding requests while the healthy one is measured.
		healthyDone := make(chan struct{})
		slow := newStamps(t)
		slow.set(func(w http.ResponseWriter, n int) { <-healthyDone; time.Sleep(time.Second) })
		var release sync.Once
		t.Cleanup(func() { release.Do(func() { close(healthyDone) }) }) // before the server closes
		failing := newStamps(t)
		failing.set(func(w http.ResponseWriter, n int) { w.WriteHeader(http.StatusInternalServerError) })
		hang, _ := hangingServer(t)
		closed := httptest.NewServer(http.NotFoundHandler())
		refused := closed.URL
		closed.Close() // nothing listens there now: connections are refused
		healthy := newStamps(t)
		var watch []*hookline.Endpoint
		for i := range 3 {
			b.endpoint(t, fmt.Sprintf("%s/slow/%d", slow.URL, i))
			watch = append(watch, b.endpoint(t, fmt.Sprintf("%s/fail/%d", failing.URL, i)))
			watch = append(watch, b.endpoint(t, fmt.Sprintf("%s/refused/%d", refused, i)))
			b.endpoint(t, fmt.Sprintf("%s/hang/%d", hang.URL, i))
		}
		b.endpoint(t, healthy.URL)
		const events = 40
		for range events {
			b.send(t, "a", `{}`)
		}
		waitFor(t, "every event at the healthy endpoint", func() bool { return healthy.count() == events })
		release.Do(func() { close(healthyDone) })
		waitFor(t, "the circuits of failing and refusing endpoints to open", func() bool {
			for _, ep := range watch {
				if b.health(t, ep.ID).Circuit != hookline.CircuitOpen {
					return false
				}
			}
			return true
		})
		if n := failing.count(); n > 3*16 {
			t.Fatalf("the failing endpoints got %d requests for %d events each: the breaker should cut them off", n, events)
		}
		waitFor(t, "the slow endpoints' deliveries", func() bool { return slow.count() == 3*events })
	})
}
