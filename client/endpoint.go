package client

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// Endpoint is an endpoint as the API shows it, without its secret.
type Endpoint struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	URL    string `json:"url"`
	// Description is free text for people.
	Description string `json:"description"`
	// EventTypes are the types it receives: empty or ["*"] is every type
	// but Hookline's own hookline.*; "invoice.*" is a prefix.
	EventTypes []string `json:"event_types"`
	Disabled   bool     `json:"disabled"`
	// DisabledReason is "", "failing", "gone" or "manual".
	DisabledReason string `json:"disabled_reason"`
	// RateLimit is the most requests per second it is sent; 0 is none.
	RateLimit float64 `json:"rate_limit"`
	// MaxInFlight caps its concurrent requests; 0 is the server's default.
	MaxInFlight int `json:"max_in_flight,omitempty"`
	// Ordering is "none" or "fifo".
	Ordering string `json:"ordering"`
	// Batch is nil unless deliveries are sent together.
	Batch *Batch `json:"batch"`
	// Filter is the endpoint's payload filter, nil for none: it receives
	// an event only when EventTypes and Filter both match.
	Filter json.RawMessage `json:"filter"`
	// SignatureScheme is "v1" (HMAC-SHA256) or "v1a" (ed25519).
	SignatureScheme string         `json:"signature_scheme"`
	Health          EndpointHealth `json:"health"`
	// Headers are sent with every request to it. They are secrets: set
	// in the answers about the endpoint alone (GetEndpoint, CreateEndpoint,
	// UpdateEndpoint), nil in lists.
	Headers map[string]string `json:"headers,omitempty"`
	// Timeout bounds each attempt, a Go duration such as "5s"; "" is the
	// server's --delivery-timeout.
	Timeout string `json:"timeout"`
	// RetrySchedule is the delay before each attempt, Go durations; nil is
	// the server's --retry-schedule.
	RetrySchedule []string `json:"retry_schedule"`
	// Auth is how Hookline authenticates to the receiver, nil for none; in
	// lists only its Type is set.
	Auth      *EndpointAuth `json:"auth"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
}

// EndpointAuth is an endpoint's authentication to its receiver: Type is
// "basic" (Username, Password), "oauth2_client_credentials" (TokenURL,
// ClientID, ClientSecret, and Scope if any) or "mtls" (Cert and Key, PEM;
// the endpoint's URL must be https://).
type EndpointAuth struct {
	Type         string `json:"type"`
	Username     string `json:"username,omitempty"`
	Password     string `json:"password,omitempty"`
	TokenURL     string `json:"token_url,omitempty"`
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	Scope        string `json:"scope,omitempty"`
	Cert         string `json:"cert,omitempty"`
	Key          string `json:"key,omitempty"`
}

// tidy makes a null filter nil.
func (e *Endpoint) tidy() *Endpoint {
	if string(e.Filter) == "null" {
		e.Filter = nil
	}
	return e
}

// Batch are the batch settings of an endpoint: up to MaxEvents deliveries
// (2 to 1000) per request, waiting at most MaxWaitMS (0 to 60000) for a
// batch to fill.
type Batch struct {
	MaxEvents int `json:"max_events"`
	MaxWaitMS int `json:"max_wait_ms"`
}

// EndpointHealth is what the engine knows of an endpoint's receiver.
type EndpointHealth struct {
	// Circuit is "closed", "open" or "half_open".
	Circuit             string     `json:"circuit"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	FailingSince        *time.Time `json:"failing_since"`
	LastSuccessAt       *time.Time `json:"last_success_at"`
	// PausedUntil is set while a Retry-After of the receiver holds its
	// deliveries back.
	PausedUntil *time.Time `json:"paused_until"`
}

// EndpointWithSecret is the answer of CreateEndpoint: the endpoint and its
// signing secret, and for v1a its public key.
type EndpointWithSecret struct {
	Endpoint
	Secret    string `json:"secret"`
	PublicKey string `json:"public_key,omitempty"`
}

