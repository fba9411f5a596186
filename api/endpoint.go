package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/filter"
	"github.com/hookline/hookline/signature"
)

// Limits on endpoint fields.
const (
	MaxURL         = 2048 // bytes of an endpoint URL
	MaxEventTypes  = 100  // entries of an endpoint's event_types
	MaxDescription = 1024 // bytes of an endpoint's description
)

// endpointRequest is the body of POST /v1/endpoints and of PATCH
// /v1/endpoints/{id}. A nil field is absent or JSON null: on PATCH it leaves
// the endpoint's value alone.
type endpointRequest struct {
	URL         *string   `json:"url"`
	EventTypes  *[]string `json:"event_types"`
	Description *string   `json:"description"`
	Tenant      *string   `json:"tenant"`
	Secret      *string   `json:"secret"`
	Disabled    *bool     `json:"disabled"`
	RateLimit   *float64  `json:"rate_limit"`
	MaxInFlight *int      `json:"max_in_flight"`
	Ordering    *string   `json:"ordering"`
	// SignatureScheme is "v1" (HMAC-SHA256) or "v1a" (ed25519); absent, the
	// scheme of the secret given, or on create of a generated one, v1.
	SignatureScheme *string `json:"signature_scheme"`
	// Batch is kept raw: absent leaves batching alone, null turns it off.
	Batch json.RawMessage `json:"batch"`
	// Filter is kept raw too: absent leaves the filter alone, null removes
	// it.
	Filter json.RawMessage `json:"filter"`
	// Headers, Timeout, RetrySchedule and Auth are kept raw too: absent
	// leaves them alone, null removes them (the server's timeout and
	// schedule).
	Headers       json.RawMessage `json:"headers"`
	Timeout       json.RawMessage `json:"timeout"`
	RetrySchedule json.RawMessage `json:"retry_schedule"`
	Auth          json.RawMessage `json:"auth"`

	headers          map[string]string // decoded by validate, like the rest
	setHeaders       bool
	timeout          *time.Duration
	retrySchedule    []time.Duration
	setRetrySchedule bool
	auth             *hookline.EndpointAuth
	setAuth          bool

	batch     *hookline.Batch // Batch, decoded by validate
	setBatch  bool
	filter    json.RawMessage // Filter, checked and compacted by validate; nil for none
	setFilter bool
}

// batchRequest is the batch field of an endpoint.
type batchSettings struct {
	MaxEvents *int `json:"max_events"`
	MaxWaitMS *int `json:"max_wait_ms"`
}

// decodeBatch reads the batch field: nil for null.
func decodeBatch(raw json.RawMessage) (*hookline.Batch, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	var b batchSettings
	if err := decodeJSON(bytes.NewReader(raw), &b, "batch"); err != nil {
		return nil, err
	}
	switch {
	case b.MaxEvents == nil:
		return nil, hookline.Errorf(hookline.EINVALID, "batch.max_events: required, from %d to %d", hookline.MinBatchEvents, hookline.MaxBatchEvents)
	case *b.MaxEvents < hookline.MinBatchEvents || *b.MaxEvents > hookline.MaxBatchEvents:
		return nil, hookline.Errorf(hookline.EINVALID, "batch.max_events: must be an integer from %d to %d", hookline.MinBatchEvents, hookline.MaxBatchEvents)
	case b.MaxWaitMS == nil:
		return nil, hookline.Errorf(hookline.EINVALID, "batch.max_wait_ms: required, from 0 to %d", hookline.MaxBatchWaitMS)
	case *b.MaxWaitMS < 0 || *b.MaxWaitMS > hookline.MaxBatchWaitMS:
		return nil, hookline.Errorf(hookline.EINVALID, "batch.max_wait_ms: must be an integer from 0 to %d", hookline.MaxBatchWaitMS)
	}
	return &hookline.Batch{MaxEvents: *b.MaxEvents, MaxWaitMS: *b.MaxWaitMS}, nil
}

