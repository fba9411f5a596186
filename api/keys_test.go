package api

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

// keyJSON is an API key as the API shows it.
type keyJSON struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"tenant"`
	Name      string    `json:"name"`
	Key       string    `json:"key"`
	CreatedAt time.Time `json:"created_at"`
}

// createKey makes a key of tenant with the admin key.
func (b *bundle) createKey(t *testing.T, tenant string) keyJSON {
	t.Helper()
	var k keyJSON
	b.do(t, "POST", "/v1/keys", fmt.Sprintf(`{"tenant":%q,"name":"%s production"}`, tenant, tenant)).ok(t, 201, &k)
	return k
}

// with sends a request with key as the Bearer token ("" sends none).
func (b *bundle) with(t *testing.T, key, method, path, body string) *response {
	t.Helper()
	req := b.request(t, method, path, body)
	if key == "" {
		req.Header.Del("Authorization")
	} else {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return b.send(t, req)
}

func TestKeys(t *testing.T) {
	t.Parallel()
	// IDs made in one millisecond do not sort by creation: a clock that
	// moves between keys makes the list's order known.
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	b := setup(t, func(c *Config) { c.Now = clock.Now })
	k := b.createKey(t, "acme")
	clock.Add(time.Millisecond)
	if !strings.HasPrefix(k.ID, hookline.KeyPrefix) || !strings.HasPrefix(k.Key, hookline.SecretKeyPrefix) ||
		len(k.Key) != 46 || k.Tenant != "acme" || k.Name != "acme production" || k.CreatedAt.IsZero() {
		t.Fatalf("created %+v", k)
	}
	other := b.createKey(t, "acme")
	if other.Key == k.Key {
		t.Fatal("two keys alike")
	}
	clock.Add(time.Millisecond)
	b.createKey(t, "globex")

	t.Run("ListedWithoutTheKey", func(t *testing.T) {
		res := b.do(t, "GET", "/v1/keys", "")
		var l list[keyJSON]
		res.ok(t, 200, &l)
		if len(l.Data) != 3 || l.Data[2].ID != k.ID || l.Data[2].Name != k.Name {
			t.Fatalf("keys %+v", l.Data)
		}
		if strings.Contains(string(res.body), k.Key) || strings.Contains(string(res.body), `"key"`) {
			t.Fatalf("a listed key shows its secret: %s", res.body)
		}
		b.do(t, "GET", "/v1/keys?tenant=acme&limit=1", "").ok(t, 200, &l)
		if len(l.Data) != 1 || l.Data[0].ID != other.ID || l.NextCursor == nil {
			t.Fatalf("first page of acme's keys: %+v", l)
		}
		b.do(t, "GET", "/v1/keys?tenant=acme&cursor="+*l.NextCursor, "").ok(t, 200, &l)
		if len(l.Data) != 1 || l.Data[0].ID != k.ID || l.NextCursor != nil {
			t.Fatalf("second page of acme's keys: %+v", l)
		}
		b.do(t, "GET", "/v1/keys?cursor=bogus", "").wantError(t, 400, hookline.EINVALID, "cursor")
	})
	t.Run("BadRequests", func(t *testing.T) {
		for _, c := range []struct{ body, field string }{
			{`{}`, "tenant: required"},
			{`{"tenant":""}`, "tenant: required"},
			{`{"tenant":"a b"}`, "tenant"},
			{`{"tenant":"acme","name":"` + strings.Repeat("n", MaxKeyName+1) + `"}`, "name"},
			{`{"tenant":"acme","name":"a\u0000b"}`, "name"},
			{`{"tenant":"acme","key":"hk_mine"}`, "key: unknown field"},
			{`{"tenant":"acme","Tenant":"x"}`, "Tenant"},
		} {
			b.do(t, "POST", "/v1/keys", c.body).wantError(t, 400, hookline.EINVALID, c.field)
		}
		var l list[keyJSON]
		b.do(t, "GET", "/v1/keys", "").ok(t, 200, &l)
		if len(l.Data) != 3 {
			t.Fatalf("%d keys after bad requests, want 3", len(l.Data))
		}
		b.do(t, "DELETE", "/v1/keys/key_nope", "").wantError(t, 404, hookline.ENOTFOUND)
	})
	t.Run("UseAndRevoke", func(t *testing.T) {
		b.with(t, k.Key, "GET", "/v1/endpoints", "").ok(t, 200, nil)
		b.do(t, "DELETE", "/v1/keys/"+k.ID, "").ok(t, 204, nil)
		// Refused at once on the node that deleted it, though it was cached.
		b.with(t, k.Key, "GET", "/v1/endpoints", "").wantError(t, 401, hookline.EUNAUTHORIZED)
		b.with(t, other.Key, "GET", "/v1/endpoints", "").ok(t, 200, nil)
		b.with(t, k.Key+"x", "GET", "/v1/endpoints", "").wantError(t, 401, hookline.EUNAUTHORIZED)
	})
}

// TestKeyRevokedOnAnotherNode checks that a key deleted through one Server
// is refused by another on the same store within keyCacheTTL, though the
// other had it cached: the two stand for two nodes.
func TestKeyRevokedOnAnotherNode(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	var cfg Config
	b := setup(t, func(c *Config) { c.Now = clock.Now; cfg = *c })
	other := &scoped{bundle: b, srv: NewServer(cfg)}
	k := b.createKey(t, "acme")
	if res := other.sendKey(t, k.Key, "GET", "/v1/endpoints"); res.code != 200 {
		t.Fatalf("the other node refused a new key: %d %s", res.code, res.body)
	}
	b.do(t, "DELETE", "/v1/keys/"+k.ID, "").ok(t, 204, nil)
	if res := other.sendKey(t, k.Key, "GET", "/v1/endpoints"); res.code != 200 {
		t.Fatalf("the other node's cache was not used: %d", res.code)
	}
	clock.Add(keyCacheTTL)
	other.sendKey(t, k.Key, "GET", "/v1/endpoints").wantError(t, 401, hookline.EUNAUTHORIZED)
}

// sendKey sends a request in-process to the Server of s with key.
func (s *scoped) sendKey(t *testing.T, key, method, path string) *response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	w := httptest.NewRecorder()
	s.srv.ServeHTTP(w, req)
	return &response{code: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

// tenantFixture holds two tenants' objects and a key of each, and a revoked
// key of acme.
type tenantFixture struct {
	*bundle
	ids     map[string][]string // tenant → the IDs of its objects
	keys    map[string]string   // principal → key
	ep      string              // acme's endpoint
	event   string              // acme's event
	dlv     string              // acme's delivery
	keyID   string              // acme's key
	globex  string              // globex's endpoint
	gDelivr string              // globex's delivery
}

func newTenantFixture(t *testing.T) *tenantFixture {
	t.Helper()
	b := setup(t, func(c *Config) { c.Portal = &fakeLinker{} })
	f := &tenantFixture{bundle: b, ids: map[string][]string{}, keys: map[string]string{"admin": testKey, "none": ""}}
	for _, tenant := range []string{"acme", "globex"} {
		ep := b.createEndpoint(t, fmt.Sprintf(`{"url":"https://%s.example.com/","tenant":%q}`, tenant, tenant))
		ev := b.ingest(t, fmt.Sprintf(`{"type":"order.created","data":{"n":1},"tenant":%q}`, tenant))
		var ds list[hookline.Delivery]
		b.do(t, "GET", "/v1/deliveries?event_id="+ev.ID, "").ok(t, 200, &ds)
		if len(ds.Data) != 1 {
			t.Fatalf("%s: %d deliveries", tenant, len(ds.Data))
		}
		k := b.createKey(t, tenant)
		f.ids[tenant] = []string{ep.ID, ev.ID, ds.Data[0].ID, k.ID, ep.Secret, k.Key}
		if tenant == "acme" {
			f.ep, f.event, f.dlv, f.keyID = ep.ID, ev.ID, ds.Data[0].ID, k.ID
			f.keys["own"] = k.Key
		} else {
			f.globex, f.gDelivr = ep.ID, ds.Data[0].ID
			f.keys["other"] = k.Key
		}
	}
	// An event type of acme's own catalog.
	b.do(t, "POST", "/v1/event-types", `{"name":"order.created","tenant":"acme","description":"acme's orders"}`).ok(t, 201, nil)
	revoked := b.createKey(t, "acme")
	b.do(t, "DELETE", "/v1/keys/"+revoked.ID, "").ok(t, 204, nil)
	f.keys["revoked"] = revoked.Key
	return f
}

// TestTenantKeyRoutes goes through every /v1 route with the admin key, a
// key of the tenant that owns the object, a key of another tenant, a
// revoked key and none. It checks the status, and that no answer holds an
// ID, secret or key of a tenant the principal may not see (beyond what the
// request itself named).
func TestTenantKeyRoutes(t *testing.T) {
	t.Parallel()
	type want struct{ admin, own, other int }
	var (
		read    = want{200, 200, 404}
		object  = func(status int) want { return want{status, status, 404} }
		pinned  = func(status int) want { return want{status, status, 403} }
		adminOK = func(status int) want { return want{status, 403, 403} }
		all     = want{200, 200, 200}
	)
	cases := []struct {
		pattern      string
		method, path string // path with {ep}, {event}, {dlv}, {key}
		body         string
		want         want
	}{
		{"POST /v1/endpoints", "POST", "/v1/endpoints", `{"url":"https://new.example.com/","tenant":"acme"}`, pinned(201)},
		{"GET /v1/endpoints", "GET", "/v1/endpoints", "", all},
		{"GET /v1/endpoints/{id}", "GET", "/v1/endpoints/{ep}", "", read},
		{"PATCH /v1/endpoints/{id}", "PATCH", "/v1/endpoints/{ep}", `{"description":"changed"}`, read},
		{"DELETE /v1/endpoints/{id}", "DELETE", "/v1/endpoints/{ep}", "", object(204)},
		{"GET /v1/endpoints/{id}/secret", "GET", "/v1/endpoints/{ep}/secret", "", read},
		{"POST /v1/endpoints/{id}/secret/rotate", "POST", "/v1/endpoints/{ep}/secret/rotate", "", object(200)},
		{"POST /v1/endpoints/{id}/recover", "POST", "/v1/endpoints/{ep}/recover", "", object(202)},
		{"GET /v1/endpoints/{id}/stats", "GET", "/v1/endpoints/{ep}/stats", "", read},
		{"POST /v1/endpoints/{id}/replay-missing", "POST", "/v1/endpoints/{ep}/replay-missing", `{"since":"2020-01-01T00:00:00Z"}`, object(202)},
		{"POST /v1/events", "POST", "/v1/events", `{"type":"order.created","data":2,"tenant":"acme"}`, pinned(202)},
		{"POST /v1/events/batch", "POST", "/v1/events/batch", `{"events":[{"type":"order.created","data":2,"tenant":"acme"}]}`, pinned(202)},
		{"GET /v1/events", "GET", "/v1/events", "", all},
		{"GET /v1/events/{id}", "GET", "/v1/events/{event}", "", read},
		{"POST /v1/events/{id}/replay", "POST", "/v1/events/{event}/replay", "", object(202)},
		{"GET /v1/deliveries", "GET", "/v1/deliveries", "", all},
		{"GET /v1/deliveries/count", "GET", "/v1/deliveries/count", "", all},
		{"POST /v1/deliveries/retry", "POST", "/v1/deliveries/retry", `{"status":"failed"}`, want{202, 202, 202}},
		{"GET /v1/deliveries/{id}", "GET", "/v1/deliveries/{dlv}", "", read},
		{"GET /v1/deliveries/{id}/attempts", "GET", "/v1/deliveries/{dlv}/attempts", "", read},
		{"POST /v1/deliveries/{id}/retry", "POST", "/v1/deliveries/{dlv}/retry", "", object(202)},
		{"POST /v1/event-types", "POST", "/v1/event-types", `{"name":"invoice.paid","tenant":"acme"}`, pinned(201)},
		{"GET /v1/event-types", "GET", "/v1/event-types", "", all},
		{"GET /v1/event-types/{name}", "GET", "/v1/event-types/order.created?tenant=acme", "", read},
		{"PATCH /v1/event-types/{name}", "PATCH", "/v1/event-types/order.created?tenant=acme", `{"description":"changed"}`, read},
		{"DELETE /v1/event-types/{name}", "DELETE", "/v1/event-types/order.created?tenant=acme", "", object(204)},
		{"GET /v1/stats", "GET", "/v1/stats", "", all},
		{"POST /v1/portal-links", "POST", "/v1/portal-links", `{"tenant":"acme"}`, pinned(201)},
		{"POST /v1/keys", "POST", "/v1/keys", `{"tenant":"acme"}`, adminOK(201)},
		{"GET /v1/keys", "GET", "/v1/keys", "", adminOK(200)},
		{"DELETE /v1/keys/{id}", "DELETE", "/v1/keys/{key}", "", adminOK(204)},
	}
	var covered []string
	for _, c := range cases {
		covered = append(covered, c.pattern)
	}
	if routes := NewServer(Config{}).v1Routes; !sameSet(routes, covered) {
		t.Fatalf("the table covers %v; the routes are %v", covered, routes)
	}
	for _, c := range cases {
		for _, who := range []string{"admin", "own", "other", "revoked", "none"} {
			t.Run(c.pattern+"/"+who, func(t *testing.T) {
				t.Parallel()
				f := newTenantFixture(t)
				path := strings.NewReplacer("{ep}", f.ep, "{event}", f.event, "{dlv}", f.dlv, "{key}", f.keyID).Replace(c.path)
				res := f.with(t, f.keys[who], c.method, path, c.body)
				status := map[string]int{"admin": c.want.admin, "own": c.want.own, "other": c.want.other, "revoked": 401, "none": 401}[who]
				if res.code != status {
					t.Fatalf("%s %s as %s: status %d, want %d: %s", c.method, path, who, res.code, status, res.body)
				}
				if status >= 400 {
					var e errorResponse
					if err := json.Unmarshal(res.body, &e); err != nil || e.Error != map[int]string{401: hookline.EUNAUTHORIZED,
						403: hookline.EFORBIDDEN, 404: hookline.ENOTFOUND}[status] {
						t.Fatalf("error body %s", res.body)
					}
				}
				// What each principal may not see: another tenant's objects
				// and secrets, beyond what the request named itself.
				hidden := map[string][]string{"own": f.ids["globex"], "other": f.ids["acme"], "revoked": f.ids["acme"], "none": f.ids["acme"]}[who]
				if who != "admin" && who != "own" {
					hidden = append(hidden, `"acme"`)
				}
				if who == "own" {
					hidden = append(hidden, `"globex"`)
				}
				for _, h := range hidden {
					if strings.Contains(string(res.body), h) && !strings.Contains(path+c.body, strings.Trim(h, `"`)) {
						t.Errorf("%s %s as %s: the answer holds %s: %s", c.method, path, who, h, res.body)
					}
				}
				if who == "own" || who == "other" {
					f.checkScopedEffects(t, c.pattern, who, res)
				}
			})
		}
	}
}

