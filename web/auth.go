package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookline/hookline"
)

// loginData is the sign-in form.
type loginData struct {
	Next string
}

// setCookie sets a session cookie: HttpOnly, SameSite=Strict, Secure over
// TLS. maxAge < 0 deletes it.
func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, name, value, path string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: h.secureCookies(r),
	})
}

// handleLoginPage is GET /login: the sign-in form. Its CSRF token is in a
// cookie of its own (double submit), since there is no session yet.
func (h *Handler) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(operatorCookie); err == nil {
		if s := h.sessions.get(c.Value); s != nil && !s.portal {
			http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
			return
		}
	}
	h.loginForm(w, r, http.StatusOK, "")
}

// loginForm renders the sign-in form with a fresh CSRF token.
func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request, status int, msg string) {
	tok := randomToken()
	h.setCookie(w, r, loginCookie, tok, "/login", 3600)
	next := r.URL.Query().Get("next")
	if r.Method == http.MethodPost {
		next = r.PostFormValue("next")
	}
	h.render(w, r, status, "login", &view{Title: "Sign in", Base: "/", CSRF: tok, Error: msg, Data: loginData{Next: localPath(next)}})
}

// handleLogin is POST /login {api_key}: a valid key (one the API accepts)
// starts a session; the key stays on the server.
func (h *Handler) handleLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	c, err := r.Cookie(loginCookie)
	if err != nil || !sameOrigin(r) || !validCSRF(r.PostFormValue("csrf_token"), c.Value) {
		h.loginForm(w, r, http.StatusForbidden, "The sign-in form expired; please try again.")
		return
	}
	key := strings.TrimSpace(r.PostFormValue("api_key"))
	if key == "" {
		h.loginForm(w, r, http.StatusBadRequest, "Enter an API key.")
		return
	}
	cred := credential{key: key}
	err = h.api.Load().do(r.Context(), cred, http.MethodGet, "/v1/endpoints?limit=1", nil, nil)
	if hookline.ErrorCode(err) == hookline.EUNAUTHORIZED {
		h.loginForm(w, r, http.StatusUnauthorized, "That API key is not valid.")
		return
	} else if err != nil {
		h.log.Error("dashboard: sign in", "err", err)
		h.loginForm(w, r, http.StatusServiceUnavailable, "Hookline could not check the key just now; try again.")
		return
	}
	// A tenant's key (GET /v1/stats names its tenant) opens the portal of
	// that tenant, acting with the key, so that revoking it ends the session.
	var who struct {
		Tenant string `json:"tenant"`
	}
	if err := h.api.Load().do(r.Context(), cred, http.MethodGet, "/v1/stats", nil, &who); err != nil {
		h.log.Error("dashboard: sign in", "err", err)
		h.loginForm(w, r, http.StatusServiceUnavailable, "Hookline could not check the key just now; try again.")
		return
	}
	h.setCookie(w, r, loginCookie, "", "/login", -1)
	if who.Tenant != "" {
		sid := h.sessions.create(&session{key: key, tenant: who.Tenant, portal: true, expires: h.now().Add(h.cfg.SessionTTL)})
		h.setCookie(w, r, portalCookie, sid, "/portal", int(h.cfg.SessionTTL/time.Second))
		http.Redirect(w, r, "/portal/endpoints", http.StatusSeeOther)
		return
	}
	sid := h.sessions.create(&session{key: key, expires: h.now().Add(h.cfg.SessionTTL)})
	h.setCookie(w, r, operatorCookie, sid, "/", int(h.cfg.SessionTTL/time.Second))
	http.Redirect(w, r, localPath(r.PostFormValue("next")), http.StatusSeeOther)
}

// localPath returns next when it is a path of this site, else "/": a
// sign-in never sends anyone to another host.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}

// handleLogout is POST /logout and POST /portal/logout.
func (h *Handler) handleLogout(w http.ResponseWriter, r *http.Request, p *page) {
	h.signOut(w, r, p)
	if p.portal && p.sess.key == "" {
		h.errorPage(w, r, nil, http.StatusOK, "Signed out", "You have left the portal. Open it again from the product that linked you here.")
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// signOut ends the session of p and deletes its cookie.
func (h *Handler) signOut(w http.ResponseWriter, r *http.Request, p *page) {
	h.sessions.remove(p.sid)
	if p.portal {
		h.setCookie(w, r, portalCookie, "", "/portal", -1)
	} else {
		h.setCookie(w, r, operatorCookie, "", "/", -1)
	}
}

// handlePortalEntry is GET /portal?token=…: a valid token starts a portal
// session of its tenant until the token expires. An expired or tampered
// token gets a page that says so. The answer is a page that moves on by
// itself, rather than a redirect, so that the SameSite=Strict cookie is
// sent on the next request even when the link was followed from another
// site.
func (h *Handler) handlePortalEntry(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	tenant, exp, err := verifyToken(h.cfg.Secret, tok, h.now())
	switch {
	case tok == "":
		h.errorPage(w, r, nil, http.StatusBadRequest, "Portal link incomplete", "This portal link has no token. Open the portal again from the product that linked you here.")
		return
	case errors.Is(err, errTokenExpired):
		h.errorPage(w, r, nil, http.StatusUnauthorized, "Portal link expired", "This portal link has expired. Open the portal again from the product that linked you here to get a new one.")
		return
	case err != nil:
		h.errorPage(w, r, nil, http.StatusBadRequest, "Portal link not valid", "This portal link is not valid: it may have been cut short or changed. Open the portal again from the product that linked you here.")
		return
	}
	until := min(exp.Sub(h.now()), h.cfg.SessionTTL)
	sid := h.sessions.create(&session{tenant: tenant, portal: true, expires: h.now().Add(until)})
	h.setCookie(w, r, portalCookie, sid, "/portal", int(until/time.Second)+1)
	h.render(w, r, http.StatusOK, "portal_entry", &view{Title: "Opening the portal", Base: "/portal/", Portal: true, Tenant: tenant})
}

// PortalLink implements api.PortalLinker: the URL of a portal session for
// tenant, valid for ttl.
func (h *Handler) PortalLink(tenant string, ttl time.Duration) (string, time.Time, error) {
	base := *h.publicURL.Load()
	if base == "" {
		return "", time.Time{}, hookline.Errorf(hookline.EUNAVAILABLE, "the public URL of Hookline is not known; start it with --public-url")
	}
	exp := h.now().Add(ttl).UTC().Truncate(time.Second)
	return base + "/portal?token=" + url.QueryEscape(signToken(h.cfg.Secret, tenant, exp)), exp, nil
}
