// Package client is a Go client of Hookline's REST API: every route of
// /v1 (endpoints, events, deliveries, keys, stats, portal links), /healthz
// and /readyz, with typed requests and answers.
//
// Every method takes a context. An error the API answers with
// ({"error":"<code>","message":"…"}) is returned as an *Error, which
// carries the code (one of the hookline.E* constants: "invalid",
// "not_found", …), the message and the HTTP status; any other error is a
// transport or decoding failure. Lists are iterators (iter.Seq2) that follow
// next_cursor page by page, or one page at a time with the List* methods.
//
//	c, err := client.New("http://127.0.0.1:8080", os.Getenv("HOOKLINE_API_KEY"))
//	ep, err := c.CreateEndpoint(ctx, client.EndpointCreate{URL: "https://example.com/hook"})
//	res, err := c.SendEvent(ctx, client.EventCreate{Type: "invoice.paid", Data: json.RawMessage(`{"n":1}`), IdempotencyKey: "order-1"})
//	for d, err := range c.Deliveries(ctx, client.DeliveryFilter{EventID: res.ID}) { … }
//
// A Client is safe for concurrent use.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/hookline/hookline"
)

// maxAnswer bounds what is read of an answer: a page of 1000 deliveries or
// an event of the largest payload fits many times over.
const maxAnswer = 64 << 20

// Client speaks Hookline's REST API at one base URL with one API key.
// Build it with New.
type Client struct {
	base      string // without a trailing slash
	key       string
	hc        *http.Client
	userAgent string
}

// Option adjusts a Client made by New.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests with hc instead of
// http.DefaultClient (for its transport, timeouts or connection pool).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithUserAgent sets the User-Agent of every request; the default is
// "hookline-client/<version>".
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a Client of the API at baseURL (such as
// "http://127.0.0.1:8080", or "https://hooks.example.com/hookline" behind a
// proxy that serves it under a path) that sends apiKey as "Authorization:
// Bearer <apiKey>". An empty apiKey sends no Authorization header: only
// /healthz, /readyz and /v1/openapi.json answer then.
func New(baseURL, apiKey string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q: want http:// or https:// and a host, such as http://127.0.0.1:8080", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: base URL %q: must not have a query or a fragment", baseURL)
	}
	c := &Client{base: strings.TrimRight(baseURL, "/"), key: apiKey, hc: http.DefaultClient,
		userAgent: "hookline-client/" + hookline.Version}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// BaseURL returns the base URL the Client was made with, without a
// trailing slash.
func (c *Client) BaseURL() string { return c.base }

// request is one API call.
type request struct {
	method, path string
	query        url.Values
	body         []byte // nil: none
	header       http.Header
	auth         bool // send the API key
}

// do sends r and decodes a 2xx answer into out (when not nil). It returns
// the answer's header. A non-2xx answer is an *Error.
func (c *Client) do(ctx context.Context, r request, out any) (http.Header, error) {
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if r.auth && c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err // *url.Error names the method and URL
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return resp.Header, fmt.Errorf("%s %s: read the answer: %w", r.method, r.path, err)
	} else if len(b) > maxAnswer {
		return resp.Header, fmt.Errorf("%s %s: the answer is larger than %d bytes", r.method, r.path, maxAnswer)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.Header, newError(resp, b)
	}
	if out != nil {
		if raw, ok := out.(*[]byte); ok {
			*raw = b
		} else if err := json.Unmarshal(b, out); err != nil {
			return resp.Header, fmt.Errorf("%s %s: decode the answer (%d): %w", r.method, r.path, resp.StatusCode, err)
		}
	}
	return resp.Header, nil
}

// call is do for a /v1 route with the API key and a JSON body (nil: none).
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	r := request{method: method, path: path, auth: true}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encode the request: %w", method, path, err)
		}
		r.body = b
	}
	_, err := c.do(ctx, r, out)
	return err
}

// get is do for a GET of a /v1 route with the API key.
func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	_, err := c.do(ctx, request{method: http.MethodGet, path: path, query: q, auth: true}, out)
	return err
}

// pathOf joins a route and an ID, escaping the ID.
func pathOf(prefix, id string, suffix ...string) string {
	p := prefix + "/" + url.PathEscape(id)
	for _, s := range suffix {
		p += "/" + s
	}
	return p
}

// errEmptyID is the error of a method called with an empty ID, which would
// name another route.
var errEmptyID = errors.New("client: an ID is required")

// Health checks GET /healthz: nil while the server answers 200.
func (c *Client) Health(ctx context.Context) error {
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/healthz"}, nil)
	return err
}

// Readiness is the answer of GET /readyz.
type Readiness struct {
	// Status is "ready" or "unavailable".
	Status string `json:"status"`
	// Detail describes the node and the store, as the server reports them.
	Detail json.RawMessage `json:"detail"`
}

// Ready returns GET /readyz. A node that is not ready answers 503: Ready
// then returns its Readiness and an *Error with the code "unavailable".
func (c *Client) Ready(ctx context.Context) (*Readiness, error) {
	var r Readiness
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/readyz"}, &r)
	var e *Error
	if errors.As(err, &e) && e.StatusCode == http.StatusServiceUnavailable {
		if json.Unmarshal(e.body, &r) == nil && r.Status != "" {
			return &r, &Error{StatusCode: e.StatusCode, Code: hookline.EUNAVAILABLE, Message: "the node is not ready", RetryAfter: e.RetryAfter}
		}
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// OpenAPI returns the OpenAPI 3.1 document of the API, GET
// /v1/openapi.json, as served (it needs no API key).
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	var b []byte
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/openapi.json"}, &b)
	return b, err
}
