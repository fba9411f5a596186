package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/sqlite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testKey is the API key of every test server.
const testKey = "hk_test-key-0123456789abcdefghijklmnop"

// testEngine implements Engine on the store directly, without dispatching:
// what the API does is all there is to see.
type testEngine struct {
	store hookline.Store

	unavailable atomic.Bool  // Ingest and Ready fail with EUNAVAILABLE
	statsErr    atomic.Value // error: returned by Stats when set

	mu      sync.Mutex
	changed map[string]*hookline.Endpoint // EndpointChanged calls by ID
}

var _ Engine = (*testEngine)(nil)

func (e *testEngine) Ingest(ctx context.Context, events []*hookline.Event) ([]hookline.IngestResult, error) {
	if e.unavailable.Load() {
		return nil, hookline.Errorf(hookline.EUNAVAILABLE, "backlog over its bound")
	}
	now := hookline.Now()
	for _, ev := range events {
		ev.ID = hookline.NewID(hookline.EventPrefix, now)
		ev.CreatedAt = now
	}
	req := &hookline.IngestRequest{Events: events}
	if err := e.store.Ingest(ctx, []*hookline.IngestRequest{req}, now); err != nil {
		if hookline.ErrorCode(err) == hookline.EINTERNAL {
			return nil, hookline.Errorf(hookline.EUNAVAILABLE, "the store could not commit the events")
		}
		return nil, err
	}
	if req.Err != nil {
		return nil, req.Err
	}
	return req.Results, nil
}

func (e *testEngine) ReplayEvent(ctx context.Context, eventID string) (int, error) {
	tasks, err := e.store.ReplayEvent(ctx, eventID, false, hookline.Now())
	return len(tasks), err
}

func (e *testEngine) RetryDelivery(ctx context.Context, id string) (*hookline.Delivery, error) {
	return e.store.RetryDelivery(ctx, id, hookline.Now())
}

func (e *testEngine) RecoverEndpoint(ctx context.Context, endpointID string, since time.Time) (int, error) {
	return e.store.RecoverEndpoint(ctx, endpointID, since, hookline.Now())
}

func (e *testEngine) ReplayMissing(ctx context.Context, endpointID string, since, until time.Time) (int, error) {
	r := hookline.ReplayMissingRequest{EndpointID: endpointID, Since: since, Until: until}
	total := 0
	for {
		page, err := e.store.ReplayMissing(ctx, r, hookline.Now())
		total += page.Created
		if err != nil || page.Next == "" {
			return total, err
		}
		r.After = page.Next
	}
}

func (e *testEngine) RetryDeliveries(ctx context.Context, f hookline.DeliveryFilter) (int, error) {
	total := 0
	for {
		res, err := e.store.RetryDeliveries(ctx, f, hookline.DefaultRetryBatch, hookline.Now())
		total += res.Requeued
		if err != nil || res.Requeued < hookline.DefaultRetryBatch {
			return total, err
		}
	}
}

func (e *testEngine) EndpointChanged(id string, ep *hookline.Endpoint) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.changed == nil {
		e.changed = make(map[string]*hookline.Endpoint)
	}
	e.changed[id] = ep
}

// lastChange returns the endpoint of the last EndpointChanged call for id,
// and whether there was one.
func (e *testEngine) lastChange(id string) (*hookline.Endpoint, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ep, ok := e.changed[id]
	return ep, ok
}

func (e *testEngine) Stats(ctx context.Context) (hookline.Stats, error) {
	if err, _ := e.statsErr.Load().(error); err != nil {
		return hookline.Stats{}, err
	}
	st, err := e.store.Stats(ctx)
	return hookline.Stats{StoreStats: st, SuccessRate: 1}, err
}

func (e *testEngine) EndpointHealth(ctx context.Context, id string) (hookline.EndpointHealth, error) {
	h, err := e.store.FindHealth(ctx, id)
	return h.Normalized(), err
}

func (e *testEngine) EndpointStats(ctx context.Context, id string) (hookline.EndpointStats, error) {
	c, err := e.store.EndpointCounts(ctx, id)
	return hookline.EndpointStats{Pending: c.Pending, Failed: c.Failed, SuccessRate: 1}, err
}

func (e *testEngine) Ready(ctx context.Context) (any, error) {
	if e.unavailable.Load() {
		return map[string]string{"store": "unavailable"}, errors.New("unavailable")
	}
	if err := e.store.Ping(ctx); err != nil {
		return map[string]string{"store": "down"}, err
	}
	return map[string]string{"store": "ok"}, nil
}

