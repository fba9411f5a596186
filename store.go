package hookline

import (
	"context"
	"time"
)

// Store is the durable record of Hookline. The delivery engine talks to it
// through this interface only; package sqlite and package postgres implement
// it, and package storetest is the conformance suite both pass.
//
// Methods that look up one thing by ID return an *Error with code ENOTFOUND
// when it does not exist. Every write is atomic: it commits whole or not at
// all. Times are kept to the microsecond.
type Store interface {
	KeyStore
	EventTypeStore
	Queue

	// CreateEndpoint stores a new endpoint; e.ID, e.Secret, e.CreatedAt and
	// e.UpdatedAt are set by the caller (and e.PreviousSecret with its
	// expiry, if it has one). It sets e.Version.
	CreateEndpoint(ctx context.Context, e *Endpoint) error
	// FindEndpoint returns one endpoint, secrets included.
	FindEndpoint(ctx context.Context, id string) (*Endpoint, error)
	// FindEndpoints returns a page of endpoints, newest first, and the cursor
	// of the next page ("" on the last page).
	FindEndpoints(ctx context.Context, f EndpointFilter) ([]*Endpoint, string, error)
	// UpdateEndpoint applies u to an endpoint at time now and returns it.
	// Enabling a disabled endpoint clears its DisabledReason and its saved
	// health (the circuit closes). Replacing the secret moves the current
	// one to PreviousSecret, in the same write, when u keeps it (see
	// EndpointUpdate.Secret), so two rotations at once lose no secret; and
	// every update drops a previous secret that expired by now.
	UpdateEndpoint(ctx context.Context, id string, u EndpointUpdate, now time.Time) (*Endpoint, error)
	// DeleteEndpoint deletes an endpoint at time now and returns its last
	// snapshot (Deleted set, a new Version, its secrets cleared), or
	// ENOTFOUND. From then on the endpoint is gone from every read, from
	// fan-out, and from ClaimDue and DueEndpoints; its deliveries and their
	// attempts are left for PurgeDeleted, so that the delete is one small
	// write however many it has.
	DeleteEndpoint(ctx context.Context, id string, now time.Time) (*Endpoint, error)
	// PurgeDeleted deletes at most limit deliveries, with their attempts, of
	// the deleted endpoints of the given partitions (nil means all), in one
	// short transaction per endpoint, and returns how many; fewer than limit
	// means none is left (but those another transaction holds). It also
	// deletes what is left of those endpoints (their snapshots, which
	// EndpointChanges returns until then) once their deliveries are gone and
	// they were deleted before `before`.
	PurgeDeleted(ctx context.Context, partitions []int, before time.Time, limit int) (int, error)
	// EndpointChanges returns up to limit endpoints changed (created,
	// updated or deleted) by writes numbered above since, in Version order,
	// each as it is now, and the since of the next call: the Version of the
	// last one returned when limit cut the answer, else the number of the
	// latest write. Every change that commits later has a greater number, so
	// a caller that passes back what it got misses none, and one that
	// applies each snapshot only over an older Version never goes back. A
	// limit of 0 returns only that number.
	EndpointChanges(ctx context.Context, since int64, limit int) ([]*Endpoint, int64, error)

	// Ingest writes the events of every request and their fan-out — one
	// pending delivery per enabled endpoint of the event's tenant that
	// matches its type — in one transaction, committed durably (fsync) before
	// it returns. It fills each request's Results and Tasks, or sets its Err
	// (a conflicting idempotency key) and writes nothing of that request.
	// The returned error is for the transaction as a whole; then no request
	// was written, unless it wraps ErrCommitUnknown: then the COMMIT was
	// sent and not confirmed, and every request may have been written.
	Ingest(ctx context.Context, reqs []*IngestRequest, now time.Time) error
	// FindEvent returns one event.
	FindEvent(ctx context.Context, id string) (*Event, error)
	// FindEvents returns a page of events, newest first, and the cursor of
	// the next page. A type pattern matching more than MaxPatternTypes
	// types is EINVALID.
	FindEvents(ctx context.Context, f EventFilter) ([]*Event, string, error)
	// ReplayEvent creates a new pending delivery of an existing event to
	// every enabled endpoint that matches it now, and returns their tasks.
	// With claim, the deliveries are marked as held in memory.
	ReplayEvent(ctx context.Context, eventID string, claim bool, now time.Time) ([]*Task, error)
	// ReplayMissing examines one page of the events of an endpoint's tenant
	// (r.Limit at most, in ID order, in one transaction) and creates an
	// unclaimed pending delivery, due now, of each one that the endpoint
	// matches now and that has no delivery to it. Two calls at once never
	// make two deliveries of one event. It returns ENOTFOUND for an
	// endpoint that does not exist, ECONFLICT for a disabled one.
	ReplayMissing(ctx context.Context, r ReplayMissingRequest, now time.Time) (ReplayMissingPage, error)

	// FindDelivery returns one delivery.
	FindDelivery(ctx context.Context, id string) (*Delivery, error)
	// FindDeliveries returns a page of deliveries, newest first, and the
	// cursor of the next page.
	FindDeliveries(ctx context.Context, f DeliveryFilter) ([]*Delivery, string, error)
	// CountDeliveries returns how many deliveries f selects (its Cursor and
	// Limit aside).
	CountDeliveries(ctx context.Context, f DeliveryFilter) (int64, error)
	// FindAttempts returns the attempts of a delivery, first attempt first.
	// It returns ENOTFOUND when the delivery does not exist.
	FindAttempts(ctx context.Context, deliveryID string) ([]*Attempt, error)

	// RetryDelivery makes one delivery pending and due now, whatever its
	// status; its attempt count continues and its retry schedule restarts.
	RetryDelivery(ctx context.Context, id string, now time.Time) (*Delivery, error)
	// RecoverEndpoint does the same for every failed delivery of an endpoint
	// created at or after since (zero means all) and returns how many.
	RecoverEndpoint(ctx context.Context, endpointID string, since, now time.Time) (int, error)
	// RetryDeliveries does the same for up to limit of the failed
	// deliveries f selects (f.Status must be failed; Cursor and Limit are
	// ignored), in one transaction, and says which it made pending. A
	// caller repeats it until fewer than limit come back.
	RetryDeliveries(ctx context.Context, f DeliveryFilter, limit int, now time.Time) (RetryResult, error)

	// EndpointCounts returns how many deliveries of one endpoint are pending
	// and failed, or ENOTFOUND.
	EndpointCounts(ctx context.Context, endpointID string) (EndpointCounts, error)
	// SaveHealth stores the health of endpoints, replacing what was saved.
	// The health of an endpoint that does not exist is dropped.
	SaveHealth(ctx context.Context, hs []EndpointHealth) error
	// FindHealth returns the saved health of one endpoint (the zero value
	// when none was saved), or ENOTFOUND when the endpoint does not exist.
	FindHealth(ctx context.Context, endpointID string) (EndpointHealth, error)
	// LoadHealth returns the saved health of every endpoint of the given
	// partitions (nil means all) that has one.
	LoadHealth(ctx context.Context, partitions []int) ([]EndpointHealth, error)

	// Stats counts deliveries by status, events and endpoints.
	Stats(ctx context.Context) (StoreStats, error)
	// PendingCount returns the number of pending deliveries, cheaply enough
	// to call every second.
	PendingCount(ctx context.Context) (int64, error)
	// Prune deletes at most limit of the oldest events created before
	// `before`, with their deliveries and attempts, skipping events that
	// still have pending deliveries, and expired idempotency keys. It returns
	// how many events it deleted.
	Prune(ctx context.Context, before time.Time, limit int) (int, error)

	// Ping reports whether the store answers.
	Ping(ctx context.Context) error
	// Close releases the store. Pending writes are already committed.
	Close() error
}

