package api

import (
	"context"
	"time"

	"github.com/hookline/hookline"
)

// Engine is what the API needs of the delivery engine (package delivery). It
// is an interface so the API can be tested on its own.
type Engine interface {
	// Ingest assigns each event its ID and acceptance time, writes the events
	// and their deliveries durably (group commit), hands the deliveries to
	// the dispatcher and returns one result per event. All events are written
	// or none. It returns ECONFLICT when an idempotency key was used with
	// another body, and EUNAVAILABLE when the store fails or the backlog is
	// over its bound.
	Ingest(ctx context.Context, events []*hookline.Event) ([]hookline.IngestResult, error)
	// ReplayEvent sends an event again to every endpoint that matches it now
	// and returns how many deliveries it created.
	ReplayEvent(ctx context.Context, eventID string) (int, error)
	// RetryDelivery makes a delivery pending and due now.
	RetryDelivery(ctx context.Context, deliveryID string) (*hookline.Delivery, error)
	// RecoverEndpoint makes every failed delivery of an endpoint created at
	// or after since pending again, and returns how many.
	RecoverEndpoint(ctx context.Context, endpointID string, since time.Time) (int, error)
	// ReplayMissing creates a delivery to an endpoint of every event of its
	// tenant accepted in [since, until) (a zero until: no end) that it
	// matches now and has no delivery of, in bounded pages, and returns how
	// many. ENOTFOUND for an unknown endpoint, ECONFLICT for a disabled one.
	ReplayMissing(ctx context.Context, endpointID string, since, until time.Time) (int, error)
	// RetryDeliveries makes the failed deliveries f selects pending and due
	// now, in bounded batches, and returns how many.
	RetryDeliveries(ctx context.Context, f hookline.DeliveryFilter) (int, error)
	// EndpointChanged tells the engine an endpoint was written, with the
	// snapshot the store returned (Deleted set for a delete; nil also means
	// deleted), so that queued deliveries use the new URL and secret at once
	// on this node. Other nodes learn of it from the store
	// (EndpointChanges); snapshots are ordered by Version.
	EndpointChanged(id string, ep *hookline.Endpoint)
	// EndpointHealth returns an endpoint's health (circuit, failures),
	// live from the node that dispatches it, else as last saved; ENOTFOUND
	// when the endpoint does not exist.
	EndpointHealth(ctx context.Context, id string) (hookline.EndpointHealth, error)
	// EndpointStats returns the figures of GET /v1/endpoints/{id}/stats, or
	// ENOTFOUND.
	EndpointStats(ctx context.Context, id string) (hookline.EndpointStats, error)
	// Stats returns the figures of GET /v1/stats.
	Stats(ctx context.Context) (hookline.Stats, error)
	// Ready returns nil when the node can serve: the store answers. detail is
	// shown on /readyz either way.
	Ready(ctx context.Context) (detail any, err error)
}
