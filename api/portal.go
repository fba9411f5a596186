package api

import (
	"net/http"
	"time"

	"github.com/hookline/hookline"
)

// Bounds and default of the expires_in of a portal link.
const (
	DefaultPortalTTL = time.Hour
	MinPortalTTL     = time.Minute
	MaxPortalTTL     = 7 * 24 * time.Hour
)

// PortalLinker makes the signed links of the customer portal; package web
// implements it.
type PortalLinker interface {
	// PortalLink returns the URL of a portal session for tenant that expires
	// at expiresAt, and when it expires. tenant is valid and not empty.
	PortalLink(tenant string, ttl time.Duration) (url string, expiresAt time.Time, err error)
}

// portalLinkRequest is the body of POST /v1/portal-links.
type portalLinkRequest struct {
	Tenant    string `json:"tenant"`
	ExpiresIn string `json:"expires_in"` // a Go duration such as "1h"; "" means DefaultPortalTTL
}

// portalLinkResponse is the answer of POST /v1/portal-links.
type portalLinkResponse struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// handleCreatePortalLink is POST /v1/portal-links {"tenant","expires_in"}:
// 201 {"url","expires_at"}, a link to the portal of one tenant. A session of
// one tenant gets links for that tenant only (see serveScoped).
func (s *Server) handleCreatePortalLink(w http.ResponseWriter, r *http.Request) {
	if s.portal == nil {
		s.writeError(w, r, hookline.Errorf(hookline.ENOTFOUND, "the customer portal is not served by this server"))
		return
	}
	var req portalLinkRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Tenant == "" {
		s.writeError(w, r, hookline.Errorf(hookline.EINVALID, "tenant: required; the portal shows one tenant's endpoints"))
		return
	} else if err := checkTenant(req.Tenant); err != nil {
		s.writeError(w, r, err)
		return
	}
	ttl := DefaultPortalTTL
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d < MinPortalTTL || d > MaxPortalTTL {
			s.writeError(w, r, hookline.Errorf(hookline.EINVALID, "expires_in: must be a duration from %v to %v, such as \"1h\"", MinPortalTTL, MaxPortalTTL))
			return
		}
		ttl = d
	}
	url, exp, err := s.portal.PortalLink(req.Tenant, ttl)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header()["Cache-Control"] = noStore
	s.writeJSON(w, r, http.StatusCreated, portalLinkResponse{URL: url, ExpiresAt: exp})
}
