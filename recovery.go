package hookline

import (
	"strings"
	"time"
)

// This file holds the domain of the recovery tools: listing events, a type
// filter that may be a prefix pattern, replaying to an endpoint what it
// missed, and retrying dead letters in bulk.

// TypePrefix returns the prefix a type pattern stands for: "invoice." for
// "invoice.*", which matches every type that starts "invoice." (as an
// endpoint's event_types entry does), and false for an exact type.
func TypePrefix(pattern string) (string, bool) {
	p, ok := strings.CutSuffix(pattern, ".*")
	if !ok || p == "" {
		return "", false
	}
	return p + ".", true
}

// MatchesType reports whether an event type matches pattern: "" matches
// every type, an exact type itself, "invoice.*" every type starting
// "invoice.".
func MatchesType(pattern, eventType string) bool {
	if pattern == "" {
		return true
	}
	if p, ok := TypePrefix(pattern); ok {
		return strings.HasPrefix(eventType, p)
	}
	return pattern == eventType
}

// ValidTypePattern reports whether s can filter by event type: a valid event
// type without "*", or one followed by ".*" (a prefix).
func ValidTypePattern(s string) bool {
	if p, ok := TypePrefix(s); ok {
		s = p[:len(p)-1]
	}
	return ValidEventType(s) && !strings.Contains(s, "*")
}

// PrefixEnd returns the least string greater than every string that starts
// with prefix, for a range scan [prefix, PrefixEnd(prefix)). prefix must be
// printable ASCII (as event types are).
func PrefixEnd(prefix string) string {
	b := []byte(prefix)
	b[len(b)-1]++
	return string(b)
}

// MaxPatternTypes is the most distinct types a prefix pattern may match in a
// list of deliveries or events: a list with a pattern is the merge of one
// ordered walk per type.
const MaxPatternTypes = 64

// TooManyTypes is the EINVALID error of a pattern, in field, that matches
// more than MaxPatternTypes types.
func TooManyTypes(field, prefix string) error {
	return Errorf(EINVALID, "%s: %s* matches more than %d event types; narrow the pattern", field, prefix, MaxPatternTypes)
}

// EventFilter selects events. Results are ordered newest first.
type EventFilter struct {
	Tenant *string // nil: any tenant
	// Type is "" for any type, a type, or a prefix pattern "invoice.*".
	Type string
	// Since and Until bound CreatedAt to [Since, Until); zero leaves a side
	// open. An event's ID carries the millisecond it was accepted (NewID).
	Since, Until time.Time
	Cursor       string // IDs below this one; "" starts at the newest
	Limit        int    // 0 means DefaultLimit
}

// ReplayMissingRequest asks for one page of a replay of what an endpoint
// missed: the events of the endpoint's tenant accepted in [Since, Until)
// with IDs after After ("" from the first), at most Limit of them examined.
type ReplayMissingRequest struct {
	EndpointID   string
	Since, Until time.Time
	After        string
	Limit        int // events examined; 0 means DefaultReplayPage
}

// DefaultReplayPage is how many events one page of a replay examines.
const DefaultReplayPage = 500

// ReplayMissingPage is what one page of a replay did.
type ReplayMissingPage struct {
	// Created is how many deliveries the page made.
	Created int
	// Next is the After of the next page, "" when the window is done.
	Next string
}

// RetryResult is what one batch of a bulk retry did.
type RetryResult struct {
	// Requeued is how many deliveries became pending.
	Requeued int
	// Endpoints are the endpoints of those deliveries, each once.
	Endpoints []string
}

// DefaultRetryBatch is how many dead letters one batch of a bulk retry
// makes pending.
const DefaultRetryBatch = 1000
