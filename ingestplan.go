package hookline

// This file holds the part of ingest that is the same in every store: the
// idempotency plan of a request (which events are new, which repeat an
// earlier one, which conflict) and the bound on its fan-out. A store reads
// the keys it needs, calls PlanIdempotency, writes the new events and
// their deliveries, and fills in the answers of the repeats with
// AnswerRepeats.

// IdempotencyID names an idempotency key: keys are per tenant.
type IdempotencyID struct{ Tenant, Key string }

// IdempotencyEntry is the first answer given under an idempotency key:
// stored (EventID and Deliveries), or, for a key first used earlier in the
// same ingest call, the result that owns it (Result, filled in when that
// event is planned).
type IdempotencyEntry struct {
	Hash       string // the RequestHash of the event that took the key
	EventID    string
	Deliveries int
	Result     *IngestResult
}

// answer returns the result of a request that repeats e's event, of type
// typ.
func (e *IdempotencyEntry) answer(typ string) IngestResult {
	res := IngestResult{ID: e.EventID, Type: typ, Deliveries: e.Deliveries, Duplicate: true}
	if e.Result != nil {
		res.ID, res.Deliveries = e.Result.ID, e.Result.Deliveries
	}
	return res
}

// PlanIdempotency checks the idempotency keys of events, the events of one
// request, against lookup (the live entry of a key, stored or taken earlier
// in the same call; nil when the key is free) and against each other. It
// returns, for each event, the entry it repeats (nil for a new event; a nil
// slice when every event is new). results is the request's answer slice,
// one per event, which the entries of keys first used within the request
// point into.
//
// A key used with another request hash is an ECONFLICT error: nothing of the
// request may be written. Any other error is lookup's.
func PlanIdempotency(events []*Event, results []IngestResult, lookup func(IdempotencyID) (*IdempotencyEntry, error)) ([]*IdempotencyEntry, error) {
	var dup []*IdempotencyEntry
	var mine map[IdempotencyID]int // keys first used by this request → event index
	for i, ev := range events {
		if ev.IdempotencyKey == "" {
			continue
		}
		k := IdempotencyID{ev.Tenant, ev.IdempotencyKey}
		var e *IdempotencyEntry
		if j, ok := mine[k]; ok {
			if events[j].RequestHash != ev.RequestHash {
				return nil, idempotencyConflict(ev)
			}
			e = &IdempotencyEntry{Result: &results[j]}
		} else {
			var err error
			if e, err = lookup(k); err != nil {
				return nil, err
			}
			if e == nil {
				if mine == nil {
					mine = make(map[IdempotencyID]int)
				}
				mine[k] = i
				continue
			}
			if e.Hash != ev.RequestHash {
				return nil, idempotencyConflict(ev)
			}
		}
		if dup == nil {
			dup = make([]*IdempotencyEntry, len(events))
		}
		dup[i] = e
	}
	return dup, nil
}

// AnswerRepeats sets the result of every event that repeats an earlier
// one (dup[i] not nil) to that event's answer. Call it once the new events
// of the request, and of the call before it, are planned.
func AnswerRepeats(events []*Event, dup []*IdempotencyEntry, results []IngestResult) {
	for i, e := range dup {
		if e != nil {
			results[i] = e.answer(events[i].Type)
		}
	}
}

func idempotencyConflict(ev *Event) error {
	return Errorf(ECONFLICT, "idempotency key %q was already used with another request", ev.IdempotencyKey)
}

// CheckFanOut returns ETOOLARGE when the new events of a request (those
// with no entry in dup) would make more than max deliveries, counted by
// deliveries(ev); nil when max is 0 or they fit. It runs before anything
// of the request is planned, so a refused request writes nothing.
func CheckFanOut(events []*Event, dup []*IdempotencyEntry, max int, deliveries func(*Event) int) error {
	if max <= 0 {
		return nil
	}
	n := 0
	for i, ev := range events {
		if dup != nil && dup[i] != nil {
			continue
		}
		if n += deliveries(ev); n > max {
			return Errorf(ETOOLARGE, "these events fan out to more than %d deliveries, the most one request may make; send fewer events per request", max)
		}
	}
	return nil
}