// endpointResponse is an endpoint as the API shows it: with its health
// and the scheme its secret signs with, and without its secrets. Its
// headers and auth credentials are there only in the answers about the
// endpoint alone (its GET, POST and PATCH); a list shows the auth type.
type endpointResponse struct {
	*hookline.Endpoint
	SignatureScheme string                  `json:"signature_scheme"`
	Health          hookline.EndpointHealth `json:"health"`
	// Timeout and RetrySchedule are null when the server's apply.
	Timeout       *string                `json:"timeout"`
	RetrySchedule []string               `json:"retry_schedule"`
	Headers       map[string]string      `json:"headers,omitempty"`
	Auth          *hookline.EndpointAuth `json:"auth"`
}

// newEndpointResponse returns ep as the API shows it; full shows its
// headers and auth credentials.
func newEndpointResponse(ep *hookline.Endpoint, h hookline.EndpointHealth, full bool) endpointResponse {
	out := endpointResponse{Endpoint: normalize(ep), SignatureScheme: signature.SchemeOf(ep.Secret), Health: h}
	if ep.Timeout > 0 {
		d := ep.Timeout.String()
		out.Timeout = &d
	}
	for _, d := range ep.RetrySchedule {
		out.RetrySchedule = append(out.RetrySchedule, d.String())
	}
	if full {
		out.Headers, out.Auth = ep.Headers, ep.Auth
	} else if ep.Auth != nil {
		out.Auth = &hookline.EndpointAuth{Type: ep.Auth.Type}
	}
	return out
}

// endpointWithSecret is the answer of POST /v1/endpoints, the only one that
// shows the secret along with the endpoint (and, for v1a, its public key).
type endpointWithSecret struct {
	endpointResponse
	Secret    string `json:"secret"`
	PublicKey string `json:"public_key,omitempty"`
}

// recoverRequest is the optional body of POST /v1/endpoints/{id}/recover.
type recoverRequest struct {
	Since *string `json:"since"` // RFC 3339; nil means every failed delivery
}

// recoverResponse is the answer of POST /v1/endpoints/{id}/recover.
type recoverResponse struct {
	Requeued int `json:"requeued"`
}

// validate checks every field that is set. On create, url is required.
func (s *Server) validate(req *endpointRequest, create bool) error {
	if req.URL != nil || create {
		var u string
		if req.URL != nil {
			u = *req.URL
		}
		if err := s.validateURL(u); err != nil {
			return err
		}
	}
	if req.EventTypes != nil {
		if err := validateEventTypes(*req.EventTypes); err != nil {
			return err
		}
	}
	if req.Description != nil && len(*req.Description) > MaxDescription {
		return hookline.Errorf(hookline.EINVALID, "description: at most %d bytes", MaxDescription)
	}
	if req.Tenant != nil {
		if err := checkTenant(*req.Tenant); err != nil {
			return err
		}
	}
	if err := validateSecret(req.Secret, req.SignatureScheme); err != nil {
		return err
	}
	if r := req.RateLimit; r != nil && (*r < 0 || *r > hookline.MaxRateLimit || math.IsNaN(*r)) {
		return hookline.Errorf(hookline.EINVALID, "rate_limit: must be a number of requests per second from 0 (no limit) to %d", hookline.MaxRateLimit)
	}
	if m := req.MaxInFlight; m != nil && (*m < 1 || *m > hookline.MaxMaxInFlight) {
		return hookline.Errorf(hookline.EINVALID, "max_in_flight: must be an integer from 1 to %d", hookline.MaxMaxInFlight)
	}
	if o := req.Ordering; o != nil && *o != hookline.OrderingNone && *o != hookline.OrderingFIFO {
		return hookline.Errorf(hookline.EINVALID, "ordering: must be %q or %q", hookline.OrderingNone, hookline.OrderingFIFO)
	}
	if req.Batch != nil {
		b, err := decodeBatch(req.Batch)
		if err != nil {
			return err
		}
		req.batch, req.setBatch = b, true
	}
	if req.Filter != nil {
		f, err := checkFilter(req.Filter)
		if err != nil {
			return err
		}
		req.filter, req.setFilter = f, true
	}
	return s.validateOptions(req)
}