// EndpointCreate is the body of CreateEndpoint. URL is required; a zero
// field is left out, taking the server's default.
type EndpointCreate struct {
	URL         string   `json:"url"`
	EventTypes  []string `json:"event_types,omitempty"`
	Description string   `json:"description,omitempty"`
	Tenant      string   `json:"tenant,omitempty"`
	// Secret is the signing secret, "whsec_…" or "whsk_…"; "" has one
	// generated, of SignatureScheme.
	Secret string `json:"secret,omitempty"`
	// SignatureScheme is "v1" (the default) or "v1a".
	SignatureScheme string  `json:"signature_scheme,omitempty"`
	Disabled        bool    `json:"disabled,omitempty"`
	RateLimit       float64 `json:"rate_limit,omitempty"`
	MaxInFlight     int     `json:"max_in_flight,omitempty"`
	// Ordering is "none" (the default) or "fifo".
	Ordering string `json:"ordering,omitempty"`
	Batch    *Batch `json:"batch,omitempty"`
	// Filter is a payload filter, such as {"data":{"amount":{"$gte":1000}}};
	// nil for none.
	Filter json.RawMessage `json:"filter,omitempty"`
	// Headers, Timeout, RetrySchedule and Auth shape the requests to the
	// endpoint (see Endpoint); zero values take the server's.
	Headers       map[string]string `json:"headers,omitempty"`
	Timeout       string            `json:"timeout,omitempty"`
	RetrySchedule []string          `json:"retry_schedule,omitempty"`
	Auth          *EndpointAuth     `json:"auth,omitempty"`
}

// EndpointUpdate is the body of UpdateEndpoint: the fields that are not nil
// are changed, the others left alone.
type EndpointUpdate struct {
	URL         *string
	EventTypes  *[]string
	Description *string
	// Secret replaces the secret at once; RotateEndpointSecret keeps the old
	// one signing for a while instead.
	Secret *string
	// SignatureScheme, the other scheme than the endpoint's and without
	// Secret, rotates to a generated secret of it, the old one signing on
	// for 24 h.
	SignatureScheme *string
	Disabled        *bool
	RateLimit       *float64
	MaxInFlight     *int
	Ordering        *string
	// Batch turns batching on with these settings; NoBatch turns it off.
	Batch   *Batch
	NoBatch bool
	// Filter replaces the payload filter; NoFilter removes it.
	Filter   json.RawMessage
	NoFilter bool
	// Headers replaces the headers (all of them); NoHeaders removes them.
	Headers   map[string]string
	NoHeaders bool
	// Timeout sets the attempt timeout; NoTimeout goes back to the
	// server's.
	Timeout   *string
	NoTimeout bool
	// RetrySchedule sets the retry schedule; NoRetrySchedule goes back to
	// the server's.
	RetrySchedule   []string
	NoRetrySchedule bool
	// Auth replaces the auth; NoAuth removes it.
	Auth   *EndpointAuth
	NoAuth bool
}

// MarshalJSON encodes the fields that are set; each No… field is its
// field as null ("batch": null, "filter": null, …).
func (u EndpointUpdate) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	set := func(name string, isSet bool, v any) {
		if isSet {
			m[name] = v
		}
	}
	set("url", u.URL != nil, u.URL)
	set("event_types", u.EventTypes != nil, u.EventTypes)
	set("description", u.Description != nil, u.Description)
	set("secret", u.Secret != nil, u.Secret)
	set("signature_scheme", u.SignatureScheme != nil, u.SignatureScheme)
	set("disabled", u.Disabled != nil, u.Disabled)
	set("rate_limit", u.RateLimit != nil, u.RateLimit)
	set("max_in_flight", u.MaxInFlight != nil, u.MaxInFlight)
	set("ordering", u.Ordering != nil, u.Ordering)
	set("batch", u.Batch != nil, u.Batch)
	if u.NoBatch {
		m["batch"] = nil
	}
	set("filter", u.Filter != nil, u.Filter)
	set("headers", u.Headers != nil, u.Headers)
	set("timeout", u.Timeout != nil, u.Timeout)
	set("retry_schedule", u.RetrySchedule != nil, u.RetrySchedule)
	set("auth", u.Auth != nil, u.Auth)
	for name, null := range map[string]bool{"filter": u.NoFilter, "headers": u.NoHeaders, "timeout": u.NoTimeout,
		"retry_schedule": u.NoRetrySchedule, "auth": u.NoAuth} {
		if null {
			m[name] = nil
		}
	}
	return json.Marshal(m)
}

