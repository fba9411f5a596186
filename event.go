package hookline

import (
	"encoding/json"
	"time"
	"unicode/utf8"
)

// Event is something that happened in a user's product, to be delivered to
// every matching endpoint of its tenant.
type Event struct {
	ID        string          `json:"id"`
	Tenant    string          `json:"tenant"`
	Type      string          `json:"type"`
	Data      json.RawMessage `json:"data"`
	CreatedAt time.Time       `json:"created_at"`
	// Deliveries is how many deliveries the event fanned out to when it was
	// accepted (replays are not counted).
	Deliveries int `json:"deliveries"`
	// Priority orders work, 0 to 9, higher first (DefaultPriority when not
	// given); see PriorityStep.
	Priority int `json:"priority"`
	// OrderingKey groups the deliveries that an endpoint with ordering
	// "fifo" attempts one at a time, in the order the events were accepted;
	// "" is one shared key. At most MaxOrderingKey bytes.
	OrderingKey string `json:"ordering_key"`

	// IdempotencyKey, when set, makes ingest return the first answer for the
	// same (Tenant, IdempotencyKey) within IdempotencyWindow.
	IdempotencyKey string `json:"-"`
	// RequestHash identifies the request body that carried the event, so that
	// a key reused with another body is a conflict.
	RequestHash string `json:"-"`
}

// Payload returns the body delivered to endpoints:
// {"id":…,"type":…,"timestamp":"<RFC 3339>","data":…}. It is built once per
// event; its bytes are shared by every delivery and attempt.
func (e *Event) Payload() []byte {
	b := make([]byte, 0, len(e.Data)+len(e.ID)+len(e.Type)+96)
	b = append(b, `{"id":`...)
	b = appendJSONString(b, e.ID)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, e.Type)
	b = append(b, `,"timestamp":"`...)
	b = e.CreatedAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","data":`...)
	if len(e.Data) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, e.Data...)
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string. Event IDs and types are
// validated to printable ASCII, but this stays correct for any input.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			v, _ := json.Marshal(s)
			return append(b, v...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Priorities, and the longest ordering key.
const (
	MinPriority     = 0
	MaxPriority     = 9
	DefaultPriority = 5
	MaxOrderingKey  = 256
)

// PriorityStep is how much sooner each level of priority makes a delivery
// come, in the order work is taken: a delivery of priority p due at t is
// taken as if it were due at t − p×PriorityStep. A priority-9 delivery thus
// goes before priority-1 deliveries that became due up to 8 steps (4
// minutes) before it, and no lower-priority delivery waits more than that
// behind a flood of higher ones: the aging that bounds starvation.
const PriorityStep = 30 * time.Second

// ClampPriority returns the priority from MinPriority to MaxPriority
// nearest to p: the one an event of priority p is stored and taken at. The
// HTTP API refuses other priorities; an event of the Go API is not
// validated.
func ClampPriority(p int) int { return min(max(p, MinPriority), MaxPriority) }

// IngestRequest is one API request's events, written in one transaction
// shared with other requests (group commit). The store fills Results and
// Tasks, or sets Err; a request with Err set wrote nothing.
type IngestRequest struct {
	Events []*Event
	// Claim marks the new deliveries as held in memory by this node, because
	// the caller dispatches the returned tasks itself.
	Claim bool
	// Owned, when not nil, limits Claim to the deliveries of the partitions p
	// with Owned[p] set: a node of a cluster claims only what it owns and
	// leaves the rest to the owners. Tasks still lists every delivery.
	Owned []bool
	// Hold, when not nil, names endpoints whose deliveries are not claimed
	// even when Claim and Owned say so: the dispatcher has no room for them
	// (a full queue, an open circuit). They wait in the store.
	Hold map[string]struct{}
	// MaxDeliveries, when positive, bounds the deliveries the request's new
	// events may make: past it, Err is ETOOLARGE and nothing of the request
	// is written.
	MaxDeliveries int

	Results []IngestResult
	Tasks   []*Task
	Err     error
}

// Claims reports whether a delivery to the endpoint, of partition p, is
// claimed. Deliveries to ordered (fifo) endpoints never are: the store
// hands them out one key at a time, when their turn comes (ClaimDue).
func (r *IngestRequest) Claims(ep *Endpoint, p int) bool {
	if !r.Claim || (r.Owned != nil && !r.Owned[p]) || ep.FIFO() {
		return false
	}
	if r.Hold != nil {
		if _, held := r.Hold[ep.ID]; held {
			return false
		}
	}
	return true
}

// IngestResult is the answer for one ingested event.
type IngestResult struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Deliveries int    `json:"deliveries"`
	// Duplicate reports that the idempotency key matched an earlier event,
	// whose ID and delivery count are returned and nothing was written.
	Duplicate bool `json:"-"`
}

// ValidEventType reports whether s can be an event type: 1 to 256 printable
// ASCII characters without spaces.
func ValidEventType(s string) bool { return validToken(s, 256) }

// ValidTenant reports whether s can be a tenant: up to 128 printable ASCII
// characters without spaces. The empty tenant is valid.
func ValidTenant(s string) bool { return s == "" || validToken(s, 128) }

func validToken(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
