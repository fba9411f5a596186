package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/delivery"
)

// message is a delivered message as receivers parse it.
type message struct {
	ID   string          `json:"id"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// orderData is the data of the events of the ordering tests.
type orderData struct {
	Key string `json:"key"`
	N   int    `json:"n"`
}

// sendOrdered ingests events of key with data {key, n}.
func (b *bundle) sendOrdered(t *testing.T, key string, n, priority int) string {
	t.Helper()
	data, _ := json.Marshal(orderData{key, n})
	res, err := b.engine.Ingest(context.Background(), []*hookline.Event{{
		Type: "order.updated", Data: data, OrderingKey: key, Priority: priority,
	}})
	if err != nil {
		t.Fatal(err)
	}
	return res[0].ID
}

// fifoReceiver fails a share of requests at random and records, per key,
// the order in which events first succeeded, and how many keys were being
// answered at once at most.
type fifoReceiver struct {
	*stamps
	mu       sync.Mutex
	done     map[string]bool // event IDs that succeeded
	order    map[string][]int
	inFlight map[string]int // requests under way per key
	overlap  atomic.Int64   // requests of one key at once, beyond one
	keysPeak atomic.Int64   // keys answered at once, at most
	down     atomic.Bool    // answer 502 to everything
}

func newFIFOReceiver(t *testing.T, failRatio float64, hold time.Duration) *fifoReceiver {
	fr := &fifoReceiver{done: map[string]bool{}, order: map[string][]int{}, inFlight: map[string]int{}}
	rnd := rand.New(rand.NewPCG(7, 8))
	var rmu sync.Mutex
	fr.stamps = newStampsWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fr.down.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		var m message
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var d orderData
		_ = json.Unmarshal(m.Data, &d)
		fr.mu.Lock()
		fr.inFlight[d.Key]++
		if fr.inFlight[d.Key] > 1 {
			fr.overlap.Add(1)
		}
		busy := int64(0)
		for _, n := range fr.inFlight {
			if n > 0 {
				busy++
			}
		}
		if busy > fr.keysPeak.Load() {
			fr.keysPeak.Store(busy)
		}
		fr.mu.Unlock()
		time.Sleep(hold)
		rmu.Lock()
		fail := rnd.Float64() < failRatio
		rmu.Unlock()
		fr.mu.Lock()
		fr.inFlight[d.Key]--
		if !fail && !fr.done[m.ID] {
			fr.done[m.ID] = true
			fr.order[d.Key] = append(fr.order[d.Key], d.N)
		}
		fr.mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	return fr
}

func (fr *fifoReceiver) succeeded() int {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	return len(fr.done)
}

// check fails the test unless every key's events first succeeded in the
// order they were sent.
func (fr *fifoReceiver) check(t *testing.T, keys, perKey int) {
	t.Helper()
	fr.mu.Lock()
	defer fr.mu.Unlock()
	for k := range keys {
		key := fmt.Sprint("k", k)
		got := fr.order[key]
		if len(got) != perKey || !slices.IsSorted(got) {
			t.Fatalf("key %s: first successes in order %v (%d of %d), want 0…%d ascending", key, got, len(got), perKey, perKey-1)
		}
	}
	if n := fr.overlap.Load(); n > 0 {
		t.Fatalf("%d requests of a key while another of the same key was under way", n)
	}
}

// fastRetries is a retry schedule that never dead-letters in a test.
var fastRetries = []time.Duration{0, 5 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond,
	10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond,
	10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond,
	10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond,
	10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}

// TestFIFOOrderWithFailures sends hundreds of events per key to a fifo
// endpoint whose receiver fails a third of the requests at random; each
// key's events succeed in the order they were accepted, one at a time,
// while different keys go in parallel; a restart in the middle keeps the
// order.
func TestFIFOOrderWithFailures(t *testing.T) {
	const keys, perKey = 4, 150
	cfg := delivery.Config{RetrySchedule: fastRetries, BreakerFailures: 1 << 20}
	stores(t, cfg, func(t *testing.T, b *bundle) {
		rc := newFIFOReceiver(t, 0.3, time.Millisecond)
		ep := b.endpoint(t, rc.URL)
		b.update(t, ep.ID, hookline.EndpointUpdate{Ordering: ptr(hookline.OrderingFIFO)})
		for n := range perKey {
			for k := range keys {
				b.sendOrdered(t, fmt.Sprint("k", k), n, rand.IntN(10)) // priorities must not reorder a key
			}
			if n == perKey/2 {
				waitFor(t, "some deliveries before the restart", func() bool { return rc.succeeded() > 50 })
				b.stop(t, 5*time.Second)
				b.start(t, cfg)
			}
		}
		waitFor(t, "every delivery", func() bool { return rc.succeeded() == keys*perKey })
		rc.check(t, keys, perKey)
		if p := rc.keysPeak.Load(); p < 2 {
			t.Fatalf("at most %d key answered at once: keys should go in parallel", p)
		}
	})
}

// TestFIFOBatches sends a batched fifo endpoint runs of one key, in
// order, as JSON arrays.
func TestFIFOBatches(t *testing.T) {
	stores(t, delivery.Config{RetrySchedule: fastRetries}, func(t *testing.T, b *bundle) {
		var mu sync.Mutex
		seen := map[string][]int{}
		var sizes []int
		rc := newStampsWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var ms []message
			if err := json.NewDecoder(r.Body).Decode(&ms); err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			sizes = append(sizes, len(ms))
			key := ""
			for i, m := range ms {
				var d orderData
				_ = json.Unmarshal(m.Data, &d)
				if i > 0 && d.Key != key {
					t.Errorf("a batch of a fifo endpoint mixes keys %s and %s", key, d.Key)
				}
				key = d.Key
				seen[d.Key] = append(seen[d.Key], d.N)
			}
		}))
		ep := b.endpoint(t, rc.URL)
		b.update(t, ep.ID, hookline.EndpointUpdate{Ordering: ptr(hookline.OrderingFIFO), SetBatch: true,
			Batch: &hookline.Batch{MaxEvents: 5, MaxWaitMS: 50}})
		for n := range 20 {
			for _, k := range []string{"a", "b"} {
				b.sendOrdered(t, k, n, 5)
			}
		}
		waitFor(t, "40 deliveries", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(seen["a"])+len(seen["b"]) == 40
		})
		mu.Lock()
		defer mu.Unlock()
		for _, k := range []string{"a", "b"} {
			if !slices.IsSorted(seen[k]) || len(seen[k]) != 20 {
				t.Fatalf("key %s delivered in order %v", k, seen[k])
			}
		}
		if slices.Max(sizes) > 5 || slices.Max(sizes) < 2 {
			t.Fatalf("batch sizes %v, want runs of up to 5", sizes)
		}
	})
}

// TestBatchedDelivery checks a batched endpoint: arrays of up to max_events
// messages, each request verifiable with the Standard Webhooks library
// under a batch ID; a failed batch is retried whole under the same ID;
// every delivery records the attempts.
func TestBatchedDelivery(t *testing.T) {
	stores(t, delivery.Config{RetrySchedule: fastRetries}, func(t *testing.T, b *bundle) {
		type req struct {
			id  string
			ids []string
		}
		var mu sync.Mutex
		var reqs []req
		var verr error
		var secret string
		rc := newStampsWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			defer mu.Unlock()
			wh, _ := standardwebhooks.NewWebhook(secret)
			if err := wh.Verify(body, r.Header); err != nil && verr == nil {
				verr = err
			}
			var ms []message
			if err := json.Unmarshal(body, &ms); err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			q := req{id: r.Header.Get("webhook-id")}
			for _, m := range ms {
				q.ids = append(q.ids, m.ID)
			}
			reqs = append(reqs, q)
			if len(reqs) == 1 {
				w.WriteHeader(http.StatusInternalServerError) // the first batch is retried
			}
		}))
		ep := b.endpoint(t, rc.URL)
		secret = ep.Secret
		b.update(t, ep.ID, hookline.EndpointUpdate{SetBatch: true, Batch: &hookline.Batch{MaxEvents: 10, MaxWaitMS: 200}})
		events := make([]*hookline.Event, 25)
		for i := range events {
			events[i] = &hookline.Event{Type: "a", Data: json.RawMessage(fmt.Sprint(i))}
		}
		res, err := b.engine.Ingest(context.Background(), events)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			b.waitStatus(t, r.ID, hookline.StatusDelivered)
		}
		mu.Lock()
		defer mu.Unlock()
		if verr != nil {
			t.Fatalf("the official library rejects a batch: %v", verr)
		}
		got := map[string]int{}
		for _, q := range reqs {
			if !strings.HasPrefix(q.id, hookline.BatchPrefix) || len(q.ids) > 10 {
				t.Fatalf("request %s with %d messages", q.id, len(q.ids))
			}
			for _, id := range q.ids {
				got[id]++
			}
		}
		retried := slices.IndexFunc(reqs[1:], func(q req) bool { return q.id == reqs[0].id })
		if len(reqs) < 4 || retried < 0 || !slices.Equal(reqs[1+retried].ids, reqs[0].ids) {
			t.Fatalf("the failed batch %v was not retried whole under its ID (then %v)", reqs[0], reqs[1:])
		}
		for _, r := range res {
			want := 1
			if slices.Contains(reqs[0].ids, r.ID) {
				want = 2
			}
			if got[r.ID] != want {
				t.Fatalf("event %s in %d requests, want %d", r.ID, got[r.ID], want)
			}
		}
		first := b.deliveries(t, reqs[0].ids[0])[0]
		atts, err := b.store.FindAttempts(context.Background(), first.ID)
		if err != nil || len(atts) != 2 || atts[0].StatusCode != 500 || atts[1].StatusCode != 200 {
			t.Fatalf("attempts of a delivery of the retried batch: %+v, %v", atts, err)
		}
	})
}

// TestBatchRateLimitCountsRequests checks that a batched endpoint's
// rate_limit limits requests, not events.
func TestBatchRateLimitCountsRequests(t *testing.T) {
	stores(t, delivery.Config{}, func(t *testing.T, b *bundle) {
		rc := newStamps(t)
		ep := b.endpoint(t, rc.URL)
		b.update(t, ep.ID, hookline.EndpointUpdate{RateLimit: ptr(2.0), SetBatch: true,
			Batch: &hookline.Batch{MaxEvents: 50, MaxWaitMS: 0}})
		events := make([]*hookline.Event, 200)
		for i := range events {
			events[i] = &hookline.Event{Type: "a", Data: json.RawMessage(`1`)}
		}
		res, err := b.engine.Ingest(context.Background(), events)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			b.waitStatus(t, r.ID, hookline.StatusDelivered)
		}
		at := rc.times()
		if len(at) < 4 || len(at) > 12 {
			t.Fatalf("%d requests for 200 events in batches of up to 50", len(at))
		}
		for i := 2; i < len(at); i++ {
			if at[i].Sub(at[i-2]) < 950*time.Millisecond {
				t.Fatalf("3 requests within %s at 2/s", at[i].Sub(at[i-2]))
			}
		}
	})
}

// inMemory returns how many deliveries the engine holds in memory.
func inMemory(t *testing.T, b *bundle) int {
	t.Helper()
	st, err := b.engine.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Node.InMemory
}

// TestPriorityJumpsBacklog checks that priority-9 events go before a
// backlog of priority-1 ones queued earlier at the same endpoint. The
// receiver holds the backlog's first request until the priority-9
// deliveries are in memory: otherwise the test measured how fast ten
// one-by-one ingests are against how fast the backlog drains (it failed in
// a CI run on a slow machine, the last priority-9 event 74th).
func TestPriorityJumpsBacklog(t *testing.T) {
	stores(t, delivery.Config{}, func(t *testing.T, b *bundle) {
		var mu sync.Mutex
		var order []int
		release := make(chan struct{})
		rc := newStampsWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var m message
			_ = json.NewDecoder(r.Body).Decode(&m)
			var d orderData
			_ = json.Unmarshal(m.Data, &d)
			<-release
			mu.Lock()
			order = append(order, d.N)
			mu.Unlock()
		}))
		ep := b.endpoint(t, rc.URL)
		b.update(t, ep.ID, hookline.EndpointUpdate{MaxInFlight: ptr(1)})
		backlog := make([]*hookline.Event, 300) // n ≥ 1000, in one request
		for i := range backlog {
			data, _ := json.Marshal(orderData{N: 1000 + i})
			backlog[i] = &hookline.Event{Type: "a", Data: data, Priority: 1}
		}
		if _, err := b.engine.Ingest(context.Background(), backlog); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the first request", func() bool { return rc.count() == 1 })
		before := inMemory(t, b)
		for i := range 10 {
			b.sendOrdered(t, "", i, 9)
		}
		waitFor(t, "the priority-9 deliveries in memory", func() bool { return inMemory(t, b) >= before+10 })
		close(release)
		waitFor(t, "every delivery", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(order) == 310
		})
		mu.Lock()
		defer mu.Unlock()
		last := 0
		for i, n := range order {
			if n < 1000 {
				last = i
			}
		}
		if last > 11 {
			t.Fatalf("the last priority-9 event went out %dth of 310, behind %d of the priority-1 backlog", last+1, last-9)
		}
	})
}

// TestPriorityJumpsFullMemory checks that priority-9 events go out next
// even when a priority-1 backlog fills the memory queue and the endpoint's
// share of it: they take the reserve at ingest instead of waiting in the
// store for the poller's next page, which comes only once a quarter of
// memory is free (16 deliveries here).
func TestPriorityJumpsFullMemory(t *testing.T) {
	stores(t, delivery.Config{MemoryQueue: 64}, func(t *testing.T, b *bundle) {
		var mu sync.Mutex
		var order []int
		release := make(chan struct{})
		rc := newStampsWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var m message
			_ = json.NewDecoder(r.Body).Decode(&m)
			var d orderData
			_ = json.Unmarshal(m.Data, &d)
			mu.Lock()
			order = append(order, d.N)
			mu.Unlock()
			<-release
		}))
		ep := b.endpoint(t, rc.URL)
		b.update(t, ep.ID, hookline.EndpointUpdate{MaxInFlight: ptr(1)})
		backlog := make([]*hookline.Event, 600) // n ≥ 1000
		for i := range backlog {
			data, _ := json.Marshal(orderData{N: 1000 + i})
			backlog[i] = &hookline.Event{Type: "a", Data: data, Priority: 1}
		}
		if _, err := b.engine.Ingest(context.Background(), backlog); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the first request", func() bool { return rc.count() == 1 })
		before := inMemory(t, b) // the endpoint's share of memory, full: it takes no more of the backlog
		for i := range 5 {
			b.sendOrdered(t, "", i, 9)
		}
		// The 202 comes once an event is durable, just before its
		// deliveries are handed to the scheduler: wait for that hand-over,
		// which is not what this test is about, before letting the backlog
		// go.
		waitFor(t, "the priority-9 deliveries in memory", func() bool { return inMemory(t, b) >= before+5 })
		close(release)
		waitFor(t, "every delivery", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(order) == 605
		})
		mu.Lock()
		defer mu.Unlock()
		last := 0
		for i, n := range order {
			if n < 1000 {
				last = i
			}
		}
		if last > 5 {
			t.Fatalf("the last priority-9 event went out %dth of 605, behind %d of the priority-1 backlog", last+1, last-4)
		}
	})
}

// TestFIFOHoldsOrderBehindOpenCircuit checks that an ordered endpoint whose
// circuit opens keeps each key's order when it closes again.
func TestFIFOHoldsOrderBehindOpenCircuit(t *testing.T) {
	cfg := delivery.Config{RetrySchedule: fastRetries, BreakerFailures: 3, BreakerCooldown: 100 * time.Millisecond,
		BreakerMaxCooldown: 200 * time.Millisecond}
	stores(t, cfg, func(t *testing.T, b *bundle) {
		rc := newFIFOReceiver(t, 0, 0)
		rc.down.Store(true)
		ep := b.endpoint(t, rc.URL)
		b.update(t, ep.ID, hookline.EndpointUpdate{Ordering: ptr(hookline.OrderingFIFO)})
		for n := range 30 {
			for k := range 3 {
				b.sendOrdered(t, fmt.Sprint("k", k), n, 5)
			}
		}
		waitFor(t, "the circuit to open", func() bool { return b.health(t, ep.ID).Circuit != hookline.CircuitClosed })
		rc.down.Store(false)
		waitFor(t, "every delivery", func() bool { return rc.succeeded() == 90 })
		rc.check(t, 3, 30)
	})
}
