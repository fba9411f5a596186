package hookline

import (
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
	// Secret is "whsec_" followed by the base64 signing key. It is never
	// serialised with the endpoint; GET /v1/endpoints/{id}/secret shows it.
	Secret    string    `json:"-"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
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
	Secret      *string
	Disabled    *bool
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
