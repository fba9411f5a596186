package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// The states of a delivery.
const (
	StatusPending   = "pending"
	StatusDelivered = "delivered"
	StatusFailed    = "failed" // the dead-letter state, until retried or recovered
)

// Delivery is one event on its way to one endpoint.
type Delivery struct {
	ID         string `json:"id"`
	EventID    string `json:"event_id"`
	EndpointID string `json:"endpoint_id"`
	Tenant     string `json:"tenant"`
	EventType  string `json:"event_type"`
	Priority   int    `json:"priority"`
	// Status is StatusPending, StatusDelivered or StatusFailed.
	Status string `json:"status"`
	// Attempts counts the attempts made, across retries and replays.
	Attempts int `json:"attempts"`
	// NextAttemptAt is when a pending delivery is due; nil otherwise.
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	// LastStatusCode is the status of the last attempt's answer; 0 when none
	// came (or no attempt was made).
	LastStatusCode int        `json:"last_status_code"`
	LastError      string     `json:"last_error"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	DeliveredAt    *time.Time `json:"delivered_at"`
}

// DeliveryFilter selects deliveries for ListDeliveries and Deliveries; an
// empty field matches any.
type DeliveryFilter struct {
	EventID    string
	EndpointID string
	Status     string
	PageOptions
}

// ListDeliveries is GET /v1/deliveries: one page, newest first.
func (c *Client) ListDeliveries(ctx context.Context, f DeliveryFilter) (Page[*Delivery], error) {
	q := url.Values{}
	for k, v := range map[string]string{"event_id": f.EventID, "endpoint_id": f.EndpointID, "status": f.Status} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return listPage[*Delivery](ctx, c, "/v1/deliveries", q, f.PageOptions)
}

// Deliveries iterates over the deliveries of f, newest first, from
// f.Cursor on, fetching page after page.
func (c *Client) Deliveries(ctx context.Context, f DeliveryFilter) iter.Seq2[*Delivery, error] {
	return all(ctx, f.PageOptions, func(ctx context.Context, o PageOptions) (Page[*Delivery], error) {
		f.PageOptions = o
		return c.ListDeliveries(ctx, f)
	})
}

// GetDelivery is GET /v1/deliveries/{id}.
func (c *Client) GetDelivery(ctx context.Context, id string) (*Delivery, error) {
	if id == "" {
		return nil, errEmptyID
	}
	var out Delivery
	if err := c.get(ctx, pathOf("/v1/deliveries", id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Attempt is one HTTP request of a delivery.
type Attempt struct {
	// Attempt is 1 for the first.
	Attempt    int       `json:"attempt"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS float64   `json:"duration_ms"`
	// StatusCode is 0 when no answer came.
	StatusCode int `json:"status_code"`
	// Error is "" on success.
	Error string `json:"error"`
	// ResponseBody holds the first 1 KiB of the answer.
	ResponseBody string `json:"response_body"`
}

// Duration returns how long the attempt took.
func (a *Attempt) Duration() time.Duration {
	return time.Duration(a.DurationMS * float64(time.Millisecond))
}

// Attempts is GET /v1/deliveries/{id}/attempts: every attempt, first
// first.
func (c *Client) Attempts(ctx context.Context, deliveryID string) ([]Attempt, error) {
	if deliveryID == "" {
		return nil, errEmptyID
	}
	var out struct {
		Data []Attempt `json:"data"`
	}
	if err := c.get(ctx, pathOf("/v1/deliveries", deliveryID, "attempts"), nil, &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}

// RetryDelivery is POST /v1/deliveries/{id}/retry: the delivery, whatever
// its state, is pending and due now. It returns the delivery as changed.
func (c *Client) RetryDelivery(ctx context.Context, id string) (*Delivery, error) {
	if id == "" {
		return nil, errEmptyID
	}
	var out Delivery
	if err := c.call(ctx, http.MethodPost, pathOf("/v1/deliveries", id, "retry"), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
