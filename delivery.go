package hookline

import "time"

// DeliveryStatus is the state of a delivery: pending, then delivered or
// failed. A failed delivery is in the dead-letter state; a retry or recover
// makes it pending again.
type DeliveryStatus string

// The delivery states.
const (
	StatusPending   DeliveryStatus = "pending"
	StatusDelivered DeliveryStatus = "delivered"
	StatusFailed    DeliveryStatus = "failed"
)

// Valid reports whether s is one of the three states.
func (s DeliveryStatus) Valid() bool {
	return s == StatusPending || s == StatusDelivered || s == StatusFailed
}

// Delivery is one event on its way to one endpoint.
type Delivery struct {
	ID         string         `json:"id"`
	EventID    string         `json:"event_id"`
	EndpointID string         `json:"endpoint_id"`
	Tenant     string         `json:"tenant"`
	EventType  string         `json:"event_type"`
	Priority   int            `json:"priority"`
	Status     DeliveryStatus `json:"status"`
	// Attempts is how many attempts were made, across retries and replays.
	Attempts int `json:"attempts"`
	// ScheduleOffset is the value of Attempts when the delivery last
	// (re)entered the pending state; the retry schedule counts from it.
	ScheduleOffset int `json:"-"`
	// NextAttemptAt is when a pending delivery is due; nil otherwise.
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	LastStatusCode int        `json:"last_status_code"`
	LastError      string     `json:"last_error"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	DeliveredAt    *time.Time `json:"delivered_at"`
}

// DeliveryFilter selects deliveries. Results are ordered newest first.
type DeliveryFilter struct {
	EventID    string         // "" means any
	EndpointID string         // "" means any
	Status     DeliveryStatus // "" means any
	// EventType is the type of the delivery's event: "" means any, a type
	// means that type, and a pattern "invoice.*" every type that starts
	// "invoice." (see TypePrefix).
	EventType string
	// Since and Until bound the delivery's CreatedAt to [Since, Until); a
	// zero time leaves that side open. The stores narrow the range by ID,
	// since a delivery's ID carries the millisecond it was made (NewID).
	Since, Until time.Time
	Cursor       string // IDs below this one; "" starts at the newest
	Limit        int    // 0 means DefaultLimit
}

// Attempt records one HTTP request of a delivery.
type Attempt struct {
	DeliveryID string        `json:"-"`
	Attempt    int           `json:"attempt"` // 1 for the first
	StartedAt  time.Time     `json:"started_at"`
	Duration   time.Duration `json:"-"`
	StatusCode int           `json:"status_code"` // 0 when no response arrived
	Error      string        `json:"error"`       // "" on success
	// ResponseBody holds at most MaxStoredResponse bytes of the response.
	ResponseBody string `json:"response_body"`
}

// MaxStoredResponse is how much of a response body an attempt keeps.
const MaxStoredResponse = 1024

// Task is a pending delivery as the dispatcher holds it: everything needed to
// send it without another read.
type Task struct {
	DeliveryID     string
	EventID        string
	Endpoint       *Endpoint // a snapshot at the time the task was read
	Payload        []byte    // shared by all tasks of the event; never modified
	Attempts       int
	ScheduleOffset int
	// EventCreatedAt is when the event was accepted, for end-to-end latency.
	EventCreatedAt time.Time
	Partition      int
	// Priority is the event's; Due is when the delivery became due (its
	// ingest, or its retry time).
	Priority int
	Due      time.Time
	// OrderingKey and Seq place a delivery to a fifo endpoint in its key's
	// line: Seq is the accepted order of its event among the endpoint's
	// deliveries.
	OrderingKey string
	Seq         int64
	// BatchID is the batch the delivery was last sent in, kept while it is
	// retried, so that a batch is retried whole under the same webhook-id.
	BatchID string
}

// Outcome is the result of one attempt, written back to the store in
// batches.
type Outcome struct {
	// EndpointID is the delivery's endpoint, and Ordered whether it orders
	// its deliveries, for the dispatcher's bookkeeping; stores do not need
	// them.
	EndpointID string
	Ordered    bool
	// BatchID is the batch the attempt was sent in ("" when alone); a
	// delivery left pending keeps it, so its batch is retried whole.
	BatchID string
	Attempt Attempt
	// Status is the delivery's new state. When pending, NextAttemptAt says
	// when the next attempt is due.
	Status        DeliveryStatus
	NextAttemptAt time.Time

	// Dropped is set by RecordOutcomes when it did not write the outcome,
	// to say why; it stays "" for an outcome written, now or by an earlier
	// call (a batch written again after its reply was lost).
	Dropped OutcomeDrop
}

// OutcomeDrop says why RecordOutcomes dropped an outcome rather than write
// it. Only the holder of a delivery's claim writes its outcome, and only
// forward in attempt number, so that a node that paused, lost its lease or
// lost a database reply never overwrites a newer record (ARCHITECTURE.md
// promise 8).
type OutcomeDrop string

// The reasons an outcome is dropped.
const (
	// DropGone: the delivery no longer exists (deleted with its endpoint or
	// event while the attempt was under way).
	DropGone OutcomeDrop = "gone"
	// DropSettled: the delivery is no longer pending; another attempt
	// settled it.
	DropSettled OutcomeDrop = "settled"
	// DropNotHeld: another node holds the delivery's claim now; the writer
	// lost it (its lease moved while it paused).
	DropNotHeld OutcomeDrop = "not_held"
	// DropCollision: an attempt of the same number was recorded already,
	// by another writer: two nodes made the attempt, and the first one
	// recorded stands.
	DropCollision OutcomeDrop = "collision"
	// DropStale: a later attempt was recorded already.
	DropStale OutcomeDrop = "stale"
)
