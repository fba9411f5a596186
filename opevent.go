package hookline

import "strings"

// OperationalPrefix starts the types of Hookline's own operational events,
// which tell users about trouble with their endpoints. Clients cannot send
// events of these types, and an endpoint receives them only when it
// subscribes to them explicitly: "*" and an empty subscription do not match
// them.
const OperationalPrefix = "hookline."

// The operational event types. Each is an ordinary event of the tenant of
// the endpoint it is about, delivered through the same pipeline.
const (
	// EventEndpointFailing: the endpoint's circuit breaker opened.
	EventEndpointFailing = "hookline.endpoint.failing"
	// EventEndpointRecovered: the endpoint's circuit closed again.
	EventEndpointRecovered = "hookline.endpoint.recovered"
	// EventEndpointDisabled: the endpoint was disabled (failing for too
	// long, or its receiver answered 410 Gone).
	EventEndpointDisabled = "hookline.endpoint.disabled"
	// EventDeliveryFailed: a delivery exhausted its attempts (dead letter).
	EventDeliveryFailed = "hookline.delivery.failed"
)

// IsOperational reports whether an event type is one of Hookline's own.
func IsOperational(eventType string) bool { return strings.HasPrefix(eventType, OperationalPrefix) }
