package web_test

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hookline/hookline/web"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// browserless is a cookie-keeping HTTP client that does not follow
// redirects, as a browser's page would see them.
type browserless struct {
	t    *testing.T
	s    *stack
	c    *http.Client
	csrf string // of the last page that had a form
}

func (s *stack) client(t *testing.T) *browserless {
	jar, _ := cookiejar.New(nil)
	return &browserless{t: t, s: s, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// answer is a page as the client got it.
type answer struct {
	code     int
	body     string
	location string
	header   http.Header
}

func (b *browserless) send(req *http.Request) answer {
	b.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if m := csrfRE.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return answer{code: res.StatusCode, body: string(body), location: res.Header.Get("Location"), header: res.Header}
}

func (b *browserless) get(path string) answer {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.s.srv.URL+path, nil)
	return b.send(req)
}

// post sends a form with the CSRF token of the last page (unless form has
// one) and the headers a same-origin form gets.
func (b *browserless) post(path string, form url.Values, hdr ...string) answer {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf_token"]; !ok {
		form.Set("csrf_token", b.csrf)
	}
	req, _ := http.NewRequest("POST", b.s.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return b.send(req)
}

func (a answer) want(t *testing.T, code int, parts ...string) answer {
	t.Helper()
	if a.code != code {
		t.Fatalf("status %d, want %d: %.3000s", a.code, code, a.body)
	}
	body := html.UnescapeString(a.body)
	for _, p := range parts {
		if !strings.Contains(body, p) {
			t.Fatalf("page lacks %q: %.3000s", p, a.body)
		}
	}
	return a
}

// signIn returns a client signed in as the operator.
func (s *stack) signIn(t *testing.T) *browserless {
	t.Helper()
	b := s.client(t)
	b.get("/login").want(t, 200, "API key")
	a := b.post("/login", url.Values{"api_key": {operatorKey}, "next": {"/endpoints"}})
	if a.code != 303 || a.location != "/endpoints" {
		t.Fatalf("sign in: %d %q %s", a.code, a.location, a.body)
	}
	b.get("/endpoints").want(t, 200)
	return b
}

func TestSignIn(t *testing.T) {
	s := setupStack(t)
	t.Run("PagesNeedASession", func(t *testing.T) {
		b := s.client(t)
		for _, p := range []string{"/", "/endpoints", "/deliveries", "/events", "/events/evt_x"} {
			if a := b.get(p); a.code != 303 || !strings.HasPrefix(a.location, "/login?next=") {
				t.Fatalf("GET %s: %d %q", p, a.code, a.location)
			}
		}
		b.get("/live").want(t, 401)
		b.get("/login")
		b.post("/endpoints", url.Values{"url": {"https://x.example.com/"}}).want(t, 401)
	})
	t.Run("WrongKey", func(t *testing.T) {
		b := s.client(t)
		b.get("/login")
		b.post("/login", url.Values{"api_key": {"hk_wrong"}}).want(t, 401, "not valid")
	})
	t.Run("LoginNeedsItsCSRFToken", func(t *testing.T) {
		b := s.client(t)
		b.get("/login")
		b.post("/login", url.Values{"api_key": {operatorKey}, "csrf_token": {"forged"}}).want(t, 403)
		b.post("/login", url.Values{"api_key": {operatorKey}}, "Sec-Fetch-Site", "cross-site").want(t, 403)
		fresh := s.client(t) // no login cookie at all
		fresh.csrf = "x"
		fresh.post("/login", url.Values{"api_key": {operatorKey}}).want(t, 403)
	})
	t.Run("Cookie", func(t *testing.T) {
		b := s.client(t)
		b.get("/login")
		a := b.post("/login", url.Values{"api_key": {operatorKey}, "next": {"//evil.example.com/"}})
		if a.code != 303 || a.location != "/" {
			t.Fatalf("next to another host: %d %q", a.code, a.location)
		}
		var c string
		for _, v := range a.header.Values("Set-Cookie") {
			if strings.HasPrefix(v, "hookline_session=") {
				c = v
			}
		}
		for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=/"} {
			if !strings.Contains(c, want) {
				t.Fatalf("session cookie %q lacks %s", c, want)
			}
		}
		if strings.Contains(c, operatorKey) || strings.Contains(c, "Secure") {
			t.Fatalf("session cookie %q: carries the key, or Secure over plain HTTP", c)
		}
	})
	t.Run("SecureOverHTTPS", func(t *testing.T) {
		s := setupStack(t)
		s.dash.SetPublicURL("https://hooks.example.com")
		b := s.client(t)
		a := b.get("/login")
		if c := a.header.Get("Set-Cookie"); !strings.Contains(c, "Secure") {
			t.Fatalf("cookie %q not Secure with an https public URL", c)
		}
	})
	t.Run("Logout", func(t *testing.T) {
		b := s.signIn(t)
		b.post("/logout", nil).want(t, 303)
		if a := b.get("/endpoints"); a.code != 303 {
			t.Fatalf("after logout: %d", a.code)
		}
	})
	t.Run("Headers", func(t *testing.T) {
		a := s.client(t).get("/login")
		if csp := a.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Fatalf("CSP %q", csp)
		}
		if a.header.Get("X-Frame-Options") != "DENY" {
			t.Fatal("dashboard may be framed")
		}
	})
}

