package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookline/hookline/api"
	"github.com/hookline/hookline/delivery"
	"github.com/hookline/hookline/sqlite"
	"github.com/hookline/hookline/web"
)

// operatorKey is the API key of every test stack.
const operatorKey = "hk_test-operator-key"

// stack is Hookline as `hookline serve` wires it — SQLite, the delivery
// engine, the API and the dashboard — on a loopback test server, with a
// receiver to deliver to.
type stack struct {
	srv      *httptest.Server
	dash     *web.Handler
	receiver *receiver
}

// receiver answers deliveries with a status that tests set.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	got    int
}

func (rc *receiver) setStatus(code int) {
	rc.mu.Lock()
	rc.status = code
	rc.mu.Unlock()
}

// setupStack starts a stack; opts adjust the dashboard's config.
func setupStack(t *testing.T, opts ...func(*web.Config)) *stack {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "hookline.db"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := delivery.New(delivery.Config{
		Store: st, MaxInFlight: 4, RetrySchedule: []time.Duration{0, 10 * time.Millisecond},
		DeliveryTimeout: 5 * time.Second, AllowPrivateNetworks: true, PollInterval: 50 * time.Millisecond,
		Logger: log, Registerer: prometheus.NewRegistry(),
	})
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	rc := &receiver{status: 200}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		code := rc.status
		rc.got++
		rc.mu.Unlock()
		w.WriteHeader(code)
		_, _ = io.WriteString(w, `{"received":true}`)
	}))
	cfg := web.Config{APIKey: operatorKey, Secret: bytes.Repeat([]byte{7}, 32), Logger: log}
	for _, o := range opts {
		o(&cfg)
	}
	dash := web.New(cfg)
	srv := httptest.NewUnstartedServer(nil)
	handler := api.NewServer(api.Config{Store: st, Engine: eng, APIKey: operatorKey, Logger: log, Dashboard: dash, Portal: dash})
	dash.Attach(handler)
	srv.Config.Handler = handler
	srv.Config.RegisterOnShutdown(dash.Close)
	srv.Start()
	dash.SetPublicURL(srv.URL)
	t.Cleanup(func() {
		dash.Close()
		srv.Close()
		_ = eng.Close(context.Background())
		rc.Close()
		_ = st.Close()
	})
	return &stack{srv: srv, dash: dash, receiver: rc}
}

// call sends a request to the API with the operator key and decodes the
// answer into out (when not nil); it returns the status.
func (s *stack) call(t *testing.T, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+operatorKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return res.StatusCode
}

// waitFor polls cond every 20 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline, not synchronisation
	}
}

// apiEndpoint and apiDelivery are what the tests read of the API.
type apiEndpoint struct {
	ID     string `json:"id"`
	URL    string `json:"url"`
	Secret string `json:"secret"`
}

type apiDelivery struct {
	ID       string `json:"id"`
	EventID  string `json:"event_id"`
	Status   string `json:"status"`
	Attempts int    `json:"attempts"`
}

type apiList[T any] struct {
	Data []T `json:"data"`
}
