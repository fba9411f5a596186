package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/hookline/hookline"
)

// MaxBatch is the most events POST /v1/events/batch accepts at once.
const MaxBatch = 1000

// MaxIdempotencyKey is the longest Idempotency-Key accepted, in bytes.
const MaxIdempotencyKey = 255

// eventRequest is the body of POST /v1/events. Data keeps the bytes of the
// JSON value as sent.
type eventRequest struct {
	Type        string          `json:"type"`
	Data        json.RawMessage `json:"data"`
	Tenant      string          `json:"tenant"`
	Priority    *int            `json:"priority"`
	OrderingKey *string         `json:"ordering_key"`
}

// batchRequest is the body of POST /v1/events/batch. Each event is decoded
// on its own, so that an error names its index.
type batchRequest struct {
	Events []json.RawMessage `json:"events"`
}

// batchEventRequest is one event of a batch.
type batchEventRequest struct {
	Type           string          `json:"type"`
	Data           json.RawMessage `json:"data"`
	Tenant         string          `json:"tenant"`
	IdempotencyKey string          `json:"idempotency_key"`
	Priority       *int            `json:"priority"`
	OrderingKey    *string         `json:"ordering_key"`
}

// order checks an event's priority and ordering key and returns them, the
// priority DefaultPriority when absent.
func order(at string, priority *int, key *string) (int, string, error) {
	p, k := hookline.DefaultPriority, ""
	if priority != nil {
		if *priority < hookline.MinPriority || *priority > hookline.MaxPriority {
			return 0, "", hookline.Errorf(hookline.EINVALID, "%s: must be an integer from %d to %d (higher first)",
				join(at, "priority"), hookline.MinPriority, hookline.MaxPriority)
		}
		p = *priority
	}
	if key != nil {
		if len(*key) > hookline.MaxOrderingKey {
			return 0, "", hookline.Errorf(hookline.EINVALID, "%s: at most %d bytes", join(at, "ordering_key"), hookline.MaxOrderingKey)
		}
		k = *key
	}
	return p, k, nil
}

// replayResponse is the answer of POST /v1/events/{id}/replay.
type replayResponse struct {
	Deliveries int `json:"deliveries"`
}

// decodeEvent decodes and validates the body of POST /v1/events.
func decodeEvent(rd io.Reader) (eventRequest, error) {
	var req eventRequest
	if err := decodeJSON(rd, &req, ""); err != nil {
		return req, err
	}
	return req, validateEvent("", req.Type, req.Data, req.Tenant)
}

// validateEvent checks the fields of one event; at prefixes the field names
// in messages ("" or "events[3]").
func validateEvent(at, typ string, data json.RawMessage, tenant string) error {
	switch {
	case typ == "":
		return hookline.Errorf(hookline.EINVALID, "%s: required", join(at, "type"))
	case !hookline.ValidEventType(typ):
		return hookline.Errorf(hookline.EINVALID, "%s: must be 1 to 256 printable ASCII characters without spaces", join(at, "type"))
	case strings.Contains(typ, "*"):
		return hookline.Errorf(hookline.EINVALID, "%s: must not contain \"*\", which is kept for the wildcards of endpoint event_types", join(at, "type"))
	case hookline.IsOperational(typ):
		return hookline.Errorf(hookline.EINVALID, "%s: types starting %q are Hookline's own operational events and cannot be sent", join(at, "type"), hookline.OperationalPrefix)
	case len(data) == 0 || string(data) == "null":
		return hookline.Errorf(hookline.EINVALID, "%s: required; any JSON value but null", join(at, "data"))
	case !hookline.ValidTenant(tenant):
		return hookline.Errorf(hookline.EINVALID, "%s: must be at most 128 printable ASCII characters without spaces", join(at, "tenant"))
	}
	return checkUnicode(join(at, "data"), data)
}

// idempotencyKey returns the Idempotency-Key header of r, "" when absent.
func idempotencyKey(r *http.Request) (string, error) {
	k := r.Header.Get("Idempotency-Key")
	if k == "" {
		return "", nil
	}
	return k, validateIdempotencyKey("Idempotency-Key", k)
}

// validateIdempotencyKey checks that k is 1 to MaxIdempotencyKey printable
// ASCII characters; field names it in the message.
func validateIdempotencyKey(field, k string) error {
	ok := k != "" && len(k) <= MaxIdempotencyKey
	for i := 0; ok && i < len(k); i++ {
		ok = k[i] >= ' ' && k[i] <= '~'
	}
	if !ok {
		return hookline.Errorf(hookline.EINVALID, "%s: must be 1 to %d printable ASCII characters", field, MaxIdempotencyKey)
	}
	return nil
}