// EndpointFilter selects endpoints for ListEndpoints and Endpoints.
type EndpointFilter struct {
	// Tenant, when not nil, lists that tenant's endpoints only ("" is the
	// default tenant). A tenant's API key lists its own whatever this says.
	Tenant *string
	PageOptions
}

// CreateEndpoint is POST /v1/endpoints.
func (c *Client) CreateEndpoint(ctx context.Context, e EndpointCreate) (*EndpointWithSecret, error) {
	var out EndpointWithSecret
	if err := c.call(ctx, http.MethodPost, "/v1/endpoints", e, &out); err != nil {
		return nil, err
	}
	out.tidy()
	return &out, nil
}

// ListEndpoints is GET /v1/endpoints: one page, newest first.
func (c *Client) ListEndpoints(ctx context.Context, f EndpointFilter) (Page[*Endpoint], error) {
	q := url.Values{}
	if f.Tenant != nil {
		q.Set("tenant", *f.Tenant)
	}
	p, err := listPage[*Endpoint](ctx, c, "/v1/endpoints", q, f.PageOptions)
	for _, e := range p.Data {
		e.tidy()
	}
	return p, err
}

// Endpoints iterates over the endpoints of f, newest first, from f.Cursor
// on, fetching page after page.
func (c *Client) Endpoints(ctx context.Context, f EndpointFilter) iter.Seq2[*Endpoint, error] {
	return all(ctx, f.PageOptions, func(ctx context.Context, o PageOptions) (Page[*Endpoint], error) {
		f.PageOptions = o
		return c.ListEndpoints(ctx, f)
	})
}

// GetEndpoint is GET /v1/endpoints/{id}.
func (c *Client) GetEndpoint(ctx context.Context, id string) (*Endpoint, error) {
	if id == "" {
		return nil, errEmptyID
	}
	var out Endpoint
	if err := c.get(ctx, pathOf("/v1/endpoints", id), nil, &out); err != nil {
		return nil, err
	}
	return out.tidy(), nil
}

// UpdateEndpoint is PATCH /v1/endpoints/{id}; it returns the endpoint as
// changed.
func (c *Client) UpdateEndpoint(ctx context.Context, id string, u EndpointUpdate) (*Endpoint, error) {
	if id == "" {
		return nil, errEmptyID
	}
	var out Endpoint
	if err := c.call(ctx, http.MethodPatch, pathOf("/v1/endpoints", id), u, &out); err != nil {
		return nil, err
	}
	return out.tidy(), nil
}

// DeleteEndpoint is DELETE /v1/endpoints/{id}: the endpoint goes with its
// deliveries and attempts.
func (c *Client) DeleteEndpoint(ctx context.Context, id string) error {
	if id == "" {
		return errEmptyID
	}
	return c.call(ctx, http.MethodDelete, pathOf("/v1/endpoints", id), nil, nil)
}