// checkScopedEffects checks what a tenant key's request did: objects it
// made belong to its tenant, and its stats count its own objects only.
func (f *tenantFixture) checkScopedEffects(t *testing.T, pattern, who string, res *response) {
	t.Helper()
	tenant := map[string]string{"own": "acme", "other": "globex"}[who]
	switch pattern {
	case "POST /v1/endpoints":
		if who == "own" {
			var ep endpointJSON
			if err := json.Unmarshal(res.body, &ep); err != nil || ep.Tenant != "acme" {
				t.Fatalf("endpoint made with acme's key: %s", res.body)
			}
		}
	case "POST /v1/events":
		var st hookline.TenantStats
		f.with(t, f.keys[who], "GET", "/v1/stats", "").ok(t, 200, &st)
		want := int64(1)
		if who == "own" {
			want = 2 // the fixture's and this one
		}
		if st.Pending != want {
			t.Fatalf("%s's pending deliveries after its event: %d, want %d", tenant, st.Pending, want)
		}
	case "GET /v1/stats":
		var st hookline.TenantStats
		if err := json.Unmarshal(res.body, &st); err != nil {
			t.Fatal(err)
		}
		if st.Tenant != tenant || st.Endpoints != 1 || st.Pending != 1 || st.EndpointsByCircuit.Closed != 1 {
			t.Fatalf("%s's stats: %+v", tenant, st)
		}
	case "GET /v1/event-types":
		var l list[eventTypeJSON]
		if err := json.Unmarshal(res.body, &l); err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"own": 1, "other": 0}[who]
		if len(l.Data) != want || want == 1 && l.Data[0].Tenant != "acme" {
			t.Fatalf("%s's catalog: %s", tenant, res.body)
		}
	case "POST /v1/event-types":
		if who == "own" {
			var et eventTypeJSON
			if err := json.Unmarshal(res.body, &et); err != nil || et.Tenant != "acme" {
				t.Fatalf("event type made with acme's key: %s", res.body)
			}
		}
	case "GET /v1/deliveries/count":
		var c countResponse
		if err := json.Unmarshal(res.body, &c); err != nil || c.Count != 1 {
			t.Fatalf("%s's count: %s", tenant, res.body)
		}
		// By another tenant's endpoint: nothing.
		other := map[string]string{"own": f.globex, "other": f.ep}[who]
		f.with(t, f.keys[who], "GET", "/v1/deliveries/count?endpoint_id="+other, "").ok(t, 200, &c)
		if c.Count != 0 {
			t.Fatalf("%s counts %d deliveries of another tenant's endpoint", tenant, c.Count)
		}
	case "POST /v1/deliveries/retry":
		// The fixture's deliveries are pending: nothing to retry; failing
		// one of each tenant, a key retries its own only.
		var r bulkRetryResponse
		if err := json.Unmarshal(res.body, &r); err != nil || r.Requeued != 0 {
			t.Fatalf("%s's retry: %s", tenant, res.body)
		}
		f.bundle.fail(t)
		f.with(t, f.keys[who], "POST", "/v1/deliveries/retry", `{"status":"failed"}`).ok(t, 202, &r)
		if r.Requeued != 1 {
			t.Fatalf("%s requeued %d, want its own 1", tenant, r.Requeued)
		}
		var c countResponse
		f.with(t, testKey, "GET", "/v1/deliveries/count?status=failed", "").ok(t, 200, &c)
		if c.Count != 1 {
			t.Fatalf("after %s's retry, %d dead letters, want the other tenant's 1", tenant, c.Count)
		}
	case "GET /v1/endpoints", "GET /v1/deliveries", "GET /v1/events":
		var l list[struct {
			ID     string `json:"id"`
			Tenant string `json:"tenant"`
		}]
		if err := json.Unmarshal(res.body, &l); err != nil {
			t.Fatal(err)
		}
		if len(l.Data) != 1 || l.Data[0].Tenant != tenant || l.NextCursor != nil {
			t.Fatalf("%s's list: %s", tenant, res.body)
		}
	}
}

// sameSet reports whether a and b hold the same strings.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