// isMTLS reports whether a is mTLS auth.
func isMTLS(a *hookline.EndpointAuth) bool { return a != nil && a.Type == hookline.AuthMTLS }

// checkMTLSURL refuses mTLS auth on an http:// URL, where no TLS would
// present the certificate.
func checkMTLSURL(u string, a *hookline.EndpointAuth) error {
	if isMTLS(a) && !strings.HasPrefix(strings.ToLower(u), "https://") {
		return hookline.Errorf(hookline.EINVALID, "auth: mtls needs an https:// url")
	}
	return nil
}

// validateOptions checks the request options of an endpoint: headers,
// timeout, retry_schedule and auth.
func (s *Server) validateOptions(req *endpointRequest) error {
	var err error
	if req.Headers != nil {
		if req.headers, err = checkHeaders(req.Headers); err != nil {
			return err
		}
		req.setHeaders = true
	}
	if req.Timeout != nil {
		d, err := checkTimeout(req.Timeout, s.maxTimeout)
		if err != nil {
			return err
		}
		req.timeout = &d
	}
	if req.RetrySchedule != nil {
		if req.retrySchedule, err = checkRetrySchedule(req.RetrySchedule); err != nil {
			return err
		}
		req.setRetrySchedule = true
	}
	if req.Auth != nil {
		if req.auth, err = s.checkAuth(req.Auth); err != nil {
			return err
		}
		req.setAuth = true
	}
	if req.URL != nil && req.setAuth {
		if err := checkMTLSURL(*req.URL, req.auth); err != nil {
			return err
		}
	}
	if _, ok := req.headers["Authorization"]; ok && req.auth != nil {
		return hookline.Errorf(hookline.EINVALID, "headers.Authorization: the endpoint's auth sets it; give one or the other")
	}
	return nil
}

// checkFilter compiles a filter to check it and returns it compacted, nil
// for null or {} (no filter).
func checkFilter(raw json.RawMessage) (json.RawMessage, error) {
	if err := checkUnicode("filter", raw); err != nil {
		return nil, err
	}
	f, err := filter.Compile("filter", raw)
	if err != nil || f == nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, hookline.Errorf(hookline.EINVALID, "filter: not valid JSON")
	}
	if b.String() == "{}" {
		return nil, nil
	}
	return b.Bytes(), nil
}

// secretError is the answer to a secret that package signature refused.
// Its messages are written for a person and never quote the secret, such as
// "secret must start with whsec_"; other errors are not shown.
func secretError(err error) error {
	if errors.Is(err, signature.ErrInvalidSecret) {
		return hookline.Errorf(hookline.EINVALID, "secret: %s", strings.TrimPrefix(err.Error(), "secret "))
	}
	return hookline.Errorf(hookline.EINVALID, "secret: must be %q followed by a base64-encoded key; leave it out to have one generated", signature.SecretPrefix)
}

// validateSecret checks the secret and signature_scheme of a request, each
// when set: the scheme is v1 or v1a, the secret signs (a whsec_ secret or a
// whsk_ secret key), and a secret given with a scheme is of that scheme.
func validateSecret(secret, scheme *string) error {
	if scheme != nil && *scheme != signature.SchemeV1 && *scheme != signature.SchemeV1a {
		return hookline.Errorf(hookline.EINVALID, "signature_scheme: must be %q (HMAC-SHA256) or %q (ed25519)", signature.SchemeV1, signature.SchemeV1a)
	}
	if secret == nil {
		return nil
	}
	if _, err := signature.NewSigner(*secret); err != nil {
		return secretError(err)
	}
	if scheme != nil && signature.SchemeOf(*secret) != *scheme {
		return hookline.Errorf(hookline.EINVALID, "secret: signature_scheme %s needs a secret starting with %s",
			*scheme, secretPrefix(*scheme))
	}
	return nil
}

