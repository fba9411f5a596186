package api

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

// fakeLinker is a PortalLinker that records its calls.
type fakeLinker struct{ tenants []string }

func (f *fakeLinker) PortalLink(tenant string, ttl time.Duration) (string, time.Time, error) {
	f.tenants = append(f.tenants, tenant)
	return "https://hooks.example.com/portal?token=t-" + tenant, time.Unix(1700000000, 0).Add(ttl).UTC(), nil
}

// scoped is a Server under test together with the bundle that serves it
// over HTTP for the operator.
type scoped struct {
	*bundle
	srv    *Server
	linker *fakeLinker
}

// setupScoped returns a server with endpoints, events and deliveries of two
// tenants, "acme" and "globex".
func setupScoped(t *testing.T) *scoped {
	t.Helper()
	var cfg Config
	linker := &fakeLinker{}
	b := setup(t, func(c *Config) { c.Portal = linker; cfg = *c })
	return &scoped{bundle: b, srv: NewServer(cfg), linker: linker}
}

// as sends a request in-process as a session of tenant, without an
// Authorization header.
func (s *scoped) as(t *testing.T, tenant, method, path, body string) *response {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req = req.WithContext(WithTenant(req.Context(), tenant))
	w := httptest.NewRecorder()
	s.srv.ServeHTTP(w, req)
	return &response{code: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

func TestScopedTenant(t *testing.T) {
	t.Parallel()
	s := setupScoped(t)
	acme1 := s.createEndpoint(t, `{"url":"https://a1.example.com/","tenant":"acme"}`)
	acme2 := s.createEndpoint(t, `{"url":"https://a2.example.com/","tenant":"acme"}`)
	globex := s.createEndpoint(t, `{"url":"https://g.example.com/","tenant":"globex"}`)
	var acmeEvents []eventResult
	for i := range 3 {
		acmeEvents = append(acmeEvents, s.ingest(t, fmt.Sprintf(`{"type":"order.created","data":%d,"tenant":"acme"}`, i)))
	}
	gEvent := s.ingest(t, `{"type":"order.created","data":1,"tenant":"globex"}`)
	var gDeliveries list[hookline.Delivery]
	s.do(t, "GET", "/v1/deliveries?endpoint_id="+globex.ID, "").ok(t, 200, &gDeliveries)
	if len(gDeliveries.Data) != 1 {
		t.Fatalf("globex deliveries: %+v", gDeliveries)
	}
	gDelivery := gDeliveries.Data[0].ID

	t.Run("NoHeaderNeeded", func(t *testing.T) {
		s.as(t, "acme", "GET", "/v1/endpoints", "").ok(t, 200, nil)
	})
	t.Run("NetworkRequestsStillNeedTheKey", func(t *testing.T) {
		req := s.request(t, "GET", "/v1/endpoints", "")
		req.Header.Del("Authorization")
		s.send(t, req).wantError(t, 401, hookline.EUNAUTHORIZED)
	})
	t.Run("ListEndpointsOnlyOwn", func(t *testing.T) {
		var l list[endpointJSON]
		s.as(t, "acme", "GET", "/v1/endpoints?tenant=globex", "").ok(t, 200, &l)
		// (Two IDs of one millisecond sort either way: compare as sets.)
		if len(l.Data) != 2 || !sameSet([]string{l.Data[0].ID, l.Data[1].ID}, []string{acme1.ID, acme2.ID}) {
			t.Fatalf("acme's list: %+v", l.Data)
		}
	})
	t.Run("OtherTenantsObjectsAreNotFound", func(t *testing.T) {
		for _, c := range []struct{ method, path, body string }{
			{"GET", "/v1/endpoints/" + globex.ID, ""},
			{"PATCH", "/v1/endpoints/" + globex.ID, `{"disabled":true}`},
			{"DELETE", "/v1/endpoints/" + globex.ID, ""},
			{"GET", "/v1/endpoints/" + globex.ID + "/secret", ""},
			{"POST", "/v1/endpoints/" + globex.ID + "/recover", ""},
			{"GET", "/v1/endpoints/" + globex.ID + "/stats", ""},
			{"POST", "/v1/endpoints/" + globex.ID + "/secret/rotate", ""},
			{"GET", "/v1/deliveries/" + gDelivery, ""},
			{"GET", "/v1/deliveries/" + gDelivery + "/attempts", ""},
			{"POST", "/v1/deliveries/" + gDelivery + "/retry", ""},
			{"GET", "/v1/events/" + gEvent.ID, ""},
			{"POST", "/v1/events/" + gEvent.ID + "/replay", ""},
			{"GET", "/v1/endpoints/" + globex.ID + "%2Fsecret", ""},
			{"GET", "/v1/endpoints/" + acme1.ID + "%2F..%2F" + globex.ID, ""},
		} {
			t.Run(c.method+c.path, func(t *testing.T) {
				s.as(t, "acme", c.method, c.path, c.body).wantError(t, 404, hookline.ENOTFOUND)
			})
		}
		// Nothing changed: the endpoint is still there and enabled.
		var ep endpointJSON
		s.do(t, "GET", "/v1/endpoints/"+globex.ID, "").ok(t, 200, &ep)
		if ep.Disabled {
			t.Fatal("another tenant's endpoint was disabled")
		}
	})
	t.Run("OwnObjects", func(t *testing.T) {
		s.as(t, "acme", "GET", "/v1/endpoints/"+acme1.ID, "").ok(t, 200, nil)
		var sec secretResponse
		s.as(t, "acme", "GET", "/v1/endpoints/"+acme1.ID+"/secret", "").ok(t, 200, &sec)
		if sec.Secret != acme1.Secret {
			t.Fatalf("secret %q, want %q", sec.Secret, acme1.Secret)
		}
		s.as(t, "acme", "GET", "/v1/events/"+acmeEvents[0].ID, "").ok(t, 200, nil)
		s.as(t, "acme", "POST", "/v1/endpoints/"+acme1.ID+"/recover", "").ok(t, 202, nil)
	})
	t.Run("CreateEndpointPinsTenant", func(t *testing.T) {
		var ep endpointJSON
		s.as(t, "acme", "POST", "/v1/endpoints", `{"url":"https://a3.example.com/"}`).ok(t, 201, &ep)
		if ep.Tenant != "acme" {
			t.Fatalf("tenant %q, want acme", ep.Tenant)
		}
		s.as(t, "acme", "DELETE", "/v1/endpoints/"+ep.ID, "").ok(t, 204, nil)
		s.as(t, "acme", "POST", "/v1/endpoints", `{"url":"https://a3.example.com/","tenant":"globex"}`).
			wantError(t, 403, hookline.EFORBIDDEN, "tenant")
		s.as(t, "acme", "POST", "/v1/endpoints", `[1]`).wantError(t, 400, hookline.EINVALID)
		var l list[endpointJSON]
		s.do(t, "GET", "/v1/endpoints?tenant=globex", "").ok(t, 200, &l)
		if len(l.Data) != 1 {
			t.Fatalf("globex has %d endpoints, want 1", len(l.Data))
		}
	})
	t.Run("DeliveriesMergedAndPaged", func(t *testing.T) {
		// 3 events × 2 endpoints of acme; pages of 4 cross both endpoints.
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 3 {
				t.Fatal("too many pages")
			}
			var l list[hookline.Delivery]
			s.as(t, "acme", "GET", "/v1/deliveries?limit=4&cursor="+cursor, "").ok(t, 200, &l)
			for _, d := range l.Data {
				if d.Tenant != "acme" {
					t.Fatalf("delivery of tenant %q in acme's list", d.Tenant)
				}
				if len(got) > 0 && d.ID >= got[len(got)-1] {
					t.Fatalf("not newest first: %s after %s", d.ID, got[len(got)-1])
				}
				got = append(got, d.ID)
			}
			if l.NextCursor == nil {
				break
			}
			cursor = *l.NextCursor
		}
		if len(got) != 6 {
			t.Fatalf("%d deliveries, want 6", len(got))
		}
	})
	t.Run("DeliveriesFilteredByAnotherTenantsObject", func(t *testing.T) {
		for _, q := range []string{"endpoint_id=" + globex.ID, "event_id=" + gEvent.ID} {
			var l list[hookline.Delivery]
			s.as(t, "acme", "GET", "/v1/deliveries?"+q, "").ok(t, 200, &l)
			if len(l.Data) != 0 {
				t.Fatalf("%s: %d deliveries of globex shown to acme", q, len(l.Data))
			}
		}
		var l list[hookline.Delivery]
		s.as(t, "acme", "GET", "/v1/deliveries?event_id="+acmeEvents[1].ID, "").ok(t, 200, &l)
		if len(l.Data) != 2 {
			t.Fatalf("%d deliveries of acme's event, want 2", len(l.Data))
		}
		s.as(t, "acme", "GET", "/v1/deliveries?status=bogus", "").wantError(t, 400, hookline.EINVALID, "status")
	})
	t.Run("StatsOfTheTenant", func(t *testing.T) {
		var st hookline.TenantStats
		s.as(t, "acme", "GET", "/v1/stats", "").ok(t, 200, &st)
		if st.Tenant != "acme" || st.Endpoints != 2 || st.EndpointsByCircuit.Closed != 2 || st.Pending != 6 {
			t.Fatalf("acme's stats: %+v", st)
		}
	})
	t.Run("NoEventsNorKeys", func(t *testing.T) {
		s.as(t, "acme", "POST", "/v1/events", `{"type":"x","data":1}`).wantError(t, 403, hookline.EFORBIDDEN, "portal")
		s.as(t, "acme", "POST", "/v1/events/batch", `{"events":[]}`).wantError(t, 403, hookline.EFORBIDDEN, "portal")
		s.as(t, "acme", "GET", "/v1/keys", "").wantError(t, 403, hookline.EFORBIDDEN)
		s.as(t, "acme", "POST", "/v1/keys", `{"tenant":"acme"}`).wantError(t, 403, hookline.EFORBIDDEN)
	})
	t.Run("PortalLinksOwnTenantOnly", func(t *testing.T) {
		s.as(t, "acme", "POST", "/v1/portal-links", `{"tenant":"globex"}`).wantError(t, 403, hookline.EFORBIDDEN, "tenant")
		var res portalLinkResponse
		s.as(t, "acme", "POST", "/v1/portal-links", `{}`).ok(t, 201, &res)
		if !strings.HasSuffix(res.URL, "t-acme") {
			t.Fatalf("url %q", res.URL)
		}
	})
}

func TestPortalLinks(t *testing.T) {
	t.Parallel()
	s := setupScoped(t)
	var res map[string]any
	r := s.do(t, "POST", "/v1/portal-links", `{"tenant":"acme","expires_in":"2h"}`)
	r.ok(t, 201, &res)
	if res["url"] != "https://hooks.example.com/portal?token=t-acme" || res["expires_at"] != "2023-11-15T00:13:20Z" {
		t.Fatalf("answer %v", res)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("Cache-Control %q", r.header.Get("Cache-Control"))
	}
	for _, c := range []struct{ body, field string }{
		{`{}`, "tenant"},
		{`{"tenant":"a b"}`, "tenant"},
		{`{"tenant":"acme","expires_in":"forever"}`, "expires_in"},
		{`{"tenant":"acme","expires_in":"10s"}`, "expires_in"},
		{`{"tenant":"acme","expires_in":"200h"}`, "expires_in"},
		{`{"tenant":"acme","extra":1}`, "extra"},
	} {
		s.do(t, "POST", "/v1/portal-links", c.body).wantError(t, 400, hookline.EINVALID, c.field)
	}
	req := s.request(t, "POST", "/v1/portal-links", `{"tenant":"acme"}`)
	req.Header.Set("Authorization", "Bearer wrong")
	s.send(t, req).wantError(t, 401, hookline.EUNAUTHORIZED)
	if len(s.linker.tenants) != 1 {
		t.Fatalf("linker called %d times, want 1", len(s.linker.tenants))
	}

	t.Run("NotServed", func(t *testing.T) {
		b := setup(t)
		b.do(t, "POST", "/v1/portal-links", `{"tenant":"acme"}`).wantError(t, 404, hookline.ENOTFOUND, "portal")
	})
}

// TestScopedContextOnlyInProcess checks that the tenant of a scoped request
// comes from Go code only: a request over the network with no key is 401
// whatever headers it sends.
func TestScopedContextOnlyInProcess(t *testing.T) {
	t.Parallel()
	s := setupScoped(t)
	req := s.request(t, "GET", "/v1/endpoints", "")
	req.Header.Del("Authorization")
	req.Header.Set("X-Hookline-Tenant", "acme")
	s.send(t, req).wantError(t, 401, hookline.EUNAUTHORIZED)
}
