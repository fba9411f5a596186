package api

import (
	"net/http"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/signature"
)

// Grace periods of a secret rotation: how long the secret replaced keeps
// signing beside the new one.
const (
	DefaultSecretGrace = 24 * time.Hour
	MaxSecretGrace     = 30 * 24 * time.Hour
)

// secretResponse is the answer of GET /v1/endpoints/{id}/secret and of a
// rotation: the secret, its public key for v1a, and, while the previous
// secret still signs, that one with its public key and expiry.
type secretResponse struct {
	Secret                  string     `json:"secret"`
	PublicKey               string     `json:"public_key,omitempty"`
	PreviousSecret          string     `json:"previous_secret,omitempty"`
	PreviousPublicKey       string     `json:"previous_public_key,omitempty"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
}

// newSecretResponse returns the secrets of ep as shown at now.
func newSecretResponse(ep *hookline.Endpoint, now time.Time) secretResponse {
	out := secretResponse{Secret: ep.Secret, PublicKey: publicKey(ep.Secret)}
	if ep.SignsWithPrevious(now) {
		exp := ep.PreviousSecretExpiresAt
		out.PreviousSecret, out.PreviousPublicKey, out.PreviousSecretExpiresAt = ep.PreviousSecret, publicKey(ep.PreviousSecret), &exp
	}
	return out
}

// rotateRequest is the optional body of POST
// /v1/endpoints/{id}/secret/rotate.
type rotateRequest struct {
	// Secret is the new secret; absent, one is generated.
	Secret *string `json:"secret"`
	// ExpireOldIn is how long the secret replaced keeps signing, a Go
	// duration from "0s" (not at all) to MaxSecretGrace; absent,
	// DefaultSecretGrace.
	ExpireOldIn *string `json:"expire_old_in"`
	// SignatureScheme is the scheme of a generated secret; absent, the
	// endpoint's (or the given secret's).
	SignatureScheme *string `json:"signature_scheme"`
}

// handleGetEndpointSecret is GET /v1/endpoints/{id}/secret, the only read
// that shows the secrets.
func (s *Server) handleGetEndpointSecret(w http.ResponseWriter, r *http.Request) {
	ep, err := s.store.FindEndpoint(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header()["Cache-Control"] = noStore
	s.writeJSON(w, r, http.StatusOK, newSecretResponse(ep, hookline.Now()))
}

// handleRotateEndpointSecret is POST /v1/endpoints/{id}/secret/rotate with
// an optional body {secret?, expire_old_in?, signature_scheme?}: the new
// secret (given or generated) replaces the current one, which keeps signing
// beside it until it expires. A rotation during a grace period drops the
// older previous secret. It answers 200 with the secrets.
func (s *Server) handleRotateEndpointSecret(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req rotateRequest
	if err := s.decodeOptionalBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	grace := DefaultSecretGrace
	if req.ExpireOldIn != nil {
		d, err := time.ParseDuration(*req.ExpireOldIn)
		if err != nil || d < 0 || d > MaxSecretGrace {
			s.writeError(w, r, hookline.Errorf(hookline.EINVALID,
				"expire_old_in: must be a duration from 0s (drop the old secret at once) to %dh, such as 24h or 90m", int(MaxSecretGrace.Hours())))
			return
		}
		grace = d
	}
	if err := validateSecret(req.Secret, req.SignatureScheme); err != nil {
		s.writeError(w, r, err)
		return
	}
	cur, err := s.store.FindEndpoint(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var secret string
	switch {
	case req.Secret != nil:
		secret = *req.Secret
	case req.SignatureScheme != nil:
		secret = generateSecret(*req.SignatureScheme)
	default:
		secret = generateSecret(signature.SchemeOf(cur.Secret))
	}
	if secret == cur.Secret {
		s.writeError(w, r, hookline.Errorf(hookline.EINVALID, "secret: is the current secret; rotate to another one, or leave it out to have one generated"))
		return
	}
	now := hookline.Now()
	until := now.Add(grace)
	ep, err := s.store.UpdateEndpoint(r.Context(), id, hookline.EndpointUpdate{Secret: &secret, KeepPreviousUntil: &until}, now)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.engine.EndpointChanged(id, ep)
	w.Header()["Cache-Control"] = noStore
	s.writeJSON(w, r, http.StatusOK, newSecretResponse(ep, now))
}