// bundle is a running API server with its collaborators.
type bundle struct {
	srv    *httptest.Server
	client *http.Client
	store  *sqlite.Store
	engine *testEngine
	logs   *syncBuffer
}

// setup starts an API server on a fresh SQLite store. opts adjust the
// config before the server is built.
func setup(t *testing.T, opts ...func(*Config)) *bundle {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "hookline.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() }) // some tests close it early
	b := &bundle{store: st, engine: &testEngine{store: st}, logs: &syncBuffer{}}
	c := Config{
		Store:    st,
		Engine:   b.engine,
		APIKey:   testKey,
		CheckURL: testCheckURL,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "hookline_up 1\n")
		}),
		Logger: slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range opts {
		o(&c)
	}
	b.srv = httptest.NewServer(NewServer(c))
	b.client = b.srv.Client()
	t.Cleanup(b.srv.Close)
	return b
}

// testCheckURL refuses the private literal hosts 10.x and 127.x, as
// delivery.CheckURL does without --allow-private-networks.
func testCheckURL(raw string) error {
	if strings.Contains(raw, "://10.") || strings.Contains(raw, "://127.") {
		return hookline.Errorf(hookline.EINVALID, "url: a private address; start hookline with --allow-private-networks to allow it")
	}
	return nil
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// response is an answer of the server under test.
type response struct {
	code   int
	header http.Header
	body   []byte
}

// request builds an authorized request; a non-empty body is sent as
// application/json.
func (b *bundle) request(t *testing.T, method, path, body string) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// send sends req and reads the whole answer.
func (b *bundle) send(t *testing.T, req *http.Request) *response {
	t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{code: resp.StatusCode, header: resp.Header, body: body}
}

// do sends an authorized request, with headers given as name, value pairs.
func (b *bundle) do(t *testing.T, method, path, body string, hdr ...string) *response {
	t.Helper()
	req := b.request(t, method, path, body)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return b.send(t, req)
}

// ok checks the status of r and decodes its JSON body into v (if not nil).
func (r *response) ok(t *testing.T, status int, v any) {
	t.Helper()
	if r.code != status {
		t.Fatalf("status %d, want %d: %s", r.code, status, r.body)
	}
	if v != nil {
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type %q, want application/json", ct)
		}
		if err := json.Unmarshal(r.body, v); err != nil {
			t.Fatalf("decode %s: %v", r.body, err)
		}
	}
}

// wantError checks that r is the JSON error answer of code with status, and
// that its message contains every one of parts.
func (r *response) wantError(t *testing.T, status int, code string, parts ...string) {
	t.Helper()
	if r.code != status {
		t.Fatalf("status %d, want %d: %s", r.code, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json: %s", ct, r.body)
	}
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %s: %v", r.body, err)
	}
	if e.Error != code {
		t.Fatalf("error code %q, want %q: %s", e.Error, code, r.body)
	}
	for _, p := range parts {
		if !strings.Contains(e.Message, p) {
			t.Fatalf("message %q does not contain %q", e.Message, p)
		}
	}
}

