package web

import (
	"encoding/json"
	"slices"
	"time"
)

// The API's objects as the dashboard reads them. Decoding is lenient: fields
// that other versions of the API add or lack are nil here and shown as "—".

// list is a page of a list route.
type list[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// endpoint is an endpoint of GET /v1/endpoints.
type endpoint struct {
	ID             string          `json:"id"`
	Tenant         string          `json:"tenant"`
	URL            string          `json:"url"`
	Description    string          `json:"description"`
	EventTypes     []string        `json:"event_types"`
	Disabled       bool            `json:"disabled"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
	Secret         string          `json:"secret"` // on create only
	RateLimit      *float64        `json:"rate_limit"`
	MaxInFlight    *int            `json:"max_in_flight"`
	DisabledReason *string         `json:"disabled_reason"`
	Health         *endpointHealth `json:"health"`
	// Filter is the payload filter; empty or null for none.
	Filter json.RawMessage `json:"filter"`
	// Timeout and RetrySchedule are nil when the server's apply.
	Timeout       *string  `json:"timeout"`
	RetrySchedule []string `json:"retry_schedule"`
	// Headers are the names of the endpoint's own headers: their values
	// are secrets, and are not even decoded.
	Headers headerNames `json:"headers"`
	// Auth is the type of the endpoint's authentication; its credentials
	// are not decoded.
	Auth *endpointAuth `json:"auth"`
}

// HasFilter reports whether the endpoint has a payload filter.
func (ep endpoint) HasFilter() bool {
	return len(ep.Filter) > 0 && string(ep.Filter) != "null"
}

// headerNames are the names of the headers of an endpoint, sorted, read
// from the API's object of names to values without the values.
type headerNames []string

// UnmarshalJSON implements json.Unmarshaler.
func (h *headerNames) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	*h = names
	return nil
}

// endpointAuth is the authentication of an endpoint as the dashboard reads
// it: the type only, never a credential.
type endpointAuth struct {
	Type string `json:"type"`
}

// endpointHealth is the circuit state of an endpoint.
type endpointHealth struct {
	Circuit             string     `json:"circuit"`
	ConsecutiveFailures *int       `json:"consecutive_failures"`
	FailingSince        *time.Time `json:"failing_since"`
	LastSuccessAt       *time.Time `json:"last_success_at"`
}

// endpointStats is GET /v1/endpoints/{id}/stats.
type endpointStats struct {
	DeliveriesPerSecond *float64     `json:"deliveries_per_second"`
	SuccessRate         *float64     `json:"success_rate"`
	LatencyMS           *percentiles `json:"latency_ms"`
	Attempts            *int64       `json:"attempts"`
	Failures            *int64       `json:"failures"`
	Pending             *int64       `json:"pending"`
	Failed              *int64       `json:"failed"`
}

// percentiles of a latency, in milliseconds.
type percentiles struct {
	P50 *float64 `json:"p50"`
	P95 *float64 `json:"p95"`
	P99 *float64 `json:"p99"`
}

// stats is GET /v1/stats.
type stats struct {
	Pending             *int64       `json:"pending"`
	Delivered           *int64       `json:"delivered"`
	Failed              *int64       `json:"failed"`
	Events              *int64       `json:"events"`
	Endpoints           *int64       `json:"endpoints"`
	DeliveriesPerSecond *float64     `json:"deliveries_per_second"`
	LatencyMS           *percentiles `json:"latency_ms"`
	SuccessRate         *float64     `json:"success_rate"`
	EndpointsByCircuit  *struct {
		Closed   *int64 `json:"closed"`
		Open     *int64 `json:"open"`
		HalfOpen *int64 `json:"half_open"`
	} `json:"endpoints_by_circuit"`
	EndpointsDisabled *int64 `json:"endpoints_disabled"`
}

// delivery is a delivery of GET /v1/deliveries.
type delivery struct {
	ID             string     `json:"id"`
	EventID        string     `json:"event_id"`
	EndpointID     string     `json:"endpoint_id"`
	Tenant         string     `json:"tenant"`
	EventType      string     `json:"event_type"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	LastStatusCode int        `json:"last_status_code"`
	LastError      string     `json:"last_error"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	DeliveredAt    *time.Time `json:"delivered_at"`
}

// attempt is one attempt of GET /v1/deliveries/{id}/attempts.
type attempt struct {
	Attempt      int       `json:"attempt"`
	StartedAt    time.Time `json:"started_at"`
	DurationMS   float64   `json:"duration_ms"`
	StatusCode   int       `json:"status_code"`
	Error        string    `json:"error"`
	ResponseBody string    `json:"response_body"`
}

// event is GET /v1/events/{id}.
type event struct {
	ID         string          `json:"id"`
	Tenant     string          `json:"tenant"`
	Type       string          `json:"type"`
	Data       json.RawMessage `json:"data"`
	CreatedAt  time.Time       `json:"created_at"`
	Deliveries int             `json:"deliveries"`
}

// eventType is an entry of the event type catalog, GET /v1/event-types.
type eventType struct {
	Tenant      string          `json:"tenant"` // "" for the default catalog
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
	Deprecated  bool            `json:"deprecated"`
	Version     int             `json:"version"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

// HasSchema reports whether the entry has a JSON Schema.
func (et eventType) HasSchema() bool {
	return len(et.Schema) > 0 && string(et.Schema) != "null"
}
