package api

import (
	"crypto/sha256"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	b := setup(t, func(c *Config) { c.RateLimit, c.Now = 2, clock.Now })

	// A burst of one second's worth, then 429 with Retry-After.
	b.do(t, "GET", "/v1/stats", "").ok(t, 200, nil)
	b.do(t, "GET", "/v1/endpoints", "").ok(t, 200, nil)
	res := b.do(t, "POST", "/v1/events", `{"type":"a","data":1}`)
	res.wantError(t, 429, hookline.ERATELIMIT, "2 per second")
	if got := res.header.Get("Retry-After"); got != "1" {
		t.Fatalf("Retry-After %q, want 1", got)
	}
	if st := b.storeStats(t); st.Events != 0 {
		t.Fatal("a limited request wrote")
	}
	// A refused request costs nothing: after half a second, one more.
	clock.Add(500 * time.Millisecond)
	b.do(t, "GET", "/v1/stats", "").ok(t, 200, nil)
	b.do(t, "GET", "/v1/stats", "").wantError(t, 429, hookline.ERATELIMIT)

	// Probes are not limited, nor counted; wrong keys are refused first.
	for range 5 {
		req := b.request(t, "GET", "/healthz", "")
		req.Header.Del("Authorization")
		if res := b.send(t, req); res.code != 200 {
			t.Fatalf("healthz: %d", res.code)
		}
		b.do(t, "GET", "/v1/stats", "", "Authorization", "Bearer wrong").wantError(t, 401, hookline.EUNAUTHORIZED)
	}
	clock.Add(time.Second)
	b.do(t, "GET", "/v1/stats", "").ok(t, 200, nil)

	// In-process requests marked Unmetered (the dashboard's) are not
	// counted, while the key's budget is spent.
	clock.Add(time.Second)
	b.do(t, "GET", "/v1/stats", "").ok(t, 200, nil)
	b.do(t, "GET", "/v1/stats", "").ok(t, 200, nil)
	b.do(t, "GET", "/v1/stats", "").wantError(t, 429, hookline.ERATELIMIT)
	for range 5 {
		req := httptest.NewRequest("GET", "/v1/stats", nil)
		req.Header.Set("Authorization", "Bearer "+testKey)
		rec := httptest.NewRecorder()
		b.srv.Config.Handler.ServeHTTP(rec, req.WithContext(Unmetered(req.Context())))
		if rec.Code != 200 {
			t.Fatalf("unmetered request: %d %s", rec.Code, rec.Body)
		}
	}

	// Off by default.
	off := setup(t)
	for range 50 {
		off.do(t, "GET", "/v1/stats", "").ok(t, 200, nil)
	}
}

func TestKeyLimiter(t *testing.T) {
	t.Parallel()
	if newKeyLimiter(0) != nil || newKeyLimiter(-1) != nil {
		t.Fatal("a limiter for no limit")
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newKeyLimiter(0.5) // a request every 2 s, burst 1
	a, b := sha256.Sum256([]byte("a")), sha256.Sum256([]byte("b"))
	if ok, _ := l.allow(a, now); !ok {
		t.Fatal("first request of a refused")
	}
	if ok, wait := l.allow(a, now); ok || wait != 2*time.Second || retryAfter(wait) != 2 {
		t.Fatalf("second request of a: %v, wait %s", ok, wait)
	}
	if ok, _ := l.allow(b, now); !ok {
		t.Fatal("b is limited by a's requests")
	}
	if ok, _ := l.allow(a, now.Add(2*time.Second)); !ok {
		t.Fatal("a refused after 2 s")
	}
	if retryAfter(time.Millisecond) != 1 || retryAfter(1500*time.Millisecond) != 2 {
		t.Fatal("retryAfter does not round up")
	}

	// The map of keys is bounded: idle keys go first, then the least
	// recently used, and a key that is forgotten starts full again.
	l = newKeyLimiter(1)
	l.max = 3
	keys := make([][sha256.Size]byte, 5)
	for i := range keys {
		keys[i] = sha256.Sum256([]byte{byte(i)})
	}
	for i := range 3 {
		l.allow(keys[i], now.Add(time.Duration(i)*100*time.Millisecond))
	}
	l.allow(keys[3], now.Add(300*time.Millisecond)) // evicts keys[0], the oldest
	if len(l.keys) != 3 || l.keys[keys[0]] != nil {
		t.Fatalf("%d keys; the oldest kept: %v", len(l.keys), l.keys[keys[0]] != nil)
	}
	l.allow(keys[4], now.Add(5*time.Second)) // every other key is idle and full
	if len(l.keys) != 1 {
		t.Fatalf("%d keys after every idle one could go", len(l.keys))
	}
	for i := range 100_000 {
		l.allow(sha256.Sum256([]byte{byte(i), byte(i >> 8), byte(i >> 16)}), now.Add(10*time.Second))
	}
	if len(l.keys) > 3 {
		t.Fatalf("%d keys held, bound 3", len(l.keys))
	}
}
