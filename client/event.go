package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

// EventCreate is an event to send. Type and Data are required.
type EventCreate struct {
	// Type is the event's type, such as "invoice.paid".
	Type string
	// Data is any JSON value but null. It is sent, stored and delivered
	// byte for byte as given; the server refuses what is not JSON.
	Data json.RawMessage
	// Tenant is the tenant whose endpoints receive it; "" is the default
	// tenant (or, with a tenant's API key, that tenant).
	Tenant string
	// Priority orders work, 0 to 9, higher first; nil is 5.
	Priority *int
	// OrderingKey groups the deliveries a fifo endpoint sends one at a
	// time, in order; "" is one shared key.
	OrderingKey string
	// IdempotencyKey, when set, makes a repeat of the same event within 24 h
	// return the first answer instead of sending it again (and the same key
	// with another event a conflict). SendEvent sends it as the
	// Idempotency-Key header, SendEvents as each event's idempotency_key.
	IdempotencyKey string
}

// IngestResult is the answer for one event sent.
type IngestResult struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	// Deliveries is how many endpoints the event is on its way to.
	Deliveries int `json:"deliveries"`
	// Replayed reports that the idempotency key matched an earlier event,
	// whose answer this is; nothing was sent again.
	Replayed bool `json:"-"`
}

// errNoType is the error of an event without a type.
var errNoType = errors.New("client: an event needs a Type")

// SendEvent is POST /v1/events: the event is durable once it returns.
func (c *Client) SendEvent(ctx context.Context, e EventCreate) (*IngestResult, error) {
	if e.Type == "" {
		return nil, errNoType
	}
	body := appendEvent(make([]byte, 0, 64+len(e.Data)), &e, false)
	r := request{method: http.MethodPost, path: "/v1/events", body: body, auth: true}
	if e.IdempotencyKey != "" {
		r.header = http.Header{"Idempotency-Key": {e.IdempotencyKey}}
	}
	var out IngestResult
	h, err := c.do(ctx, r, &out)
	if err != nil {
		return nil, err
	}
	out.Replayed = h.Get("Idempotent-Replayed") == "true"
	return &out, nil
}

// SendEvents is POST /v1/events/batch: 1 to 1000 events, all accepted or
// none. With idempotencyKey K, event i without its own IdempotencyKey gets
// the key "K#i". It returns one result per event, in order; when every
// event was a replay, each is marked Replayed.
func (c *Client) SendEvents(ctx context.Context, events []EventCreate, idempotencyKey string) ([]IngestResult, error) {
	for i := range events {
		if events[i].Type == "" {
			return nil, fmt.Errorf("events[%d]: %w", i, errNoType)
		}
	}
	size := 16
	for i := range events {
		size += 80 + len(events[i].Data)
	}
	b := append(make([]byte, 0, size), `{"events":[`...)
	for i := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendEvent(b, &events[i], true)
	}
	b = append(b, "]}"...)
	r := request{method: http.MethodPost, path: "/v1/events/batch", body: b, auth: true}
	if idempotencyKey != "" {
		r.header = http.Header{"Idempotency-Key": {idempotencyKey}}
	}
	var out struct {
		Data []IngestResult `json:"data"`
	}
	h, err := c.do(ctx, r, &out)
	if err != nil {
		return nil, err
	}
	if len(out.Data) != len(events) {
		return nil, fmt.Errorf("POST /v1/events/batch: %d results for %d events", len(out.Data), len(events))
	}
	if h.Get("Idempotent-Replayed") == "true" {
		for i := range out.Data {
			out.Data[i].Replayed = true
		}
	}
	return out.Data, nil
}

// appendEvent appends the JSON of an event, with its idempotency_key when
// in a batch. It writes the fields itself, Data as given, so that sending
// an event costs no reflection (hookline bench sends thousands a second).
func appendEvent(b []byte, e *EventCreate, batch bool) []byte {
	b = append(b, `{"type":`...)
	b = appendString(b, e.Type)
	if len(e.Data) > 0 {
		b = append(b, `,"data":`...)
		b = append(b, e.Data...)
	}
	if e.Tenant != "" {
		b = append(b, `,"tenant":`...)
		b = appendString(b, e.Tenant)
	}
	if e.Priority != nil {
		b = append(b, `,"priority":`...)
		b = strconv.AppendInt(b, int64(*e.Priority), 10)
	}
	if e.OrderingKey != "" {
		b = append(b, `,"ordering_key":`...)
		b = appendString(b, e.OrderingKey)
	}
	if batch && e.IdempotencyKey != "" {
		b = append(b, `,"idempotency_key":`...)
		b = appendString(b, e.IdempotencyKey)
	}
	return append(b, '}')
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			v, _ := json.Marshal(s) // a string: cannot fail
			return append(b, v...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Event is an event as the API shows it.
type Event struct {
	ID     string          `json:"id"`
	Tenant string          `json:"tenant"`
	Type   string          `json:"type"`
	Data   json.RawMessage `json:"data"`
	// CreatedAt is when it was accepted.
	CreatedAt time.Time `json:"created_at"`
	// Deliveries is how many deliveries it fanned out to when accepted
	// (replays are not counted).
	Deliveries  int    `json:"deliveries"`
	Priority    int    `json:"priority"`
	OrderingKey string `json:"ordering_key"`
}

// GetEvent is GET /v1/events/{id}.
func (c *Client) GetEvent(ctx context.Context, id string) (*Event, error) {
	if id == "" {
		return nil, errEmptyID
	}
	var out Event
	if err := c.get(ctx, pathOf("/v1/events", id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ReplayEvent is POST /v1/events/{id}/replay: the event is sent again to
// every endpoint that matches it now. It returns how many deliveries that
// made.
func (c *Client) ReplayEvent(ctx context.Context, id string) (int, error) {
	if id == "" {
		return 0, errEmptyID
	}
	var out struct {
		Deliveries int `json:"deliveries"`
	}
	if err := c.call(ctx, http.MethodPost, pathOf("/v1/events", id, "replay"), nil, &out); err != nil {
		return 0, err
	}
	return out.Deliveries, nil
}