func TestPagesAndActions(t *testing.T) {
	s := setupStack(t)
	b := s.signIn(t)

	// Create through the form: the page shows the secret once.
	a := b.post("/endpoints", url.Values{"url": {s.receiver.URL + "/hook"}, "event_types": {"order.*, invoice.paid"}, "description": {"Orders"}, "tenant": {"acme"}})
	a.want(t, 200, "whsec_", "Endpoint created", "order.*, invoice.paid")
	var eps apiList[apiEndpoint]
	s.call(t, "GET", "/v1/endpoints?tenant=acme", nil, &eps)
	if len(eps.Data) != 1 {
		t.Fatalf("endpoints: %+v", eps)
	}
	ep := eps.Data[0]
	var sec struct{ Secret string }
	s.call(t, "GET", "/v1/endpoints/"+ep.ID+"/secret", nil, &sec)
	if !strings.Contains(html.UnescapeString(a.body), sec.Secret) {
		t.Fatal("the page does not show the endpoint's secret")
	}
	if a.header.Get("Cache-Control") != "no-store" {
		t.Fatal("a page with a secret may be cached")
	}

	t.Run("CSRFRequired", func(t *testing.T) {
		for _, path := range []string{"/endpoints", "/endpoints/" + ep.ID + "/delete", "/endpoints/" + ep.ID + "/disable", "/endpoints/" + ep.ID + "/secret", "/deliveries/bulk", "/events", "/logout",
			"/endpoints/" + ep.ID + "/replay-missing", "/event-types", "/event-types/invoice.paid", "/event-types/invoice.paid/delete"} {
			b.post(path, url.Values{"csrf_token": {"forged"}, "url": {"https://x.example.com/"}}).want(t, 403, "could not be checked")
			b.post(path, url.Values{"csrf_token": {""}}).want(t, 403)
		}
		b.post("/endpoints/"+ep.ID+"/delete", nil, "Sec-Fetch-Site", "cross-site").want(t, 403)
		b.post("/endpoints/"+ep.ID+"/delete", nil, "Sec-Fetch-Site", "", "Origin", "https://evil.example.com").want(t, 403)
		if s.call(t, "GET", "/v1/endpoints/"+ep.ID, nil, nil) != 200 {
			t.Fatal("a forged form deleted the endpoint")
		}
		b.get("/endpoints/"+ep.ID).want(t, 200, "enabled") // and did not disable it
	})

	t.Run("Endpoints", func(t *testing.T) {
		b.get("/endpoints").want(t, 200, ep.ID, "acme", "Orders")
		b.get("/endpoints?q=ORDERS").want(t, 200, ep.ID, "1 found")
		b.get("/endpoints?q=nothing-like-it").want(t, 200, "No endpoints match")
		b.get("/endpoints?q="+ep.ID).want(t, 200, ep.URL)
		b.get("/endpoints?tenant=globex").want(t, 200, "No endpoints")
		frag := b.get("/endpoints?fragment=1").want(t, 200, ep.ID)
		if strings.Contains(frag.body, "<html") {
			t.Fatal("the fragment is a whole page")
		}
		b.get("/endpoints/"+ep.ID).want(t, 200, ep.URL, "Consecutive failures", "—")
		b.post("/endpoints/"+ep.ID, url.Values{"url": {s.receiver.URL + "/hook2"}, "description": {"Edited"}, "event_types": {""}}).want(t, 303)
		b.get("/endpoints/"+ep.ID).want(t, 200, "/hook2", "Edited", "Endpoint saved", "* (every type)")
		b.post("/endpoints/"+ep.ID+"/disable", nil).want(t, 303)
		b.get("/endpoints/"+ep.ID).want(t, 200, "disabled", "Enable")
		b.post("/endpoints/"+ep.ID+"/enable", nil).want(t, 303)
		b.post("/endpoints/"+ep.ID+"/secret", nil).want(t, 200, sec.Secret)
		b.post("/endpoints/"+ep.ID+"/rotate", nil).want(t, 200, "Secret rotated")
		var after struct{ Secret string }
		s.call(t, "GET", "/v1/endpoints/"+ep.ID+"/secret", nil, &after)
		if after.Secret == sec.Secret || !strings.HasPrefix(after.Secret, "whsec_") {
			t.Fatalf("secret after rotation %q (was %q)", after.Secret, sec.Secret)
		}
		b.post("/endpoints", url.Values{"url": {"ftp://x"}}).want(t, 400, "url")
		b.get("/endpoints/ep_missing").want(t, 404)
	})

	// A delivered event and a dead letter.
	var ev, dead struct{ ID string }
	s.call(t, "POST", "/v1/events", map[string]any{"type": "order.created", "tenant": "acme", "data": map[string]int{"n": 1}}, &ev)
	waitFor(t, 10*time.Second, "delivery", func() bool {
		var l apiList[apiDelivery]
		s.call(t, "GET", "/v1/deliveries?status=delivered&event_id="+ev.ID, nil, &l)
		return len(l.Data) == 1
	})
	s.receiver.setStatus(503)
	s.call(t, "POST", "/v1/events", map[string]any{"type": "invoice.paid", "tenant": "acme", "data": 2}, &dead)
	var dl apiList[apiDelivery]
	waitFor(t, 10*time.Second, "dead letter", func() bool {
		s.call(t, "GET", "/v1/deliveries?status=failed&event_id="+dead.ID, nil, &dl)
		return len(dl.Data) == 1
	})
	s.receiver.setStatus(200)

	t.Run("Deliveries", func(t *testing.T) {
		b.get("/deliveries").want(t, 200, "order.created", "invoice.paid")
		a := b.get("/deliveries?status=failed").want(t, 200, "invoice.paid", "<strong>1</strong> dead letter matches this filter", "Retry all 1…")
		if strings.Contains(a.body, "order.created") {
			t.Fatal("status filter shows a delivered delivery")
		}
		b.get("/deliveries?event_id="+ev.ID).want(t, 200, "order.created")
		b.get("/deliveries?to=2000-01-01T00:00").want(t, 200, "No deliveries")
		b.get("/deliveries?from=2999-01-01T00:00").want(t, 200, "No deliveries")
		b.get("/deliveries?from=2000-01-01T00:00&to=2999-01-01T00:00").want(t, 200, "order.created")
		b.get("/deliveries?from=yesterday").want(t, 400, "from")
		b.get("/deliveries/"+dl.Data[0].ID).want(t, 200, "Attempt 2", "Attempt 1", "status 503", `{"received":true}`)
	})

	t.Run("BulkRetryWithConfirmation", func(t *testing.T) {
		a := b.post("/deliveries/bulk", url.Values{"endpoint_id": {ep.ID}}).want(t, 200, "Retry all 1 dead letter?")
		if got := s.receiver.got; got == 0 {
			t.Fatal("no deliveries at all")
		}
		var l apiList[apiDelivery]
		s.call(t, "GET", "/v1/deliveries?status=failed&event_id="+dead.ID, nil, &l)
		if len(l.Data) != 1 {
			t.Fatal("the confirmation page retried already")
		}
		_ = a
		b.post("/deliveries/bulk", url.Values{"endpoint_id": {ep.ID}, "confirm": {"yes"}}).want(t, 303)
		b.get("/deliveries").want(t, 200, "Requeued 1 dead letter.")
		waitFor(t, 10*time.Second, "retried dead letter", func() bool {
			s.call(t, "GET", "/v1/deliveries?event_id="+dead.ID, nil, &l)
			return len(l.Data) == 1 && l.Data[0].Status == "delivered"
		})
		b.post("/deliveries/bulk", url.Values{"from": {"bad"}}).want(t, 400)
	})

	t.Run("RetryRecoverReplay", func(t *testing.T) {
		b.post("/deliveries/"+dl.Data[0].ID+"/retry", nil).want(t, 303)
		b.get("/deliveries/"+dl.Data[0].ID).want(t, 200, "queued to be sent again")
		b.post("/endpoints/"+ep.ID+"/recover", nil).want(t, 303)
		b.get("/endpoints/"+ep.ID).want(t, 200, "Recovered: 0 dead letters sent again.")
		b.post("/events/"+ev.ID+"/replay", nil).want(t, 303)
		b.get("/events/"+ev.ID).want(t, 200, "Replayed to 1 endpoint", `"n": 1`)
	})

	t.Run("Events", func(t *testing.T) {
		if a := b.get("/events?q=" + ev.ID); a.code != 303 || a.location != "/events/"+ev.ID {
			t.Fatalf("find by id: %d %q", a.code, a.location)
		}
		b.get("/events?q=order.created").want(t, 200, ev.ID)
		b.get("/events?q=order.*").want(t, 200, ev.ID)
		a := b.get("/events?q=invoice.paid").want(t, 200, dead.ID)
		if strings.Contains(a.body, ev.ID) {
			t.Fatal("type filter shows another type")
		}
		b.post("/events", url.Values{"type": {"order.shipped"}, "data": {`{"x":1}`}, "tenant": {"acme"}}).want(t, 303)
		b.post("/events", url.Values{"type": {"order.shipped"}, "data": {`{x`}}).want(t, 400, "data")
		b.get("/events/evt_missing").want(t, 404)
	})

	t.Run("Overview", func(t *testing.T) {
		b.get("/").want(t, 200, "Deliveries/s", "Dead letters", "Pending backlog", `data-chart="latency"`, "900 samples")
	})

	t.Run("Delete", func(t *testing.T) {
		b.get("/endpoints/"+ep.ID+"/delete").want(t, 200, "cannot be undone")
		b.post("/endpoints/"+ep.ID+"/delete", nil).want(t, 303)
		if s.call(t, "GET", "/v1/endpoints/"+ep.ID, nil, nil) != 404 {
			t.Fatal("endpoint still there")
		}
	})
}