// storeStats returns the store's counts.
func (b *bundle) storeStats(t *testing.T) hookline.StoreStats {
	t.Helper()
	st, err := b.store.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("MissingKey", func(t *testing.T) {
		req := b.request(t, "GET", "/v1/endpoints", "")
		req.Header.Del("Authorization")
		res := b.send(t, req)
		res.wantError(t, 401, hookline.EUNAUTHORIZED, "Authorization")
		if !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("WWW-Authenticate %q", res.header.Get("WWW-Authenticate"))
		}
	})
	t.Run("WrongKey", func(t *testing.T) {
		res := b.do(t, "GET", "/v1/endpoints", "", "Authorization", "Bearer hk_wrong")
		res.wantError(t, 401, hookline.EUNAUTHORIZED, "not valid")
		if !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("WWW-Authenticate %q", res.header.Get("WWW-Authenticate"))
		}
	})
	t.Run("KeyPrefix", func(t *testing.T) {
		b.do(t, "GET", "/v1/endpoints", "", "Authorization", "Bearer "+testKey[:len(testKey)-1]).
			wantError(t, 401, hookline.EUNAUTHORIZED)
	})
	t.Run("OtherScheme", func(t *testing.T) {
		b.do(t, "GET", "/v1/endpoints", "", "Authorization", "Basic "+testKey).
			wantError(t, 401, hookline.EUNAUTHORIZED, "Bearer")
	})
	t.Run("SchemeIsCaseInsensitive", func(t *testing.T) {
		b.do(t, "GET", "/v1/endpoints", "", "Authorization", "bearer "+testKey).ok(t, 200, nil)
	})
	t.Run("UnknownRouteNeedsKey", func(t *testing.T) {
		req := b.request(t, "GET", "/v1/nothing-here", "")
		req.Header.Del("Authorization")
		b.send(t, req).wantError(t, 401, hookline.EUNAUTHORIZED)
	})
	t.Run("FailedWriteWritesNothing", func(t *testing.T) {
		req := b.request(t, "POST", "/v1/endpoints", `{"url":"https://example.com/hook"}`)
		req.Header.Set("Authorization", "Bearer nope")
		b.send(t, req).wantError(t, 401, hookline.EUNAUTHORIZED)
		if st := b.storeStats(t); st.Endpoints != 0 {
			t.Fatalf("%d endpoints after a 401", st.Endpoints)
		}
	})
	t.Run("NoKeyConfigured", func(t *testing.T) {
		nokey := setup(t, func(c *Config) { c.APIKey = "" })
		nokey.do(t, "GET", "/v1/endpoints", "", "Authorization", "Bearer ").wantError(t, 401, hookline.EUNAUTHORIZED)
	})
	t.Run("ProbesNeedNoKey", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
			req := b.request(t, "GET", path, "")
			req.Header.Del("Authorization")
			if res := b.send(t, req); res.code != 200 {
				t.Fatalf("GET %s without a key: %d %s", path, res.code, res.body)
			}
		}
	})
}

func TestRouting(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("UnknownRoute", func(t *testing.T) {
		b.do(t, "GET", "/v1/nothing-here", "").wantError(t, 404, hookline.ENOTFOUND, "/v1/nothing-here")
		b.do(t, "GET", "/v1/endpoints/x/y/z", "").wantError(t, 404, hookline.ENOTFOUND)
		b.do(t, "GET", "/", "").wantError(t, 404, hookline.ENOTFOUND)
		b.do(t, "GET", "/favicon.ico", "").wantError(t, 404, hookline.ENOTFOUND)
	})
	t.Run("MethodNotAllowed", func(t *testing.T) {
		for _, tt := range []struct{ method, path, allow string }{
			{"PUT", "/v1/endpoints", "GET, HEAD, POST"},
			{"POST", "/v1/endpoints/ep_x", "GET, HEAD, PATCH, DELETE"},
			{"PUT", "/v1/events", "GET, HEAD, POST"},
			{"DELETE", "/v1/deliveries/dlv_x/retry", "POST"},
			{"POST", "/healthz", "GET, HEAD"},
			{"DELETE", "/v1/stats", "GET, HEAD"},
		} {
			res := b.do(t, tt.method, tt.path, "")
			res.wantError(t, 405, hookline.EMETHOD, tt.method)
			if got := res.header.Get("Allow"); got != tt.allow {
				t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, got, tt.allow)
			}
		}
	})
	t.Run("Head", func(t *testing.T) {
		if res := b.do(t, "HEAD", "/healthz", ""); res.code != 200 || len(res.body) != 0 {
			t.Fatalf("HEAD /healthz: %d %q", res.code, res.body)
		}
	})
	t.Run("Dashboard", func(t *testing.T) {
		d := setup(t, func(c *Config) {
			c.Dashboard = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "dashboard")
			})
			c.Metrics = nil
		})
		if res := d.do(t, "GET", "/", ""); res.code != 200 || string(res.body) != "dashboard" {
			t.Fatalf("GET /: %d %s", res.code, res.body)
		}
		d.do(t, "GET", "/v1/nothing-here", "").wantError(t, 404, hookline.ENOTFOUND)
		d.do(t, "POST", "/healthz", "").wantError(t, 405, hookline.EMETHOD)
	})
	t.Run("NoMetrics", func(t *testing.T) {
		setup(t, func(c *Config) { c.Metrics = nil }).do(t, "GET", "/metrics", "").wantError(t, 404, hookline.ENOTFOUND)
	})
	t.Run("Panic", func(t *testing.T) {
		p := setup(t, func(c *Config) {
			c.Metrics = http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })
		})
		p.do(t, "GET", "/metrics", "").wantError(t, 500, hookline.EINTERNAL, "Internal error.")
		if !strings.Contains(p.logs.String(), "boom") {
			t.Fatalf("panic not logged:\n%s", p.logs)
		}
	})
}

