package client

import (
	"context"
	"net/http"
	"time"
)

// Stats is the answer of GET /v1/stats. With the operator key it holds the
// figures of the whole service and Node; with a tenant's key, Tenant and
// the figures of that tenant's endpoints (Delivered, Events and LatencyMS
// are zero and Node nil then; Attempts and Failures are set).
type Stats struct {
	// Tenant is the tenant of the key; "" for the operator key.
	Tenant string `json:"tenant"`
	// Pending, Delivered and Failed count deliveries now (of every node).
	Pending   int64 `json:"pending"`
	Delivered int64 `json:"delivered"`
	Failed    int64 `json:"failed"`
	Events    int64 `json:"events"`
	Endpoints int64 `json:"endpoints"`
	// EndpointsByCircuit counts endpoints by circuit state.
	EndpointsByCircuit struct {
		Closed   int64 `json:"closed"`
		Open     int64 `json:"open"`
		HalfOpen int64 `json:"half_open"`
	} `json:"endpoints_by_circuit"`
	EndpointsDisabled int64 `json:"endpoints_disabled"`
	// DeliveriesPerSecond is the rate of successful deliveries over the
	// last minute (of this node, for the operator key).
	DeliveriesPerSecond float64 `json:"deliveries_per_second"`
	// LatencyMS holds percentiles of accepted → delivered over the last
	// minute.
	LatencyMS Percentiles `json:"latency_ms"`
	// SuccessRate is the share of attempts that succeeded: over the last
	// minute (operator) or hour (tenant); 1 when there were none.
	SuccessRate float64 `json:"success_rate"`
	// Attempts and Failures count a tenant's attempts of the last hour.
	Attempts int64 `json:"attempts"`
	Failures int64 `json:"failures"`
	// Node is the answering node's share of the work (operator key only).
	Node *NodeStats `json:"node"`
}

// NodeStats describe one node of Hookline.
type NodeStats struct {
	ID         string `json:"id"`
	Partitions int    `json:"partitions"`
	InMemory   int    `json:"in_memory"`
	InFlight   int    `json:"in_flight"`
}

// Stats is GET /v1/stats.
func (c *Client) Stats(ctx context.Context) (*Stats, error) {
	var out Stats
	if err := c.get(ctx, "/v1/stats", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PortalLink is the answer of CreatePortalLink.
type PortalLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CreatePortalLink is POST /v1/portal-links: a signed link to the customer
// portal of tenant, valid for expiresIn (1 min to 168 h; 0 is 1 h). With
// a tenant's API key, tenant may be "" for the key's own.
func (c *Client) CreatePortalLink(ctx context.Context, tenant string, expiresIn time.Duration) (*PortalLink, error) {
	body := map[string]string{}
	if tenant != "" {
		body["tenant"] = tenant
	}
	if expiresIn != 0 {
		body["expires_in"] = expiresIn.String()
	}
	var out PortalLink
	if err := c.call(ctx, http.MethodPost, "/v1/portal-links", body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
