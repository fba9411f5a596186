package hookline

import "time"

// Circuit is the state of an endpoint's circuit breaker.
type Circuit string

// The circuit states. Closed sends; open sends nothing until its cooldown
// ends; half-open has one probe attempt under way, whose outcome closes or
// reopens it.
const (
	CircuitClosed   Circuit = "closed"
	CircuitOpen     Circuit = "open"
	CircuitHalfOpen Circuit = "half_open"
)

// Valid reports whether c is one of the three states.
func (c Circuit) Valid() bool {
	return c == CircuitClosed || c == CircuitOpen || c == CircuitHalfOpen
}

// EndpointHealth is what the node that dispatches an endpoint knows of its
// receiver: the circuit breaker and the run of failures. It is kept in
// memory by that node and saved to the store when it changes, so that it
// survives a restart or a move of the endpoint's partition. The zero value
// (with Circuit "") reads as a healthy, closed endpoint.
type EndpointHealth struct {
	EndpointID string  `json:"-"`
	Circuit    Circuit `json:"circuit"`
	// ConsecutiveFailures counts the failed attempts since the last success.
	ConsecutiveFailures int `json:"consecutive_failures"`
	// FailingSince is the time of the first failed attempt since the last
	// success; nil while the last attempt succeeded.
	FailingSince *time.Time `json:"failing_since"`
	// LastSuccessAt is the time of the last successful attempt; nil if none.
	LastSuccessAt *time.Time `json:"last_success_at"`
	// PausedUntil is set while a Retry-After of the receiver holds every
	// delivery of the endpoint back; nil otherwise.
	PausedUntil *time.Time `json:"paused_until"`

	// OpenedAt is when the circuit last opened, and Cooldown how long it
	// stays open before its next probe.
	OpenedAt time.Time     `json:"-"`
	Cooldown time.Duration `json:"-"`
	// UpdatedAt is when this state was saved.
	UpdatedAt time.Time `json:"-"`
}

// Normalized returns h with an empty Circuit read as closed.
func (h EndpointHealth) Normalized() EndpointHealth {
	if h.Circuit == "" {
		h.Circuit = CircuitClosed
	}
	return h
}