// An EarlyIngester is a Store that can answer an Ingest before it has made
// the tasks of its deliveries, which for an event fanned out to thousands
// of endpoints is milliseconds of work after the commit. IngestEarly
// writes and commits as Ingest does and fills each request's Results or
// Err; finish fills the Tasks. The caller calls finish once, as soon as it
// has answered; until then the store's other methods wait, so that what a
// caller answered is what anyone reads. finish is nil when err is not.
type EarlyIngester interface {
	IngestEarly(ctx context.Context, reqs []*IngestRequest, now time.Time) (finish func(), err error)
}

// Queue is the part of the Store that the delivery engine works the queue
// of deliveries with: it claims what is due, gives back what it cannot hold,
// takes partitions over, frees claims nothing holds, and records the outcomes
// of its attempts, fenced by claim and attempt number. The API never calls
// it; it reads and changes deliveries through the rest of Store.
type Queue interface {
	// ClaimDue claims, for each request, up to Limit pending, unclaimed
	// deliveries of its endpoint due at or before now, earliest due first,
	// marking them as held in memory. The results align with reqs; each also
	// gives the earliest due time of the endpoint's pending deliveries that
	// are still unclaimed (zero when there are none). An endpoint that does
	// not exist gets an empty result.
	ClaimDue(ctx context.Context, reqs []ClaimRequest, now time.Time) ([]ClaimResult, error)
	// DueEndpoints returns every endpoint of the given partitions (nil means
	// all) that has pending, unclaimed deliveries, with the earliest due
	// time among them, in no particular order. Its cost grows with the
	// number of such endpoints, not with the number of deliveries.
	DueEndpoints(ctx context.Context, partitions []int) ([]EndpointDue, error)
	// Unclaim marks deliveries as no longer held in memory, so ClaimDue can
	// return them again. Unknown IDs, and deliveries another store holds,
	// are ignored.
	Unclaim(ctx context.Context, deliveryIDs []string) error
	// ResetClaims unclaims every pending delivery of the given partitions
	// (nil means all), whoever holds it; a node calls it when it starts
	// owning them.
	ResetClaims(ctx context.Context, partitions []int) error
	// FindStaleClaims returns the IDs of pending deliveries claimed before
	// f.Before, by this store or by any other (a node that died, or lost the
	// partition), in ID order. A claim left by an earlier run of the store
	// counts as made before any time. The engine's rescuer frees those that
	// nothing in its memory holds (RescueClaims).
	FindStaleClaims(ctx context.Context, f StaleClaimFilter) ([]string, error)
	// RescueClaims unclaims those of the deliveries named whose claim was
	// made before `before`, and returns how many: a delivery claimed again
	// since keeps its new claim. Unknown IDs are ignored.
	RescueClaims(ctx context.Context, deliveryIDs []string, before time.Time) (int, error)
	// RecordOutcomes writes a batch of attempt outcomes: each attempt row, and
	// the delivery's new status, attempt count, last status and error, due
	// time, and claim released. An outcome is written only while its writer
	// may still hold the delivery, and only forward in attempt number, so a
	// node that paused, lost its lease or lost a database reply cannot
	// overwrite a newer record. RecordOutcomes drops, and says why in the
	// outcome's Dropped (the slice is updated in place), the outcomes of
	// deliveries deleted (DropGone) or no longer pending (DropSettled), of
	// deliveries another store holds the claim of (DropNotHeld), and those
	// whose attempt number is not past the delivery's count: one of the same
	// number recorded by another attempt (DropCollision), or a lower one
	// (DropStale). An outcome written already (a batch written again after
	// its reply was lost) is not written twice, and is not reported as
	// dropped. Several outcomes of one delivery in a batch apply in order.
	RecordOutcomes(ctx context.Context, outcomes []Outcome, now time.Time) error
}