// secretPrefix returns the prefix of the secrets of a scheme.
func secretPrefix(scheme string) string {
	if scheme == signature.SchemeV1a {
		return signature.SecretKeyPrefix
	}
	return signature.SecretPrefix
}

// generateSecret returns a new secret of a scheme.
func generateSecret(scheme string) string {
	if scheme == signature.SchemeV1a {
		return signature.GenerateSecretKey()
	}
	return signature.GenerateSecret()
}

// publicKey returns the whpk_ public key of a v1a secret, "" for another.
func publicKey(secret string) string {
	if signature.SchemeOf(secret) != signature.SchemeV1a {
		return ""
	}
	pk, _ := signature.PublicKeyOf(secret) // "" for a secret that does not parse
	return pk
}

// validateURL checks an endpoint URL: absolute http or https with a host, a
// port (if any) from 1 to 65535, no credentials, at most MaxURL bytes; then Config.CheckURL decides whether its
// destination is allowed.
func (s *Server) validateURL(raw string) error {
	if raw == "" {
		return hookline.Errorf(hookline.EINVALID, "url: required")
	} else if len(raw) > MaxURL {
		return hookline.Errorf(hookline.EINVALID, "url: at most %d characters", MaxURL)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return hookline.Errorf(hookline.EINVALID, "url: not a valid URL")
	case !u.IsAbs():
		return hookline.Errorf(hookline.EINVALID, "url: must be an absolute URL starting with https:// or http://")
	case u.Scheme != "http" && u.Scheme != "https":
		return hookline.Errorf(hookline.EINVALID, "url: the scheme must be http or https, not %.20q", u.Scheme)
	case u.Hostname() == "":
		return hookline.Errorf(hookline.EINVALID, "url: must have a host")
	case !validPort(u.Port()):
		return hookline.Errorf(hookline.EINVALID, "url: the port must be from 1 to 65535")
	case u.User != nil:
		return hookline.Errorf(hookline.EINVALID, "url: must not carry credentials; receivers authenticate Hookline by its signature")
	}
	if s.checkURL == nil {
		return nil
	}
	if err := s.checkURL(raw); err != nil {
		if hookline.ErrorCode(err) == hookline.EINTERNAL {
			return hookline.Errorf(hookline.EINVALID, "url: %v", err)
		}
		return err
	}
	return nil
}

// validateEventTypes checks an endpoint's event_types: at most MaxEventTypes
// entries, each "*", an event type, or an event type ending in ".*".
func validateEventTypes(types []string) error {
	if len(types) > MaxEventTypes {
		return hookline.Errorf(hookline.EINVALID, "event_types: at most %d entries, not %d", MaxEventTypes, len(types))
	}
	for i, t := range types {
		prefix, wildcard := strings.CutSuffix(t, ".*")
		if t == "*" {
			continue
		} else if !hookline.ValidEventType(t) || strings.Contains(prefix, "*") || (wildcard && prefix == "") {
			return hookline.Errorf(hookline.EINVALID,
				"event_types[%d]: %.300q is not \"*\", an event type (printable ASCII without spaces) or one ending in \".*\"", i, t)
		}
	}
	return nil
}

