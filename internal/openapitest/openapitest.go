// Package openapitest checks real requests and answers against the OpenAPI
// document of the API (api.OpenAPI(), passed in, as package api's own
// tests use it too) with kin-openapi, for tests: a
// RoundTripper for a client in the test process, and a reverse proxy for a
// client that is another process (the hookline CLI).
//
// An answer is checked against the operation it answers: its status must
// be documented and its body and headers must match the schema. A request
// is checked too; one the document calls invalid is an error only when the
// server accepted it (2xx), since tests send wrong requests on purpose to
// see them refused.
package openapitest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Validator checks exchanges with the server at one base URL.
type Validator struct {
	t      testing.TB
	router routers.Router

	mu      sync.Mutex
	checked map[string]int // "METHOD /path/{template}" → exchanges checked
}

// Load returns the document doc (api.OpenAPI()), loaded and validated by
// kin-openapi, examples included.
func Load(ctx context.Context, doc []byte) (*openapi3.T, error) {
	l := openapi3.NewLoader()
	d, err := l.LoadFromData(doc)
	if err != nil {
		return nil, fmt.Errorf("load openapi.json: %w", err)
	}
	if err := d.Validate(ctx, openapi3.EnableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	return d, nil
}

// New returns a Validator of the API at baseURL ("http://127.0.0.1:…")
// against the document spec (api.OpenAPI()). Mismatches are reported with
// t.Errorf.
func New(t testing.TB, spec []byte, baseURL string) *Validator {
	t.Helper()
	doc, err := Load(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = openapi3.Servers{{URL: baseURL}}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &Validator{t: t, router: r, checked: map[string]int{}}
}

// Checked returns how many exchanges were checked, by operation
// ("GET /v1/endpoints/{id}").
func (v *Validator) Checked() map[string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]int, len(v.checked))
	for k, n := range v.checked {
		out[k] = n
	}
	return out
}

// check validates one exchange. req's body is reqBody; the answer's is
// respBody.
func (v *Validator) check(req *http.Request, reqBody []byte, status int, h http.Header, respBody []byte) {
	v.t.Helper()
	ctx := context.Background()
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		if status < 400 {
			v.t.Errorf("openapi: %s %s answered %d but is not in the document: %v", req.Method, req.URL.Path, status, err)
		}
		return
	}
	v.mu.Lock()
	v.checked[req.Method+" "+route.Path]++
	v.mu.Unlock()
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil && status/100 == 2 {
		v.t.Errorf("openapi: %s %s: the server accepted (%d) a request the document calls invalid: %v\nbody: %s", req.Method, req.URL.Path, status, err, clip(reqBody))
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: h, Body: io.NopCloser(bytes.NewReader(respBody)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if req.Method == http.MethodHead {
		return
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		v.t.Errorf("openapi: %s %s: the answer %d does not match the document: %v\nbody: %s", req.Method, req.URL.Path, status, err, clip(respBody))
	}
}

func clip(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}

// Transport returns a RoundTripper that sends with base
// (http.DefaultTransport when nil) and checks every exchange.
func (v *Validator) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		reqBody, err := readAll(&req.Body)
		if err != nil {
			return nil, err
		}
		resp, err := base.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		respBody, err := readAll(&resp.Body)
		if err != nil {
			return nil, err
		}
		check := req.Clone(req.Context())
		v.check(check, reqBody, resp.StatusCode, resp.Header, respBody)
		return resp, nil
	})
}

// Proxy starts a reverse proxy to target that checks every exchange, for a
// client in another process; it is closed when the test ends.
func (v *Validator) Proxy(target string) *httptest.Server {
	u, err := url.Parse(target)
	if err != nil {
		v.t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	var front *httptest.Server
	rp.Transport = roundTripper(func(req *http.Request) (*http.Response, error) {
		reqBody, err := readAll(&req.Body)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		respBody, err := readAll(&resp.Body)
		if err != nil {
			return nil, err
		}
		// Checked as the client sent it: to the server named in the document.
		check := req.Clone(req.Context())
		check.URL.Scheme, check.URL.Host, check.Host = "http", u.Host, u.Host
		v.check(check, reqBody, resp.StatusCode, resp.Header, respBody)
		return resp, nil
	})
	front = httptest.NewServer(rp)
	v.t.Cleanup(front.Close)
	return front
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// readAll reads *body and replaces it with a reader of the same bytes.
func readAll(body *io.ReadCloser) ([]byte, error) {
	if *body == nil || *body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(*body)
	(*body).Close()
	*body = io.NopCloser(bytes.NewReader(b))
	return b, err
}