// StoreStats are the counts behind GET /v1/stats.
type StoreStats struct {
	Pending   int64 `json:"pending"`
	Delivered int64 `json:"delivered"`
	Failed    int64 `json:"failed"`
	Events    int64 `json:"events"`
	Endpoints int64 `json:"endpoints"`
	// EndpointsByCircuit counts endpoints by the circuit state last saved
	// with their health.
	EndpointsByCircuit CircuitCounts `json:"endpoints_by_circuit"`
	// EndpointsDisabled counts the disabled endpoints.
	EndpointsDisabled int64 `json:"endpoints_disabled"`
}

// CircuitCounts count endpoints by circuit state.
type CircuitCounts struct {
	Closed   int64 `json:"closed"`
	Open     int64 `json:"open"`
	HalfOpen int64 `json:"half_open"`
}

// ClaimRequest asks ClaimDue for up to Limit due deliveries of one endpoint.
type ClaimRequest struct {
	EndpointID string
	Limit      int
}

// ClaimResult is what ClaimDue claimed for one ClaimRequest.
type ClaimResult struct {
	Tasks []*Task
	// Next is the earliest due time of the endpoint's pending deliveries
	// left unclaimed; zero when there are none.
	Next time.Time
}

// StaleClaimFilter selects claims for FindStaleClaims: those of pending
// deliveries of Partitions (nil means all) made before Before, with IDs
// above After ("" from the first), at most Limit of them (0 means
// DefaultLimit).
type StaleClaimFilter struct {
	Partitions []int
	Before     time.Time
	After      string
	Limit      int
}

// EndpointDue is an endpoint with pending, unclaimed deliveries, and the
// earliest due time among them.
type EndpointDue struct {
	EndpointID string
	Partition  int
	Due        time.Time
}

// EndpointCounts count the deliveries of one endpoint.
type EndpointCounts struct {
	Pending int64 `json:"pending"`
	Failed  int64 `json:"failed"`
}
