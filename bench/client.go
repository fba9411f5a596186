package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// apiClient speaks Hookline's REST API to one or more nodes.
type apiClient struct {
	hc   *http.Client
	key  string
	urls []string // base URLs, one per node
}

func newAPIClient(urls []string, key string, conns int) *apiClient {
	t := &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &apiClient{hc: &http.Client{Transport: t}, key: key, urls: urls}
}

// do sends a JSON request and decodes a JSON answer into out (when not nil
// and the status is 2xx). It returns the status code.
func (c *apiClient) do(ctx context.Context, method, url string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode answer: %w", method, url, err)
		}
	}
	return resp.StatusCode, nil
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
				var res struct{ ID, Secret string }
				body := map[string]any{"url": urls[i], "event_types": []string{eventType}, "description": "hookline bench"}
				if tenant != "" {
					body["tenant"] = tenant
				}
				_, err := c.do(ctx, "POST", c.urls[0]+"/v1/endpoints", body, &res)
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
					_, _ = c.do(ctx, "DELETE", c.urls[0]+"/v1/endpoints/"+eps[i].ID, nil, nil)
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
	var s ServerStats
	_, err := c.do(ctx, "GET", c.urls[i]+"/v1/stats", nil, &s)
	return s, err
}

// endpointState is what the bench reads of one endpoint: GET
// /v1/endpoints/{id} for its health and GET /v1/endpoints/{id}/stats for
// its attempts.
type endpointState struct {
	Health struct {
		Circuit             string `json:"circuit"`
		ConsecutiveFailures int    `json:"consecutive_failures"`
	} `json:"health"`
	Disabled bool `json:"disabled"`
	Stats    struct {
		Attempts int64 `json:"attempts"`
		Failures int64 `json:"failures"`
		Pending  int64 `json:"pending"`
		Failed   int64 `json:"failed"`
	} `json:"-"`
}

// endpointState returns the health and attempts of endpoint id, from node i.
func (c *apiClient) endpointState(ctx context.Context, i int, id string) (endpointState, error) {
	var s endpointState
	if _, err := c.do(ctx, "GET", c.urls[i]+"/v1/endpoints/"+id, nil, &s); err != nil {
		return s, err
	}
	_, err := c.do(ctx, "GET", c.urls[i]+"/v1/endpoints/"+id+"/stats", nil, &s.Stats)
	return s, err
}