// requestHash returns the hex SHA-256 of the canonical form of an event
// request: tenant, type and the data bytes as sent, NUL-separated (tenants
// and types cannot hold NUL), then the priority and ordering key when they
// are not the defaults (so hashes from before they existed still match). An
// idempotency key reused with a request of another hash is a conflict.
func requestHash(ev *hookline.Event) string {
	h := sha256.New()
	_, _ = io.WriteString(h, ev.Tenant)
	_, _ = h.Write([]byte{0})
	_, _ = io.WriteString(h, ev.Type)
	_, _ = h.Write([]byte{0})
	_, _ = h.Write(ev.Data)
	if ev.Priority != hookline.DefaultPriority || ev.OrderingKey != "" {
		_, _ = fmt.Fprintf(h, "\x00%d\x00%s", ev.Priority, ev.OrderingKey)
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

// handleCreateEvent is POST /v1/events: it ingests one event and answers 202
// once it is durable. A repeated Idempotency-Key with the same body answers
// the first result again, with Idempotent-Replayed: true.
func (s *Server) handleCreateEvent(w http.ResponseWriter, r *http.Request) {
	key, err := idempotencyKey(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := s.body(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	req, err := decodeEvent(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	prio, okey, err := order("", req.Priority, req.OrderingKey)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tenant, err := tenantOf(r.Context(), "", req.Tenant)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ev := &hookline.Event{Tenant: tenant, Type: req.Type, Data: req.Data, Priority: prio, OrderingKey: okey}
	if err := s.catalog.check(r.Context(), "", ev); err != nil {
		s.writeError(w, r, err)
		return
	}
	if key != "" {
		ev.IdempotencyKey = key
		ev.RequestHash = requestHash(ev)
	}
	res, err := s.engine.Ingest(r.Context(), []*hookline.Event{ev})
	if err == nil && len(res) != 1 {
		err = fmt.Errorf("ingest: %d results for 1 event", len(res))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if res[0].Duplicate {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	s.writeJSON(w, r, http.StatusAccepted, res[0])
}

// handleCreateEventBatch is POST /v1/events/batch: 1 to MaxBatch events,
// ingested all or none. With an Idempotency-Key header, event i without its
// own idempotency_key gets the key "<key>#<i>". When every event was a
// replay of an earlier one, the answer carries Idempotent-Replayed: true.
func (s *Server) handleCreateEventBatch(w http.ResponseWriter, r *http.Request) {
	key, err := idempotencyKey(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req batchRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	events, err := batchEvents(r.Context(), req, key)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for i, ev := range events {
		if err := s.catalog.check(r.Context(), "events["+strconv.Itoa(i)+"]", ev); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	res, err := s.engine.Ingest(r.Context(), events)
	if err == nil && len(res) != len(events) {
		err = fmt.Errorf("ingest: %d results for %d events", len(res), len(events))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	replayed := true
	for _, x := range res {
		replayed = replayed && x.Duplicate
	}
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	s.writeJSON(w, r, http.StatusAccepted, data[hookline.IngestResult]{Data: res})
}

// batchEvents validates a batch and returns its events, or the error of the
// first invalid one, named by index.
func batchEvents(ctx context.Context, req batchRequest, key string) ([]*hookline.Event, error) {
	if req.Events == nil {
		return nil, hookline.Errorf(hookline.EINVALID, "events: required; an array of 1 to %d events", MaxBatch)
	} else if n := len(req.Events); n == 0 || n > MaxBatch {
		return nil, hookline.Errorf(hookline.EINVALID, "events: must hold 1 to %d events, not %d", MaxBatch, n)
	}
	events := make([]*hookline.Event, len(req.Events))
	var keys map[string]int // idempotency key → index, to refuse repeats
	for i, raw := range req.Events {
		at := "events[" + strconv.Itoa(i) + "]"
		var e batchEventRequest
		if err := decodeJSON(bytes.NewReader(raw), &e, at); err != nil {
			return nil, err
		}
		if err := validateEvent(at, e.Type, e.Data, e.Tenant); err != nil {
			return nil, err
		}
		prio, okey, err := order(at, e.Priority, e.OrderingKey)
		if err != nil {
			return nil, err
		}
		k := e.IdempotencyKey
		if k != "" {
			if err := validateIdempotencyKey(at+".idempotency_key", k); err != nil {
				return nil, err
			}
		} else if key != "" {
			k = key + "#" + strconv.Itoa(i)
		}
		tenant, err := tenantOf(ctx, at, e.Tenant)
		if err != nil {
			return nil, err
		}
		ev := &hookline.Event{Tenant: tenant, Type: e.Type, Data: e.Data, Priority: prio, OrderingKey: okey}
		if k != "" {
			if keys == nil {
				keys = make(map[string]int)
			}
			if j, ok := keys[k]; ok {
				return nil, hookline.Errorf(hookline.EINVALID, "%s.idempotency_key: the same key as events[%d]", at, j)
			}
			keys[k] = i
			ev.IdempotencyKey = k
			ev.RequestHash = requestHash(ev)
		}
		events[i] = ev
	}
	return events, nil
}

// handleGetEvent is GET /v1/events/{id}.
func (s *Server) handleGetEvent(w http.ResponseWriter, r *http.Request) {
	ev, err := s.store.FindEvent(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, ev)
}

// handleReplayEvent is POST /v1/events/{id}/replay: the event is sent again
// to every endpoint that matches it now. The body, if any, must be {}.
func (s *Server) handleReplayEvent(w http.ResponseWriter, r *http.Request) {
	if err := s.decodeOptionalBody(w, r, &struct{}{}); err != nil {
		s.writeError(w, r, err)
		return
	}
	n, err := s.engine.ReplayEvent(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusAccepted, replayResponse{Deliveries: n})
}
