package hookline

import (
	"encoding/json"
	"strings"
	"time"
)

// Endpoint is a URL that receives the events of one tenant, signed with its
// own secret.
type Endpoint struct {
	ID          string `json:"id"`
	Tenant      string `json:"tenant"`
	URL         string `json:"url"`
	Description string `json:"description"`
	// EventTypes lists the event types the endpoint receives. Empty or ["*"]
	// means every type but the operational ones (OperationalPrefix); an entry
	// ending in ".*" matches a prefix, so "invoice.*" matches "invoice.paid"
	// and "hookline.*" every operational type.
	EventTypes []string `json:"event_types"`
	// Secret signs the endpoint's deliveries: "whsec_" followed by the
	// base64 HMAC key (signature scheme v1), or "whsk_" followed by the
	// base64 ed25519 private key (v1a). It is never serialised with the
	// endpoint; GET /v1/endpoints/{id}/secret shows it.
	Secret string `json:"-"`
	// PreviousSecret is the secret that Secret replaced in a rotation: until
	// PreviousSecretExpiresAt, deliveries are signed with it too, after
	// Secret, so that receivers verify with either while they switch. ""
	// when there is none. Never serialised, like Secret.
	PreviousSecret string `json:"-"`
	// PreviousSecretExpiresAt is when PreviousSecret stops signing; zero
	// when there is no previous secret.
	PreviousSecretExpiresAt time.Time `json:"-"`
	Disabled                bool      `json:"disabled"`
	// DisabledReason says why a disabled endpoint is: DisabledFailing,
	// DisabledGone or DisabledManual; "" while enabled.
	DisabledReason string `json:"disabled_reason"`
	// RateLimit is the most requests per second sent to the endpoint, from 0
	// to MaxRateLimit; 0 means no static limit (the adaptive one still
	// applies when the receiver pushes back).
	RateLimit float64 `json:"rate_limit"`
	// MaxInFlight caps concurrent requests to the endpoint, from 1 to
	// MaxMaxInFlight; 0 means the server's default.
	MaxInFlight int `json:"max_in_flight,omitempty"`
	// Ordering is OrderingNone or OrderingFIFO ("" reads as none).
	Ordering string `json:"ordering"`
	// Batch, when not nil, sends deliveries together, up to MaxEvents per
	// request, waiting at most MaxWaitMS for a batch to fill.
	Batch *Batch `json:"batch"`
	// Filter, when not nil, is a payload filter (package filter's language):
	// the endpoint receives an event only when both EventTypes and Filter
	// match it. Kept as the JSON text given, compacted.
	Filter json.RawMessage `json:"filter"`
	// Headers are sent with every request to the endpoint, at most
	// MaxHeaders of them, by canonical name. Their values are secrets:
	// never serialised with the endpoint (the API shows them on the
	// endpoint's own GET only), sealed at rest with the secret key. Nil
	// means none.
	Headers map[string]string `json:"-"`
	// Timeout bounds one attempt to the endpoint, at most the server's
	// delivery timeout; 0 means the server's.
	Timeout time.Duration `json:"-"`
	// RetrySchedule, when not empty, replaces the server's retry schedule
	// for the endpoint: the delay before each attempt (the first 0), its
	// length the number of attempts.
	RetrySchedule []time.Duration `json:"-"`
	// Auth, when not nil, is how requests authenticate to the receiver
	// besides the signature. Its credentials are secrets, kept like
	// Headers. Nil means none.
	Auth      *EndpointAuth `json:"-"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
	// Version numbers the endpoint's latest change. The store takes it from
	// one sequence for all endpoints: every write of an endpoint (create,
	// update, delete) gives it a number greater than any given before, in
	// the order the writes commit, whatever the writers' clocks say. Of two
	// snapshots of an endpoint, the one with the greater Version is the
	// newer. Set by the store.
	Version int64 `json:"-"`
	// Deleted marks the snapshot of a deleted endpoint: its last Version,
	// its secrets (headers and auth too) cleared. Only DeleteEndpoint and
	// EndpointChanges return such snapshots; every other read of the store
	// acts as if the endpoint did not exist.
	Deleted bool `json:"-"`
}

// EndpointAuth is an endpoint's authentication to its receiver: Type says
// which of the other fields are set.
type EndpointAuth struct {
	// Type is AuthBasic, AuthOAuth2ClientCredentials or AuthMTLS.
	Type string `json:"type"`
	// Username and Password, for AuthBasic: the Authorization header.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// TokenURL, ClientID, ClientSecret and Scope (optional), for
	// AuthOAuth2ClientCredentials: a bearer token is asked of TokenURL with
	// the client credentials grant (RFC 6749 section 4.4), kept until it
	// expires, and asked again once when the receiver answers 401.
	TokenURL     string `json:"token_url,omitempty"`
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	Scope        string `json:"scope,omitempty"`
	// Cert and Key, for AuthMTLS: the PEM client certificate (chain) and
	// its private key, presented on the endpoint's TLS connections.
	Cert string `json:"cert,omitempty"`
	Key  string `json:"key,omitempty"`
}

// The types of EndpointAuth.
const (
	AuthBasic                   = "basic"
	AuthOAuth2ClientCredentials = "oauth2_client_credentials"
	AuthMTLS                    = "mtls"
)

// Limits of an endpoint's request options.
const (
	MaxHeaders        = 20   // entries of Headers
	MaxHeaderBytes    = 4096 // bytes of a header's name and value together
	MaxRetrySchedule  = 50   // entries of RetrySchedule
	MaxRetryDelay     = 7 * 24 * time.Hour
	MaxAuthFieldBytes = 64 << 10 // bytes of one EndpointAuth field (a PEM chain)
)

// HasRequestOptions reports whether requests to the endpoint differ from
// the plain ones: headers, a timeout of its own or auth.
func (e *Endpoint) HasRequestOptions() bool {
	return len(e.Headers) > 0 || e.Timeout > 0 || e.Auth != nil
}

// The orderings of an endpoint's deliveries.
const (
	// OrderingNone attempts deliveries as they come, in parallel.
	OrderingNone = "none"
	// OrderingFIFO attempts the deliveries of one ordering key one at a
	// time, in the order their events were accepted; a failing delivery
	// holds back the later ones of its key until it succeeds or is
	// dead-lettered. Different keys go in parallel.
	OrderingFIFO = "fifo"
)

// FIFO reports whether the endpoint orders its deliveries by key.
func (e *Endpoint) FIFO() bool { return e.Ordering == OrderingFIFO }

// Batch is an endpoint's batched delivery: a request carries up to
// MaxEvents deliveries, as a JSON array, sent once MaxEvents are queued or
// the oldest has waited MaxWaitMS.
type Batch struct {
	MaxEvents int `json:"max_events"`
	MaxWaitMS int `json:"max_wait_ms"`
}

// Limits of batched delivery.
const (
	MinBatchEvents = 2
	MaxBatchEvents = 1000
	MaxBatchWaitMS = 60_000
)

// Limits of the per-endpoint controls.
const (
	MaxRateLimit   = 100_000 // requests per second
	MaxMaxInFlight = 1000    // concurrent requests
)

// Why an endpoint is disabled.
const (
	// DisabledFailing: no attempt succeeded for the server's --disable-after
	// while the endpoint kept failing.
	DisabledFailing = "failing"
	// DisabledGone: the receiver answered 410 Gone.
	DisabledGone = "gone"
	// DisabledManual: disabled through the API.
	DisabledManual = "manual"
)

// SignsWithPrevious reports whether a delivery made at now is signed with
// PreviousSecret too: there is one and it has not expired.
func (e *Endpoint) SignsWithPrevious(now time.Time) bool {
	return e.PreviousSecret != "" && now.Before(e.PreviousSecretExpiresAt)
}

// Partition returns the partition the endpoint hashes into.
func (e *Endpoint) Partition() int { return PartitionOf(e.ID) }

// Matches reports whether the endpoint subscribes to eventType. It does not
// look at Disabled or Tenant.
func (e *Endpoint) Matches(eventType string) bool {
	if len(e.EventTypes) == 0 {
		return !IsOperational(eventType)
	}
	for _, t := range e.EventTypes {
		if t == eventType || (t == "*" && !IsOperational(eventType)) {
			return true
		}
		if p, ok := strings.CutSuffix(t, ".*"); ok && len(eventType) > len(p) &&
			strings.HasPrefix(eventType, p) && eventType[len(p)] == '.' {
			return true
		}
	}
	return false
}

// Operational reports whether the endpoint subscribes explicitly to any of
// Hookline's operational events. Such an endpoint raises no operational
// events about itself, so that an alerting endpoint that fails cannot feed
// a loop.
func (e *Endpoint) Operational() bool {
	for _, t := range e.EventTypes {
		if IsOperational(t) {
			return true
		}
	}
	return false
}

// EndpointUpdate is a partial update of an endpoint: nil fields are left
// alone.
type EndpointUpdate struct {
	URL         *string
	Description *string
	EventTypes  *[]string
	// Secret replaces the signing secret. The secret it replaces becomes
	// the PreviousSecret until KeepPreviousUntil, when that is after the
	// update's time (a rotation, which drops any older previous secret);
	// otherwise the endpoint is left with no previous secret.
	Secret *string
	// KeepPreviousUntil is when the secret that Secret replaces stops
	// signing; ignored without Secret.
	KeepPreviousUntil *time.Time
	// Disabled and DisabledReason change together: enabling clears the
	// reason whatever DisabledReason says.
	Disabled       *bool
	DisabledReason *string
	RateLimit      *float64
	MaxInFlight    *int
	Ordering       *string
	// Batch, when SetBatch, replaces the batch settings (nil: off).
	SetBatch bool
	Batch    *Batch
	// Filter, when SetFilter, replaces the payload filter (nil: none).
	SetFilter bool
	Filter    json.RawMessage
	// Headers, when SetHeaders, replaces the headers (nil: none).
	SetHeaders bool
	Headers    map[string]string
	// Timeout replaces the endpoint's timeout (0: the server's).
	Timeout *time.Duration
	// RetrySchedule, when SetRetrySchedule, replaces the endpoint's retry
	// schedule (nil: the server's).
	SetRetrySchedule bool
	RetrySchedule    []time.Duration
	// Auth, when SetAuth, replaces the endpoint's auth (nil: none).
	SetAuth bool
	Auth    *EndpointAuth
}

// EndpointFilter selects endpoints. Results are ordered newest first.
type EndpointFilter struct {
	Tenant *string // nil: any tenant
	Cursor string  // return endpoints with IDs below this one; "" starts at the newest
	Limit  int     // at most this many; 0 means DefaultLimit
}

// DefaultLimit and MaxLimit bound the size of a page of a list.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)