// portalLink returns the URL of a portal link for tenant, made by the API.
func (s *stack) portalLink(t *testing.T, tenant, ttl string) string {
	t.Helper()
	var link struct{ URL string }
	if code := s.call(t, "POST", "/v1/portal-links", map[string]any{"tenant": tenant, "expires_in": ttl}, &link); code != 201 {
		t.Fatalf("portal link: %d", code)
	}
	return link.URL
}

func TestPortal(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	s := setupStack(t, func(c *web.Config) { c.Now = func() time.Time { return clock() } })
	var acme, globex apiEndpoint
	s.call(t, "POST", "/v1/endpoints", map[string]any{"url": s.receiver.URL + "/acme", "tenant": "acme"}, &acme)
	s.call(t, "POST", "/v1/endpoints", map[string]any{"url": s.receiver.URL + "/globex", "tenant": "globex"}, &globex)
	var gev struct{ ID string }
	s.call(t, "POST", "/v1/events", map[string]any{"type": "x.y", "tenant": "globex", "data": 1}, &gev)
	var gds apiList[apiDelivery]
	waitFor(t, 10*time.Second, "globex delivery", func() bool {
		s.call(t, "GET", "/v1/deliveries?event_id="+gev.ID, nil, &gds)
		return len(gds.Data) == 1
	})

	link := s.portalLink(t, "acme", "1h")
	u, _ := url.Parse(link)
	if u.Scheme+"://"+u.Host != s.srv.URL || u.Path != "/portal" || u.Query().Get("token") == "" {
		t.Fatalf("link %q", link)
	}
	b := s.client(t)
	a := b.get(u.RequestURI()).want(t, 200, "/portal/endpoints")
	var c string
	for _, v := range a.header.Values("Set-Cookie") {
		c = v
	}
	if !strings.HasPrefix(c, "hookline_portal=") || !strings.Contains(c, "Path=/portal") || !strings.Contains(c, "SameSite=Strict") || !strings.Contains(c, "HttpOnly") {
		t.Fatalf("portal cookie %q", c)
	}

	t.Run("OnlyItsTenant", func(t *testing.T) {
		a := b.get("/portal/endpoints").want(t, 200, acme.ID)
		if strings.Contains(a.body, globex.ID) || strings.Contains(a.body, "globex") || strings.Contains(a.body, ">Overview<") {
			t.Fatalf("acme's portal shows: %s", a.body)
		}
		b.get("/portal/endpoints?q=globex").want(t, 200, "No endpoints match")
		b.get("/portal/endpoints?q="+globex.ID).want(t, 200, "No endpoints")
		b.get("/portal/deliveries?endpoint_id="+globex.ID).want(t, 200, "No deliveries")
		a = b.get("/portal/deliveries").want(t, 200)
		if strings.Contains(a.body, gds.Data[0].ID) {
			t.Fatal("acme's portal lists globex's delivery")
		}
	})
	t.Run("EditedIDsAreNotFound", func(t *testing.T) {
		b.get("/portal/endpoints/" + acme.ID) // a fresh CSRF token
		for _, c := range []struct{ method, path string }{
			{"GET", "/portal/endpoints/" + globex.ID},
			{"GET", "/portal/endpoints/" + globex.ID + "/delete"},
			{"POST", "/portal/endpoints/" + globex.ID + "/delete"},
			{"POST", "/portal/endpoints/" + globex.ID + "/disable"},
			{"POST", "/portal/endpoints/" + globex.ID},
			{"POST", "/portal/endpoints/" + globex.ID + "/secret"},
			{"POST", "/portal/endpoints/" + globex.ID + "/rotate"},
			{"POST", "/portal/endpoints/" + globex.ID + "/recover"},
			{"GET", "/portal/deliveries/" + gds.Data[0].ID},
			{"POST", "/portal/deliveries/" + gds.Data[0].ID + "/retry"},
		} {
			var a answer
			if c.method == "GET" {
				a = b.get(c.path)
			} else {
				a = b.post(c.path, url.Values{"url": {"https://evil.example.com/"}})
			}
			a.want(t, 404, "not found")
		}
		// A bulk form naming another tenant's endpoint or event selects nothing.
		b.get("/portal/deliveries")
		b.post("/portal/deliveries/bulk", url.Values{"endpoint_id": {globex.ID}}).want(t, 200, "Retry all 0 dead letters?")
		b.post("/portal/deliveries/bulk", url.Values{"event_id": {gev.ID}, "confirm": {"yes"}}).want(t, 303)
		b.get("/portal/deliveries").want(t, 200, "Requeued 0 dead letters.")
		var ep apiEndpoint
		if s.call(t, "GET", "/v1/endpoints/"+globex.ID, nil, &ep) != 200 || ep.URL != globex.URL {
			t.Fatal("acme's portal changed globex's endpoint")
		}
	})
	t.Run("ActionsOnItsOwn", func(t *testing.T) {
		b.get("/portal/endpoints")
		b.post("/portal/endpoints", url.Values{"url": {"https://acme2.example.com/"}, "tenant": {"globex"}}).want(t, 200, "whsec_")
		var l apiList[apiEndpoint]
		s.call(t, "GET", "/v1/endpoints?tenant=acme", nil, &l)
		if len(l.Data) != 2 {
			t.Fatalf("acme has %d endpoints, want 2 (the form's tenant is ignored)", len(l.Data))
		}
		b.post("/portal/endpoints/"+acme.ID+"/disable", nil).want(t, 303)
		b.get("/portal/endpoints/"+acme.ID).want(t, 200, "Endpoint disabled")
		b.post("/portal/endpoints/"+acme.ID+"/secret", nil).want(t, 200, "whsec_")
		b.post("/portal/endpoints/"+acme.ID+"/recover", nil).want(t, 303)
		b.get("/portal/endpoints/"+acme.ID+"/delete").want(t, 200, "cannot be undone")
	})
	t.Run("NoOperatorPages", func(t *testing.T) {
		for _, p := range []string{"/", "/endpoints", "/events", "/deliveries"} {
			if a := b.get(p); a.code != 303 {
				t.Fatalf("portal session on %s: %d", p, a.code)
			}
		}
		b.get("/live").want(t, 401)
		op := s.signIn(t)
		op.get("/portal/endpoints").want(t, 401, "Portal session ended")
	})
	t.Run("BadTokens", func(t *testing.T) {
		c := s.client(t)
		c.get("/portal").want(t, 400, "no token")
		tok := u.Query().Get("token")
		c.get("/portal?token="+url.QueryEscape(tok[:len(tok)-2])).want(t, 400, "not valid")
		c.get("/portal?token="+url.QueryEscape("x"+tok)).want(t, 400, "not valid")
		c.get("/portal/endpoints").want(t, 401, "ended")
		now = now.Add(2 * time.Hour)
		c.get(u.RequestURI()).want(t, 401, "expired")
		// The session of the expired link has ended too.
		b.get("/portal/endpoints").want(t, 401, "ended")
		now = now.Add(-2 * time.Hour)
	})
	t.Run("Logout", func(t *testing.T) {
		c := s.client(t)
		c.get(u.RequestURI()).want(t, 200)
		c.get("/portal/endpoints").want(t, 200)
		c.post("/portal/logout", nil).want(t, 200, "left the portal")
		c.get("/portal/endpoints").want(t, 401)
	})
}