// Secret is the answer of EndpointSecret and RotateEndpointSecret.
type Secret struct {
	// Secret signs the deliveries: "whsec_…" (v1) or "whsk_…" (v1a).
	Secret string `json:"secret"`
	// PublicKey, for v1a, is what receivers verify with: "whpk_…".
	PublicKey string `json:"public_key,omitempty"`
	// PreviousSecret (and PreviousPublicKey for v1a) still sign beside
	// Secret until PreviousSecretExpiresAt, after a rotation.
	PreviousSecret          string     `json:"previous_secret,omitempty"`
	PreviousPublicKey       string     `json:"previous_public_key,omitempty"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
}

// VerifyKeys returns what a receiver verifies the endpoint's deliveries
// with, current first: for v1 the secrets, for v1a the public keys.
func (s *Secret) VerifyKeys() []string {
	var keys []string
	for _, k := range []string{s.PublicKey, s.Secret} {
		if k != "" {
			keys = append(keys, k)
			break
		}
	}
	for _, k := range []string{s.PreviousPublicKey, s.PreviousSecret} {
		if k != "" {
			keys = append(keys, k)
			break
		}
	}
	return keys
}

// EndpointSecret is GET /v1/endpoints/{id}/secret.
func (c *Client) EndpointSecret(ctx context.Context, id string) (*Secret, error) {
	if id == "" {
		return nil, errEmptyID
	}
	var out Secret
	if err := c.get(ctx, pathOf("/v1/endpoints", id, "secret"), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SecretRotation is the body of RotateEndpointSecret; its zero value
// rotates to a generated secret of the endpoint's scheme, the old one
// signing on for 24 h.
type SecretRotation struct {
	// Secret is the new secret; "" has one generated.
	Secret string
	// ExpireOldIn is how long the old secret keeps signing, from 0 (not
	// at all) to 720 h; nil is 24 h.
	ExpireOldIn *time.Duration
	// SignatureScheme is the scheme of a generated secret: "v1" or "v1a";
	// "" is the endpoint's.
	SignatureScheme string
}

// RotateEndpointSecret is POST /v1/endpoints/{id}/secret/rotate.
func (c *Client) RotateEndpointSecret(ctx context.Context, id string, r SecretRotation) (*Secret, error) {
	if id == "" {
		return nil, errEmptyID
	}
	body := map[string]string{}
	if r.Secret != "" {
		body["secret"] = r.Secret
	}
	if r.ExpireOldIn != nil {
		body["expire_old_in"] = r.ExpireOldIn.String()
	}
	if r.SignatureScheme != "" {
		body["signature_scheme"] = r.SignatureScheme
	}
	var out Secret
	if err := c.call(ctx, http.MethodPost, pathOf("/v1/endpoints", id, "secret", "rotate"), body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RecoverEndpoint is POST /v1/endpoints/{id}/recover: every failed delivery
// of the endpoint created at or after since (zero: every one) becomes
// pending again. It returns how many.
func (c *Client) RecoverEndpoint(ctx context.Context, id string, since time.Time) (int, error) {
	if id == "" {
		return 0, errEmptyID
	}
	body := map[string]string{}
	if !since.IsZero() {
		body["since"] = since.UTC().Format(time.RFC3339Nano)
	}
	var out struct {
		Requeued int `json:"requeued"`
	}
	if err := c.call(ctx, http.MethodPost, pathOf("/v1/endpoints", id, "recover"), body, &out); err != nil {
		return 0, err
	}
	return out.Requeued, nil
}

// Percentiles of a latency distribution, in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
}

// EndpointStats is the answer of EndpointStats: rates and latencies over
// the last minute, attempts and failures over the last hour, pending and
// failed deliveries now.
type EndpointStats struct {
	DeliveriesPerSecond float64     `json:"deliveries_per_second"`
	SuccessRate         float64     `json:"success_rate"`
	LatencyMS           Percentiles `json:"latency_ms"`
	Attempts            int64       `json:"attempts"`
	Failures            int64       `json:"failures"`
	Pending             int64       `json:"pending"`
	Failed              int64       `json:"failed"`
	// Node is the node that answered; Live is false when another node
	// dispatches the endpoint (its rates and latencies are zeros then).
	Node string `json:"node"`
	Live bool   `json:"live"`
}

// EndpointStats is GET /v1/endpoints/{id}/stats.
func (c *Client) EndpointStats(ctx context.Context, id string) (*EndpointStats, error) {
	if id == "" {
		return nil, errEmptyID
	}
	var out EndpointStats
	if err := c.get(ctx, pathOf("/v1/endpoints", id, "stats"), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