func TestLogging(t *testing.T) {
	t.Parallel()
	b := setup(t)
	secret := "whsec_" + strings.Repeat("QUJD", 8)
	var ep struct{ ID string }
	b.do(t, "POST", "/v1/endpoints", `{"url":"https://example.com/hook","secret":"`+secret+`"}`).ok(t, 201, &ep)
	b.do(t, "GET", "/v1/endpoints/"+ep.ID+"/secret", "").ok(t, 200, nil)
	b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, `{"secret":"whsec_bad`+secret+`"}`).wantError(t, 400, hookline.EINVALID, "secret")
	b.do(t, "GET", "/v1/endpoints", "", "Authorization", "Bearer "+testKey+"x").wantError(t, 401, hookline.EUNAUTHORIZED)
	b.engine.statsErr.Store(errors.New("stats exploded"))
	b.do(t, "GET", "/v1/stats", "").wantError(t, 500, hookline.EINTERNAL)

	logs := b.logs.String()
	for _, line := range []string{
		"level=DEBUG msg=\"http request\" method=POST path=/v1/endpoints status=201",
		"level=INFO msg=\"http request\" method=GET path=/v1/endpoints status=401",
		"level=ERROR msg=\"internal error\" method=GET path=/v1/stats err=\"stats exploded\"",
		"level=WARN msg=\"http request\" method=GET path=/v1/stats status=500",
	} {
		if !strings.Contains(logs, line) {
			t.Errorf("logs lack %q:\n%s", line, logs)
		}
	}
	if n := strings.Count(logs, "level=ERROR"); n != 1 {
		t.Errorf("%d errors logged, want 1 (only the internal one):\n%s", n, logs)
	}
	for _, s := range []string{testKey, secret[6:]} {
		if strings.Contains(logs, s) {
			t.Fatalf("logs contain a secret %q:\n%s", s, logs)
		}
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var h map[string]any
	b.do(t, "GET", "/healthz", "").ok(t, 200, &h)
	if len(h) != 1 || h["status"] != "ok" {
		t.Fatalf("healthz: %v", h)
	}

	var ready struct {
		Status string
		Detail map[string]string
	}
	b.do(t, "GET", "/readyz", "").ok(t, 200, &ready)
	if ready.Status != "ready" || ready.Detail["store"] != "ok" {
		t.Fatalf("readyz: %+v", ready)
	}

	b.engine.unavailable.Store(true)
	res := b.do(t, "GET", "/readyz", "")
	res.ok(t, 503, &ready)
	if ready.Status != "unavailable" || ready.Detail["store"] != "unavailable" {
		t.Fatalf("readyz: %+v", ready)
	}
	b.engine.unavailable.Store(false)

	if err := b.store.Close(); err != nil {
		t.Fatal(err)
	}
	b.do(t, "GET", "/readyz", "").ok(t, 503, &ready)
	if ready.Status != "unavailable" || ready.Detail["store"] != "down" {
		t.Fatalf("readyz with the store closed: %+v", ready)
	}
	if res := b.do(t, "GET", "/healthz", ""); res.code != 200 {
		t.Fatalf("healthz with the store closed: %d", res.code)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res := b.do(t, "GET", "/metrics", "")
	if res.code != 200 || string(res.body) != "hookline_up 1\n" {
		t.Fatalf("metrics: %d %s", res.code, res.body)
	}
}

func TestMediaType(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := `{"url":"https://example.com/hook"}`
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1", "application/jsonx", ";;"} {
		b.do(t, "POST", "/v1/endpoints", body, "Content-Type", ct).wantError(t, 415, hookline.EMEDIATYPE, "Content-Type")
		b.do(t, "POST", "/v1/events", `{"type":"a","data":1}`, "Content-Type", ct).wantError(t, 415, hookline.EMEDIATYPE)
	}
	req := b.request(t, "POST", "/v1/endpoints", body)
	req.Header.Del("Content-Type")
	b.send(t, req).wantError(t, 415, hookline.EMEDIATYPE, "Content-Type: missing")
	if st := b.storeStats(t); st.Endpoints != 0 || st.Events != 0 {
		t.Fatalf("415s wrote %+v", st)
	}
	for _, ct := range []string{"application/json; charset=utf-8", "Application/JSON;charset=UTF-8"} {
		b.do(t, "POST", "/v1/endpoints", body, "Content-Type", ct).ok(t, 201, nil)
	}
}