// handleCreateEndpoint is POST /v1/endpoints. The answer is the only one that
// carries the secret with the endpoint.
func (s *Server) handleCreateEndpoint(w http.ResponseWriter, r *http.Request) {
	var req endpointRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.validate(&req, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	now := hookline.Now()
	ep := &hookline.Endpoint{
		ID:         hookline.NewID(hookline.EndpointPrefix, now),
		URL:        *req.URL,
		EventTypes: []string{},
		CreatedAt:  now,
		UpdatedAt:  now,
	}
	if req.EventTypes != nil && *req.EventTypes != nil {
		ep.EventTypes = *req.EventTypes
	}
	if req.Description != nil {
		ep.Description = *req.Description
	}
	if req.Tenant != nil {
		ep.Tenant = *req.Tenant
	}
	if req.Disabled != nil && *req.Disabled {
		ep.Disabled, ep.DisabledReason = true, hookline.DisabledManual
	}
	if req.RateLimit != nil {
		ep.RateLimit = *req.RateLimit
	}
	if req.MaxInFlight != nil {
		ep.MaxInFlight = *req.MaxInFlight
	}
	ep.Ordering = hookline.OrderingNone
	if req.Ordering != nil {
		ep.Ordering = *req.Ordering
	}
	ep.Batch = req.batch
	ep.Filter = req.filter
	ep.Headers, ep.RetrySchedule, ep.Auth = req.headers, req.retrySchedule, req.auth
	if req.timeout != nil {
		ep.Timeout = *req.timeout
	}
	if req.Secret != nil {
		ep.Secret = *req.Secret
	} else if req.SignatureScheme != nil {
		ep.Secret = generateSecret(*req.SignatureScheme)
	} else {
		ep.Secret = signature.GenerateSecret()
	}
	if err := s.store.CreateEndpoint(r.Context(), ep); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.engine.EndpointChanged(ep.ID, ep)
	h := w.Header()
	h.Set("Location", "/v1/endpoints/"+ep.ID)
	h["Cache-Control"] = noStore
	s.writeJSON(w, r, http.StatusCreated, endpointWithSecret{
		endpointResponse: newEndpointResponse(ep, hookline.EndpointHealth{Circuit: hookline.CircuitClosed}, true),
		Secret:           ep.Secret,
		PublicKey:        publicKey(ep.Secret),
	})
}

// handleListEndpoints is GET /v1/endpoints?tenant=&limit=&cursor=: a page of
// endpoints, newest first. A tenant parameter, even empty, filters by tenant.
func (s *Server) handleListEndpoints(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var f hookline.EndpointFilter
	var err error
	if f.Cursor, f.Limit, err = page(q, hookline.EndpointPrefix); err != nil {
		s.writeError(w, r, err)
		return
	}
	if f.Tenant, err = tenantParam(q); err != nil {
		s.writeError(w, r, err)
		return
	}
	eps, next, err := s.store.FindEndpoints(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]endpointResponse, len(eps))
	for i, ep := range eps {
		if out[i], err = s.endpointResponse(r, ep, false); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	s.writeJSON(w, r, http.StatusOK, newList(out, next))
}

// handleGetEndpoint is GET /v1/endpoints/{id}.
func (s *Server) handleGetEndpoint(w http.ResponseWriter, r *http.Request) {
	ep, err := s.store.FindEndpoint(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.endpointResponse(r, ep, true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, out)
}

// endpointResponse returns ep as the API shows it, with its health; full
// shows its headers and auth credentials.
func (s *Server) endpointResponse(r *http.Request, ep *hookline.Endpoint, full bool) (endpointResponse, error) {
	h, err := s.engine.EndpointHealth(r.Context(), ep.ID)
	if err != nil {
		return endpointResponse{}, err
	}
	return newEndpointResponse(ep, h, full), nil
}

// handleEndpointStats is GET /v1/endpoints/{id}/stats.
func (s *Server) handleEndpointStats(w http.ResponseWriter, r *http.Request) {
	st, err := s.engine.EndpointStats(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, st)
}

// handleUpdateEndpoint is PATCH /v1/endpoints/{id}: the fields present and
// not null are changed. The tenant cannot be changed; sending the current
// one is allowed. A secret replaces the current one at once (and any
// previous one); a signature_scheme other than the current one's, without a
// secret, rotates to a generated secret of that scheme, the old one signing
// on for DefaultSecretGrace.
func (s *Server) handleUpdateEndpoint(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req endpointRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.validate(&req, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	now := hookline.Now()
	var keepUntil *time.Time
	// mTLS needs https: with only one of url and auth given, the other is
	// the endpoint's.
	mtlsCheck := (req.URL != nil) != req.setAuth && (req.URL != nil || isMTLS(req.auth))
	if req.Tenant != nil || (req.SignatureScheme != nil && req.Secret == nil) || mtlsCheck {
		cur, err := s.store.FindEndpoint(r.Context(), id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if mtlsCheck {
			u, a := cur.URL, cur.Auth
			if req.URL != nil {
				u = *req.URL
			} else {
				a = req.auth
			}
			if err := checkMTLSURL(u, a); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		if req.Tenant != nil && cur.Tenant != *req.Tenant {
			s.writeError(w, r, hookline.Errorf(hookline.EINVALID, "tenant: cannot be changed; create a new endpoint for the other tenant"))
			return
		}
		if req.SignatureScheme != nil && req.Secret == nil && signature.SchemeOf(cur.Secret) != *req.SignatureScheme {
			secret, until := generateSecret(*req.SignatureScheme), now.Add(DefaultSecretGrace)
			req.Secret, keepUntil = &secret, &until
		}
	}
	if req.EventTypes != nil && *req.EventTypes == nil {
		*req.EventTypes = []string{}
	}
	u := hookline.EndpointUpdate{
		URL:         req.URL,
		Description: req.Description,
		EventTypes:  req.EventTypes,
		Secret:      req.Secret,
		Disabled:    req.Disabled,
		RateLimit:   req.RateLimit,
		MaxInFlight: req.MaxInFlight,
		Ordering:    req.Ordering,
		SetBatch:    req.setBatch,
		Batch:       req.batch,
		SetFilter:   req.setFilter,
		Filter:      req.filter,

		SetHeaders:       req.setHeaders,
		Headers:          req.headers,
		Timeout:          req.timeout,
		SetRetrySchedule: req.setRetrySchedule,
		RetrySchedule:    req.retrySchedule,
		SetAuth:          req.setAuth,
		Auth:             req.auth,

		KeepPreviousUntil: keepUntil,
	}
	if req.Disabled != nil && *req.Disabled {
		manual := hookline.DisabledManual
		u.DisabledReason = &manual
	}
	ep, err := s.store.UpdateEndpoint(r.Context(), id, u, now)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.engine.EndpointChanged(id, ep)
	out, err := s.endpointResponse(r, ep, true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, out)
}

// handleDeleteEndpoint is DELETE /v1/endpoints/{id}: the endpoint is gone at
// once (from reads, fan-out and every node's queues); its deliveries and
// attempts are purged in the background. It answers 204.
func (s *Server) handleDeleteEndpoint(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ep, err := s.store.DeleteEndpoint(r.Context(), id, hookline.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.engine.EndpointChanged(id, ep)
	w.WriteHeader(http.StatusNoContent)
}

// handleRecoverEndpoint is POST /v1/endpoints/{id}/recover with an optional
// body {"since": RFC 3339}: every failed delivery of the endpoint created at
// or after since becomes pending again. It answers 404 when the endpoint does
// not exist.
func (s *Server) handleRecoverEndpoint(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req recoverRequest
	if err := s.decodeOptionalBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	var since time.Time
	if req.Since != nil {
		t, err := time.Parse(time.RFC3339Nano, *req.Since)
		if err != nil {
			s.writeError(w, r, hookline.Errorf(hookline.EINVALID, "since: must be an RFC 3339 time such as 2025-01-31T12:00:00Z"))
			return
		}
		since = t
	}
	if _, err := s.store.FindEndpoint(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	n, err := s.engine.RecoverEndpoint(r.Context(), id, since)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusAccepted, recoverResponse{Requeued: n})
}

// normalize makes an endpoint's event_types encode as [] rather than null,
// and its ordering as "none" rather than "".
func normalize(ep *hookline.Endpoint) *hookline.Endpoint {
	if ep.EventTypes == nil {
		ep.EventTypes = []string{}
	}
	if ep.Ordering == "" {
		ep.Ordering = hookline.OrderingNone
	}
	return ep
}
