package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookline/hookline/client"
)

// apiClient speaks Hookline's REST API to one or more nodes, with one
// client.Client per node over one shared connection pool.
type apiClient struct {
	hc    *http.Client
	nodes []*client.Client // one per node, in the order of urls
	urls  []string         // base URLs, one per node
}

func newAPIClient(urls []string, key string, conns int) (*apiClient, error) {
	t := &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	c := &apiClient{hc: &http.Client{Transport: t}, urls: urls}
	for _, u := range urls {
		n, err := client.New(u, key, client.WithHTTPClient(c.hc), client.WithUserAgent("hookline-bench"))
		if err != nil {
			return nil, fmt.Errorf("target: %w", err)
		}
		c.nodes = append(c.nodes, n)
	}
	return c, nil
}

// endpoint is an endpoint the bench registered.
type endpoint struct {
	ID  string
	Key []byte // HMAC key from its secret
}

// createEndpoints registers one endpoint per URL, subscribed to eventType,
// of tenant (empty: the default tenant), with parallel requests to the
// first node. done is called with the number created so far.
func (c *apiClient) createEndpoints(ctx context.Context, urls []string, eventType, tenant string, parallel int, done func(int)) ([]endpoint, error) {
	eps := make([]endpoint, len(urls))
	var next, created atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range min(parallel, len(urls)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(urls) || ctx.Err() != nil {
					return
				}
				res, err := c.nodes[0].CreateEndpoint(ctx, client.EndpointCreate{
					URL: urls[i], EventTypes: []string{eventType}, Description: "hookline bench", Tenant: tenant})
				if err == nil {
					eps[i].ID = res.ID
					eps[i].Key, err = secretKey(res.Secret)
				}
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("create endpoint: %w", err); cancel() })
					return
				}
				if done != nil {
					done(int(created.Add(1)))
				}
			}
		})
	}
	wg.Wait()
	return eps, firstErr
}

// deleteEndpoints removes endpoints, ignoring failures: it cleans up after a
// run against a server the bench did not start.
func (c *apiClient) deleteEndpoints(ctx context.Context, eps []endpoint, parallel int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(parallel, len(eps)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(eps) || ctx.Err() != nil {
					return
				}
				if eps[i].ID != "" {
					_ = c.nodes[0].DeleteEndpoint(ctx, eps[i].ID)
				}
			}
		})
	}
	wg.Wait()
}

// ServerStats are the figures of GET /v1/stats that the bench reports.
type ServerStats struct {
	Pending             int64         `json:"pending"`
	Delivered           int64         `json:"delivered"`
	Failed              int64         `json:"failed"`
	Events              int64         `json:"events"`
	Endpoints           int64         `json:"endpoints"`
	DeliveriesPerSecond float64       `json:"deliveries_per_second"`
	EndpointsByCircuit  CircuitCounts `json:"endpoints_by_circuit"`
	EndpointsDisabled   int64         `json:"endpoints_disabled"`
}

// CircuitCounts count endpoints by the state of their circuit breaker.
type CircuitCounts struct {
	Closed   int64 `json:"closed"`
	Open     int64 `json:"open"`
	HalfOpen int64 `json:"half_open"`
}

// stats returns GET /v1/stats of node i.
func (c *apiClient) stats(ctx context.Context, i int) (ServerStats, error) {
	s, err := c.nodes[i].Stats(ctx)
	if err != nil {
		return ServerStats{}, err
	}
	return ServerStats{
		Pending: s.Pending, Delivered: s.Delivered, Failed: s.Failed, Events: s.Events, Endpoints: s.Endpoints,
		DeliveriesPerSecond: s.DeliveriesPerSecond,
		EndpointsByCircuit: CircuitCounts{Closed: s.EndpointsByCircuit.Closed, Open: s.EndpointsByCircuit.Open,
			HalfOpen: s.EndpointsByCircuit.HalfOpen},
		EndpointsDisabled: s.EndpointsDisabled,
	}, nil
}

// endpointState is what the bench reads of one endpoint: GET
// /v1/endpoints/{id} for its health and GET /v1/endpoints/{id}/stats for
// its attempts.
type endpointState struct {
	Health struct {
		Circuit             string
		ConsecutiveFailures int
	}
	Disabled bool
	Stats    struct {
		Attempts int64
		Failures int64
		Pending  int64
		Failed   int64
	}
}

// endpointState returns the health and attempts of endpoint id, from node i.
func (c *apiClient) endpointState(ctx context.Context, i int, id string) (endpointState, error) {
	var s endpointState
	ep, err := c.nodes[i].GetEndpoint(ctx, id)
	if err != nil {
		return s, err
	}
	s.Health.Circuit, s.Health.ConsecutiveFailures, s.Disabled = ep.Health.Circuit, ep.Health.ConsecutiveFailures, ep.Disabled
	st, err := c.nodes[i].EndpointStats(ctx, id)
	if err != nil {
		return s, err
	}
	s.Stats.Attempts, s.Stats.Failures, s.Stats.Pending, s.Stats.Failed = st.Attempts, st.Failures, st.Pending, st.Failed
	return s, nil
}