func TestPayloadTooLarge(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.MaxPayload = 1024 })
	big := `{"type":"a","data":"` + strings.Repeat("x", 2000) + `"}`
	b.do(t, "POST", "/v1/events", big).wantError(t, 413, hookline.ETOOLARGE, "1024")
	b.do(t, "POST", "/v1/events/batch", `{"events":[`+big+`]}`).wantError(t, 413, hookline.ETOOLARGE)
	b.do(t, "POST", "/v1/endpoints", `{"url":"https://example.com/`+strings.Repeat("x", 2000)+`"}`).
		wantError(t, 413, hookline.ETOOLARGE)

	// Without a Content-Length (chunked), the limit holds while reading.
	req := b.request(t, "POST", "/v1/events", "")
	req.Header.Set("Content-Type", "application/json")
	req.Body = io.NopCloser(io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	b.send(t, req).wantError(t, 413, hookline.ETOOLARGE)

	// Trailing data past the limit after a complete object.
	req = b.request(t, "POST", "/v1/events", "")
	req.Header.Set("Content-Type", "application/json")
	req.Body = io.NopCloser(strings.NewReader(`{"type":"a","data":1}` + strings.Repeat(" ", 2000)))
	req.ContentLength = -1
	b.send(t, req).wantError(t, 413, hookline.ETOOLARGE)

	// At the limit is fine.
	fits := `{"type":"a","data":"` + strings.Repeat("x", 1024-len(`{"type":"a","data":""}`)) + `"}`
	b.do(t, "POST", "/v1/events", fits).ok(t, 202, nil)
	if st := b.storeStats(t); st.Events != 1 {
		t.Fatalf("%d events, want only the one that fits", st.Events)
	}
}

func TestStoreUnavailable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.engine.unavailable.Store(true)
	res := b.do(t, "POST", "/v1/events", `{"type":"a","data":1}`)
	res.wantError(t, 503, hookline.EUNAVAILABLE, "backlog")
	if res.header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q", res.header.Get("Retry-After"))
	}
	b.engine.unavailable.Store(false)

	if err := b.store.Close(); err != nil {
		t.Fatal(err)
	}
	res = b.do(t, "POST", "/v1/events", `{"type":"a","data":1}`)
	res.wantError(t, 503, hookline.EUNAVAILABLE)
	if res.header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q", res.header.Get("Retry-After"))
	}
	res = b.do(t, "POST", "/v1/events/batch", `{"events":[{"type":"a","data":1}]}`)
	res.wantError(t, 503, hookline.EUNAVAILABLE)

	// Reads and writes that go to the store directly.
	for _, tt := range []struct{ method, path, body string }{
		{"GET", "/v1/endpoints", ""},
		{"GET", "/v1/endpoints/ep_x", ""},
		{"POST", "/v1/endpoints", `{"url":"https://example.com/"}`},
		{"GET", "/v1/deliveries", ""},
		{"GET", "/v1/events/evt_x", ""},
	} {
		res := b.do(t, tt.method, tt.path, tt.body)
		res.wantError(t, 503, hookline.EUNAVAILABLE)
		if res.header.Get("Retry-After") != "1" {
			t.Fatalf("%s %s: Retry-After %q", tt.method, tt.path, res.header.Get("Retry-After"))
		}
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createEndpoint(t, `{"url":"https://example.com/hook"}`)
	b.do(t, "POST", "/v1/events", `{"type":"a","data":1}`).ok(t, 202, nil)
	var st hookline.Stats
	b.do(t, "GET", "/v1/stats", "").ok(t, 200, &st)
	if st.Endpoints != 1 || st.Events != 1 || st.Pending != 1 || st.SuccessRate != 1 {
		t.Fatalf("stats %+v", st)
	}

	b.engine.statsErr.Store(errors.New("secret internals"))
	res := b.do(t, "GET", "/v1/stats", "")
	res.wantError(t, 500, hookline.EINTERNAL, "Internal error.")
	if bytes.Contains(res.body, []byte("secret internals")) {
		t.Fatalf("internal error text shown: %s", res.body)
	}
}
