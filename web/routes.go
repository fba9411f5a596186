package web

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
)

// page is a request of a signed-in session: who it is, which site (the
// operator's dashboard or a tenant's portal) and how to reach the API as it.
type page struct {
	sess   *session
	sid    string
	portal bool
	base   string // "/" or "/portal/"
	cred   credential
	api    *client
	// fragment is a live refresh of a table (isFragment): it shows no
	// flash, and leaves it to the next whole page.
	fragment bool
}

// view returns the view of a page of this session, with the flash it has
// not shown yet.
func (p *page) view(title, nav string, data any) *view {
	v := &view{Title: title, Nav: nav, Base: p.base, Portal: p.portal, Tenant: p.sess.tenant, CSRF: p.sess.csrf, Data: data, SignedIn: true}
	if !p.fragment {
		p.sess.mu.Lock()
		v.Flash, p.sess.flash = p.sess.flash, ""
		p.sess.mu.Unlock()
	}
	return v
}

// flash sets the message the next page of the session shows.
func (p *page) flash(msg string) {
	p.sess.mu.Lock()
	p.sess.flash = msg
	p.sess.mu.Unlock()
}

// maxForm bounds the body of a form.
const maxForm = 1 << 20

// routes registers every route of the dashboard and of the portal. The
// pages they share are registered twice, under / for operators and under
// /portal/ for tenants, each accepting only its own kind of session.
func (h *Handler) routes() {
	m := h.mux
	m.Handle("GET /static/", handleStatic())
	m.HandleFunc("GET /login", h.handleLoginPage)
	m.HandleFunc("POST /login", h.handleLogin)
	m.HandleFunc("POST /logout", h.site(false, h.handleLogout))
	m.HandleFunc("GET /portal", h.handlePortalEntry)
	m.HandleFunc("POST /portal/logout", h.site(true, h.handleLogout))

	m.HandleFunc("GET /{$}", h.site(false, h.handleOverview))
	m.HandleFunc("GET /portal/{$}", h.site(true, func(w http.ResponseWriter, r *http.Request, p *page) {
		http.Redirect(w, r, "/portal/endpoints", http.StatusSeeOther)
	}))
	m.HandleFunc("GET /events", h.site(false, h.handleEvents))
	m.HandleFunc("POST /events", h.site(false, h.handleSendEvent))
	m.HandleFunc("GET /events/{id}", h.site(false, h.handleEvent))
	m.HandleFunc("POST /events/{id}/replay", h.site(false, h.handleReplay))
	m.HandleFunc("POST /event-types", h.site(false, h.handleCreateEventType))
	m.HandleFunc("GET /event-types/{name}", h.site(false, h.handleEventType))
	m.HandleFunc("POST /event-types/{name}", h.site(false, h.handleEditEventType))
	m.HandleFunc("GET /event-types/{name}/delete", h.site(false, h.handleDeleteEventTypeConfirm))
	m.HandleFunc("POST /event-types/{name}/delete", h.site(false, h.handleDeleteEventType))

	for _, portal := range []bool{false, true} {
		pre := ""
		if portal {
			pre = "/portal"
		}
		s := func(fn func(http.ResponseWriter, *http.Request, *page)) http.HandlerFunc { return h.site(portal, fn) }
		m.HandleFunc("GET "+pre+"/live", s(h.handleLive))
		m.HandleFunc("GET "+pre+"/endpoints", s(h.handleEndpoints))
		m.HandleFunc("POST "+pre+"/endpoints", s(h.handleCreateEndpoint))
		m.HandleFunc("GET "+pre+"/endpoints/{id}", s(h.handleEndpoint))
		m.HandleFunc("POST "+pre+"/endpoints/{id}", s(h.handleEditEndpoint))
		m.HandleFunc("POST "+pre+"/endpoints/{id}/disable", s(h.handleDisable(true)))
		m.HandleFunc("POST "+pre+"/endpoints/{id}/enable", s(h.handleDisable(false)))
		m.HandleFunc("GET "+pre+"/endpoints/{id}/delete", s(h.handleDeleteConfirm))
		m.HandleFunc("POST "+pre+"/endpoints/{id}/delete", s(h.handleDelete))
		m.HandleFunc("POST "+pre+"/endpoints/{id}/secret", s(h.handleRevealSecret))
		m.HandleFunc("POST "+pre+"/endpoints/{id}/rotate", s(h.handleRotateSecret))
		m.HandleFunc("POST "+pre+"/endpoints/{id}/recover", s(h.handleRecover))
		m.HandleFunc("POST "+pre+"/endpoints/{id}/replay-missing", s(h.handleReplayMissing))
		m.HandleFunc("GET "+pre+"/event-types", s(h.handleEventTypes))
		m.HandleFunc("GET "+pre+"/deliveries", s(h.handleDeliveries))
		m.HandleFunc("POST "+pre+"/deliveries/bulk", s(h.handleBulk))
		m.HandleFunc("GET "+pre+"/deliveries/{id}", s(h.handleDelivery))
		m.HandleFunc("POST "+pre+"/deliveries/{id}/retry", s(h.handleRetry))
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.errorPage(w, r, nil, http.StatusNotFound, "Not found", "There is no page at "+r.URL.Path+".")
	})
}

// site wraps a page handler: it finds the session of the site's cookie
// (operators are sent to sign in, a portal without a session gets a page
// that says so) and, on every POST, checks the CSRF token and the origin.
func (h *Handler) site(portal bool, fn func(http.ResponseWriter, *http.Request, *page)) http.HandlerFunc {
	name, base := operatorCookie, "/"
	if portal {
		name, base = portalCookie, "/portal/"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		var sid string
		if c, err := r.Cookie(name); err == nil {
			sid = c.Value
		}
		s := h.sessions.get(sid)
		if s == nil || s.portal != portal {
			switch {
			case portal:
				h.errorPage(w, r, nil, http.StatusUnauthorized, "Portal session ended",
					"Your portal session has ended or was never opened. Open the portal again from the product that linked you here.")
			case r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, "/live"):
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			default:
				h.errorPage(w, r, nil, http.StatusUnauthorized, "Signed out", "Your session has ended; sign in again.")
			}
			return
		}
		p := &page{sess: s, sid: sid, portal: portal, base: base, cred: s.cred(), api: h.api.Load(), fragment: isFragment(r)}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if !sameOrigin(r) || !validCSRF(r.PostFormValue("csrf_token"), s.csrf) {
				h.errorPage(w, r, p, http.StatusForbidden, "Form expired",
					"This form could not be checked (it is stale, or was sent from another site). Reload the page and try again.")
				return
			}
		}
		fn(w, r, p)
	}
}

// validCSRF compares a form's token with the session's in constant time.
func validCSRF(got, want string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// sameOrigin reports whether a state-changing request comes from a page of
// this origin, by Sec-Fetch-Site, or else Origin, when the browser sends
// them. The CSRF token is checked as well either way.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" {
		return s == "same-origin"
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		return err == nil && u.Host == r.Host
	}
	return true
}
