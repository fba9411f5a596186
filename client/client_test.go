package client_test

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
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/api"
	"github.com/hookline/hookline/client"
	"github.com/hookline/hookline/delivery"
	"github.com/hookline/hookline/internal/openapitest"
	"github.com/hookline/hookline/internal/poll"
	"github.com/hookline/hookline/signature"
	"github.com/hookline/hookline/sqlite"
	"github.com/hookline/hookline/web"
)

// operatorKey is the API key of every test server.
const operatorKey = "hk_client-test-operator-key-0123456789"

// bundle is a real Hookline (SQLite, the delivery engine, the API and the
// portal) on a loopback server, a receiver, and a client of it.
type bundle struct {
	srv      *httptest.Server
	c        *client.Client
	receiver *receiver
	v        *openapitest.Validator
}

// receiver records what it receives and answers a status tests set.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	got    map[string]int // by webhook-id
	last   *http.Request
	body   []byte
}

func (r *receiver) setStatus(code int) {
	r.mu.Lock()
	r.status = code
	r.mu.Unlock()
}

func (r *receiver) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[id]
}

func setup(t *testing.T, opts ...func(*api.Config)) *bundle {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "hookline.db"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := delivery.New(delivery.Config{
		Store: st, MaxInFlight: 4, RetrySchedule: []time.Duration{0, 10 * time.Millisecond},
		DeliveryTimeout: 5 * time.Second, AllowPrivateNetworks: true, PollInterval: 20 * time.Millisecond,
		Logger: log, Registerer: prometheus.NewRegistry(),
	})
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	rc := &receiver{status: 200, got: map[string]int{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got[r.Header.Get("webhook-id")]++
		rc.last, rc.body = r, b
		code := rc.status
		rc.mu.Unlock()
		w.WriteHeader(code)
	}))
	dash := web.New(web.Config{APIKey: operatorKey, Secret: bytes.Repeat([]byte{7}, 32), Logger: log})
	cfg := api.Config{Store: st, Engine: eng, APIKey: operatorKey, Logger: log, Dashboard: dash, Portal: dash}
	for _, o := range opts {
		o(&cfg)
	}
	handler := api.NewServer(cfg)
	dash.Attach(handler)
	srv := httptest.NewServer(handler)
	dash.SetPublicURL(srv.URL)
	t.Cleanup(func() {
		dash.Close()
		srv.Close()
		_ = eng.Close(context.Background())
		rc.Close()
		_ = st.Close()
	})
	// Every request and answer is checked against the OpenAPI document.
	v := openapitest.New(t, api.OpenAPI(), srv.URL)
	c, err := client.New(srv.URL+"/", operatorKey, client.WithHTTPClient(&http.Client{Transport: v.Transport(nil)}))
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{srv: srv, c: c, receiver: rc, v: v}
}

// waitFor polls cond until it holds, failing the test after poll.Deadline.
var waitFor = poll.Until

func TestNew(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "127.0.0.1:8080", "ftp://host", "http://", "http://h/?q=1", "://x"} {
		if _, err := client.New(bad, "k"); err == nil {
			t.Errorf("New(%q): no error", bad)
		}
	}
	c, err := client.New("https://hooks.example.com/hookline/", "k")
	if err != nil || c.BaseURL() != "https://hooks.example.com/hookline" {
		t.Fatalf("New: %v %v", c, err)
	}
}

func TestEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ep, err := b.c.CreateEndpoint(ctx, client.EndpointCreate{URL: b.receiver.URL + "/hook", EventTypes: []string{"invoice.*"},
		Description: "billing", Tenant: "acme", RateLimit: 10, MaxInFlight: 4, Ordering: "fifo", Batch: &client.Batch{MaxEvents: 5, MaxWaitMS: 100},
		Filter: json.RawMessage(`{"data": {"amount": {"$gte": 1000}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ep.ID, "ep_") || !strings.HasPrefix(ep.Secret, "whsec_") || ep.SignatureScheme != "v1" ||
		ep.Tenant != "acme" || ep.RateLimit != 10 || ep.MaxInFlight != 4 || ep.Ordering != "fifo" ||
		ep.Batch == nil || ep.Batch.MaxEvents != 5 || ep.Health.Circuit != "closed" || ep.CreatedAt.IsZero() ||
		string(ep.Filter) != `{"data":{"amount":{"$gte":1000}}}` {
		t.Fatalf("created %+v", ep)
	}
	got, err := b.c.GetEndpoint(ctx, ep.ID)
	if err != nil || got.URL != ep.URL || got.Description != "billing" || len(got.EventTypes) != 1 {
		t.Fatalf("get: %+v %v", got, err)
	}

	// Update: only what is set changes; NoBatch turns batching off.
	desc, disabled := "changed", true
	up, err := b.c.UpdateEndpoint(ctx, ep.ID, client.EndpointUpdate{Description: &desc, Disabled: &disabled, NoBatch: true})
	if err != nil || up.Description != "changed" || !up.Disabled || up.DisabledReason != "manual" || up.Batch != nil || up.RateLimit != 10 {
		t.Fatalf("update: %+v %v", up, err)
	}
	up, err = b.c.UpdateEndpoint(ctx, ep.ID, client.EndpointUpdate{Batch: &client.Batch{MaxEvents: 2, MaxWaitMS: 0}, NoFilter: true})
	if err != nil || up.Batch == nil || up.Batch.MaxEvents != 2 || up.Description != "changed" || up.Filter != nil {
		t.Fatalf("update batch: %+v %v", up, err)
	}

	// Secrets: read, rotate with a grace period, v1a.
	sec, err := b.c.EndpointSecret(ctx, ep.ID)
	if err != nil || sec.Secret != ep.Secret || sec.PreviousSecret != "" {
		t.Fatalf("secret: %+v %v", sec, err)
	}
	grace := time.Hour
	rot, err := b.c.RotateEndpointSecret(ctx, ep.ID, client.SecretRotation{ExpireOldIn: &grace})
	if err != nil || rot.Secret == ep.Secret || rot.PreviousSecret != ep.Secret || rot.PreviousSecretExpiresAt == nil ||
		time.Until(*rot.PreviousSecretExpiresAt) > time.Hour || time.Until(*rot.PreviousSecretExpiresAt) < 59*time.Minute {
		t.Fatalf("rotate: %+v %v", rot, err)
	}
	if keys := rot.VerifyKeys(); len(keys) != 2 || keys[0] != rot.Secret || keys[1] != ep.Secret {
		t.Fatalf("verify keys %v", keys)
	}
	rot, err = b.c.RotateEndpointSecret(ctx, ep.ID, client.SecretRotation{SignatureScheme: "v1a"})
	if err != nil || !strings.HasPrefix(rot.Secret, "whsk_") || !strings.HasPrefix(rot.PublicKey, "whpk_") {
		t.Fatalf("rotate to v1a: %+v %v", rot, err)
	}
	if keys := rot.VerifyKeys(); len(keys) != 2 || keys[0] != rot.PublicKey || !strings.HasPrefix(keys[1], "whsec_") {
		t.Fatalf("verify keys %v", keys)
	}
	v1a, err := b.c.CreateEndpoint(ctx, client.EndpointCreate{URL: b.receiver.URL, SignatureScheme: "v1a", Disabled: true})
	if err != nil || !strings.HasPrefix(v1a.Secret, "whsk_") || !strings.HasPrefix(v1a.PublicKey, "whpk_") || !v1a.Disabled {
		t.Fatalf("v1a: %+v %v", v1a, err)
	}

	st, err := b.c.EndpointStats(ctx, ep.ID)
	if err != nil || st.SuccessRate != 1 || !st.Live {
		t.Fatalf("stats: %+v %v", st, err)
	}
	if n, err := b.c.RecoverEndpoint(ctx, ep.ID, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("recover: %d %v", n, err)
	}

	// Lists: one page, every page, a tenant.
	p, err := b.c.ListEndpoints(ctx, client.EndpointFilter{PageOptions: client.PageOptions{Limit: 1}})
	if err != nil || len(p.Data) != 1 || p.Data[0].ID != v1a.ID || p.NextCursor == "" {
		t.Fatalf("page: %+v %v", p, err)
	}
	var ids []string
	for e, err := range b.c.Endpoints(ctx, client.EndpointFilter{PageOptions: client.PageOptions{Limit: 1}}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	if len(ids) != 2 || ids[0] != v1a.ID || ids[1] != ep.ID {
		t.Fatalf("every endpoint: %v", ids)
	}
	acme := "acme"
	ids = nil
	for e, err := range b.c.Endpoints(ctx, client.EndpointFilter{Tenant: &acme}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	if len(ids) != 1 || ids[0] != ep.ID {
		t.Fatalf("acme's endpoints: %v", ids)
	}

	if err := b.c.DeleteEndpoint(ctx, ep.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.c.GetEndpoint(ctx, ep.ID); !client.IsNotFound(err) {
		t.Fatalf("deleted endpoint: %v", err)
	}
	if _, err := b.c.GetEndpoint(ctx, ""); err == nil {
		t.Fatal("an empty ID was sent")
	}
}

func TestEventsAndDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ep, err := b.c.CreateEndpoint(ctx, client.EndpointCreate{URL: b.receiver.URL})
	if err != nil {
		t.Fatal(err)
	}
	prio := 9
	ev := client.EventCreate{Type: "order.created", Data: json.RawMessage(`{"n":1.50,"s":"é\"x"}`), Priority: &prio,
		OrderingKey: "k\"1", IdempotencyKey: "order-1"}
	res, err := b.c.SendEvent(ctx, ev)
	if err != nil || !strings.HasPrefix(res.ID, "evt_") || res.Type != "order.created" || res.Deliveries != 1 || res.Replayed {
		t.Fatalf("send: %+v %v", res, err)
	}
	again, err := b.c.SendEvent(ctx, ev)
	if err != nil || again.ID != res.ID || !again.Replayed {
		t.Fatalf("idempotent repeat: %+v %v", again, err)
	}
	ev.Data = json.RawMessage(`2`)
	if _, err := b.c.SendEvent(ctx, ev); client.Code(err) != hookline.ECONFLICT {
		t.Fatalf("key with another body: %v", err)
	}
	got, err := b.c.GetEvent(ctx, res.ID)
	if err != nil || string(got.Data) != `{"n":1.50,"s":"é\"x"}` || got.Priority != 9 || got.OrderingKey != "k\"1" || got.Deliveries != 1 {
		t.Fatalf("get event: %+v %v", got, err)
	}

	// Delivered and signed with the endpoint's secret.
	waitFor(t, "delivery", func() bool { return b.receiver.count(res.ID) == 1 })
	b.receiver.mu.Lock()
	err = signature.Verify(ep.Secret, b.receiver.last.Header, b.receiver.body, time.Now(), 0)
	b.receiver.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	var d *client.Delivery
	waitFor(t, "delivered", func() bool {
		p, err := b.c.ListDeliveries(ctx, client.DeliveryFilter{EventID: res.ID, Status: client.StatusDelivered})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Data) == 1 {
			d = p.Data[0]
		}
		return d != nil
	})
	if d.EndpointID != ep.ID || d.Attempts != 1 || d.LastStatusCode != 200 || d.DeliveredAt == nil || d.Priority != 9 {
		t.Fatalf("delivery %+v", d)
	}
	atts, err := b.c.Attempts(ctx, d.ID)
	if err != nil || len(atts) != 1 || atts[0].Attempt != 1 || atts[0].StatusCode != 200 || atts[0].Duration() <= 0 {
		t.Fatalf("attempts %+v %v", atts, err)
	}
	re, err := b.c.RetryDelivery(ctx, d.ID)
	if err != nil || re.Status != client.StatusPending || re.ID != d.ID {
		t.Fatalf("retry: %+v %v", re, err)
	}
	waitFor(t, "retried delivery", func() bool { return b.receiver.count(res.ID) == 2 })
	if n, err := b.c.ReplayEvent(ctx, res.ID); err != nil || n != 1 {
		t.Fatalf("replay: %d %v", n, err)
	}
	waitFor(t, "replayed delivery", func() bool { return b.receiver.count(res.ID) == 3 })

	// A batch, idempotent as a whole.
	batch := []client.EventCreate{{Type: "a.b", Data: json.RawMessage(`1`)}, {Type: "a.c", Data: json.RawMessage(`[2]`), IdempotencyKey: "own"}}
	rs, err := b.c.SendEvents(ctx, batch, "batch-1")
	if err != nil || len(rs) != 2 || rs[0].Type != "a.b" || rs[1].Type != "a.c" || rs[0].Replayed {
		t.Fatalf("batch: %+v %v", rs, err)
	}
	rs2, err := b.c.SendEvents(ctx, batch, "batch-1")
	if err != nil || rs2[0].ID != rs[0].ID || rs2[1].ID != rs[1].ID || !rs2[0].Replayed || !rs2[1].Replayed {
		t.Fatalf("batch repeat: %+v %v", rs2, err)
	}

	// Every delivery, page after page; stopping early stops fetching.
	var n int
	for d, err := range b.c.Deliveries(ctx, client.DeliveryFilter{PageOptions: client.PageOptions{Limit: 1}}) {
		if err != nil || d == nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 4 { // the event's, its replay's, and the batch's two
		t.Fatalf("%d deliveries", n)
	}
	for range b.c.Deliveries(ctx, client.DeliveryFilter{}) {
		break
	}

	// An invalid request: the API's message, naming the field.
	_, err = b.c.SendEvent(ctx, client.EventCreate{Type: "x.y"})
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != 400 || e.Code != hookline.EINVALID || !strings.Contains(e.Message, "data") {
		t.Fatalf("no data: %v", err)
	}
	if hookline.ErrorCode(err) != hookline.EINVALID {
		t.Fatalf("hookline.ErrorCode: %q", hookline.ErrorCode(err))
	}
	if _, err := b.c.SendEvent(ctx, client.EventCreate{Data: json.RawMessage(`1`)}); err == nil {
		t.Fatal("an event without a type was sent")
	}
	// An iterator's error is yielded once and ends it.
	var errs int
	for _, err := range b.c.Deliveries(ctx, client.DeliveryFilter{Status: "lost"}) {
		if client.Code(err) != hookline.EINVALID {
			t.Fatalf("bad filter: %v", err)
		}
		errs++
	}
	if errs != 1 {
		t.Fatalf("%d errors yielded", errs)
	}

	st, err := b.c.Stats(ctx)
	if err != nil || st.Events != 3 || st.Endpoints != 1 || st.Node == nil || st.Tenant != "" {
		t.Fatalf("stats: %+v %v", st, err)
	}
}

func TestKeysAndTenants(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	k, err := b.c.CreateKey(ctx, client.KeyCreate{Tenant: "acme", Name: "acme production"})
	if err != nil || !strings.HasPrefix(k.Key, "hk_") || !strings.HasPrefix(k.ID, "key_") || k.Tenant != "acme" || k.Name != "acme production" {
		t.Fatalf("create key: %+v %v", k, err)
	}
	if _, err := b.c.CreateKey(ctx, client.KeyCreate{Tenant: "globex"}); err != nil {
		t.Fatal(err)
	}
	acme := "acme"
	var ids []string
	for key, err := range b.c.Keys(ctx, client.KeyFilter{Tenant: &acme}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, key.ID)
	}
	if len(ids) != 1 || ids[0] != k.ID {
		t.Fatalf("acme's keys %v", ids)
	}
	if p, err := b.c.ListKeys(ctx, client.KeyFilter{}); err != nil || len(p.Data) != 2 {
		t.Fatalf("keys: %+v %v", p, err)
	}

	// The tenant's key sees its own: stats of the tenant, /v1/keys refused.
	tc, err := client.New(b.srv.URL, k.Key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tc.CreateEndpoint(ctx, client.EndpointCreate{URL: b.receiver.URL}); err != nil {
		t.Fatal(err)
	}
	st, err := tc.Stats(ctx)
	if err != nil || st.Tenant != "acme" || st.Endpoints != 1 || st.Node != nil {
		t.Fatalf("tenant stats %+v %v", st, err)
	}
	if _, err := tc.ListKeys(ctx, client.KeyFilter{}); client.Code(err) != hookline.EFORBIDDEN {
		t.Fatalf("a tenant listing keys: %v", err)
	}
	link, err := tc.CreatePortalLink(ctx, "", 2*time.Hour)
	if err != nil || !strings.HasPrefix(link.URL, b.srv.URL+"/portal?") || time.Until(link.ExpiresAt) < time.Hour {
		t.Fatalf("portal link: %+v %v", link, err)
	}

	if err := b.c.DeleteKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	_, err = tc.Stats(ctx)
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != 401 || e.Code != hookline.EUNAUTHORIZED {
		t.Fatalf("a revoked key: %v", err)
	}
}

func TestHealthAndErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *api.Config) { c.RateLimit = 1 })
	ctx := context.Background()
	if err := b.c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := b.c.Ready(ctx)
	if err != nil || r.Status != "ready" || len(r.Detail) == 0 {
		t.Fatalf("ready: %+v %v", r, err)
	}
	doc, err := b.c.OpenAPI(ctx)
	if err != nil || !bytes.Equal(doc, api.OpenAPI()) {
		t.Fatalf("openapi: %d bytes, %v", len(doc), err)
	}
	// Past the rate limit: 429 with Retry-After.
	var limited *client.Error
	for range 5 {
		if _, err := b.c.Stats(ctx); errors.As(err, &limited) {
			break
		}
	}
	if limited == nil || limited.Code != hookline.ERATELIMIT || limited.StatusCode != 429 || limited.RetryAfter < time.Second {
		t.Fatalf("rate limited: %+v", limited)
	}

	// An answer that is not the API's (a proxy's): the code of its status.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		http.Error(w, "<html>upstream down</html>", http.StatusBadGateway)
	}))
	defer proxy.Close()
	pc, _ := client.New(proxy.URL, "k")
	_, err = pc.GetEndpoint(ctx, "ep_1")
	var e *client.Error
	if !errors.As(err, &e) || e.Code != hookline.EUNAVAILABLE || e.StatusCode != 502 || e.RetryAfter != 7*time.Second ||
		!strings.Contains(e.Message, "upstream down") {
		t.Fatalf("proxy error: %+v", err)
	}
	// A server that is not there: not an API error.
	dead, _ := client.New("http://127.0.0.1:1", "k")
	if err := dead.Health(ctx); err == nil || client.Code(err) != "" {
		t.Fatalf("no server: %v", err)
	}
}

// TestEndpointRequestOptions sets an endpoint's headers, timeout, retry
// schedule and auth, sees them where the API shows them (a list shows the
// auth type only), sees a delivery carry them, and removes them.
func TestEndpointRequestOptions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ep, err := b.c.CreateEndpoint(ctx, client.EndpointCreate{URL: b.receiver.URL + "/hook",
		Headers: map[string]string{"X-Api-Key": "k_live_1"}, Timeout: "2s", RetrySchedule: []string{"0s", "1s"},
		Auth: &client.EndpointAuth{Type: "basic", Username: "hookline", Password: "pw"}})
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, e *client.Endpoint, full bool) {
		t.Helper()
		if e.Timeout != "2s" || strings.Join(e.RetrySchedule, ",") != "0s,1s" || e.Auth == nil || e.Auth.Type != "basic" {
			t.Errorf("%s: timeout %q, retry schedule %q, auth %+v", what, e.Timeout, e.RetrySchedule, e.Auth)
		}
		if full != (e.Headers["X-Api-Key"] == "k_live_1" && e.Auth != nil && e.Auth.Password == "pw") {
			t.Errorf("%s: headers %v, auth %+v; want the credentials shown: %v", what, e.Headers, e.Auth, full)
		}
	}
	check("create", &ep.Endpoint, true)
	got, err := b.c.GetEndpoint(ctx, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	check("get", got, true)
	page, err := b.c.ListEndpoints(ctx, client.EndpointFilter{})
	if err != nil || len(page.Data) != 1 {
		t.Fatalf("list: %v %v", page, err)
	}
	check("list", page.Data[0], false)

	res, err := b.c.SendEvent(ctx, client.EventCreate{Type: "a.b", Data: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delivery", func() bool { return b.receiver.count(res.ID) > 0 })
	b.receiver.mu.Lock()
	h := b.receiver.last.Header
	b.receiver.mu.Unlock()
	if u, p, ok := (&http.Request{Header: h}).BasicAuth(); !ok || u != "hookline" || p != "pw" || h.Get("X-Api-Key") != "k_live_1" {
		t.Errorf("the delivery's headers: %v", h)
	}

	up, err := b.c.UpdateEndpoint(ctx, ep.ID, client.EndpointUpdate{NoHeaders: true, NoTimeout: true, NoRetrySchedule: true, NoAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	if up.Headers != nil || up.Timeout != "" || up.RetrySchedule != nil || up.Auth != nil {
		t.Errorf("after removing them: headers %v, timeout %q, retry schedule %v, auth %+v", up.Headers, up.Timeout, up.RetrySchedule, up.Auth)
	}
	timeout := "3s"
	if up, err = b.c.UpdateEndpoint(ctx, ep.ID, client.EndpointUpdate{Timeout: &timeout, RetrySchedule: []string{"0s"}}); err != nil || up.Timeout != "3s" || len(up.RetrySchedule) != 1 {
		t.Errorf("update timeout and schedule: %+v %v", up, err)
	}
}