// TestSignInWithTenantKey checks that a tenant's API key signs in to that
// tenant's portal, acting with the key: it sees its tenant only, and
// revoking the key ends the session.
func TestSignInWithTenantKey(t *testing.T) {
	s := setupStack(t)
	var acme, globex apiEndpoint
	s.call(t, "POST", "/v1/endpoints", map[string]any{"url": s.receiver.URL + "/acme", "tenant": "acme"}, &acme)
	s.call(t, "POST", "/v1/endpoints", map[string]any{"url": s.receiver.URL + "/globex", "tenant": "globex"}, &globex)
	var key struct{ ID, Key string }
	if code := s.call(t, "POST", "/v1/keys", map[string]any{"tenant": "acme", "name": "acme dashboard"}, &key); code != 201 {
		t.Fatalf("create key: %d", code)
	}
	b := s.client(t)
	b.get("/login").want(t, 200, "API key")
	a := b.post("/login", url.Values{"api_key": {key.Key}, "next": {"/endpoints"}})
	if a.code != 303 || a.location != "/portal/endpoints" {
		t.Fatalf("sign in with acme's key: %d %q %s", a.code, a.location, a.body)
	}
	a = b.get("/portal/endpoints").want(t, 200, acme.ID)
	if strings.Contains(a.body, globex.ID) || strings.Contains(a.body, ">Overview<") {
		t.Fatalf("acme's key shows: %s", a.body)
	}
	b.get("/portal/endpoints/"+globex.ID).want(t, 404, "not found")
	if a := b.get("/endpoints"); a.code != 303 || !strings.HasPrefix(a.location, "/login") {
		t.Fatalf("the operator's pages with a tenant key's session: %d %q", a.code, a.location)
	}

	if code := s.call(t, "DELETE", "/v1/keys/"+key.ID, nil, nil); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	if a := b.get("/portal/endpoints"); a.code != 303 || a.location != "/login" {
		t.Fatalf("after the key was revoked: %d %q %.500s", a.code, a.location, a.body)
	}
	b.get("/portal/endpoints").want(t, 401, "session")
}
