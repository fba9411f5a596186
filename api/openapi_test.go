package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/internal/openapitest"
)

// openAPIDoc is the part of openapi.json these tests read.
type openAPIDoc struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
	Comps   struct {
		Schemas map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
			Required   []string                   `json:"required"`
		} `json:"schemas"`
	} `json:"components"`
}

func readOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var d openAPIDoc
	if err := json.Unmarshal(openAPI, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// publicRoutes are the routes outside the key-guarded /v1 ones.
var publicRoutes = []string{"GET /healthz", "GET /readyz", "GET /metrics", "GET " + openAPIPath}

// TestOpenAPIRoutes fails when a route is missing from openapi.json, or the
// document names an operation that no route serves.
func TestOpenAPIRoutes(t *testing.T) {
	t.Parallel()
	d := readOpenAPI(t)
	if d.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", d.OpenAPI)
	}
	s := NewServer(Config{Metrics: http.NotFoundHandler()})
	var documented []string
	for path, item := range d.Paths {
		for method := range item {
			if method == "parameters" {
				continue
			}
			op := strings.ToUpper(method) + " " + path
			documented = append(documented, op)
			// The mux must route it to the pattern of that name.
			req := httptest.NewRequest(strings.ToUpper(method), strings.ReplaceAll(path, "{id}", "x_1"), nil)
			if _, pattern := s.mux.Handler(req); pattern != op {
				t.Errorf("documented %s is routed to %q", op, pattern)
			}
		}
	}
	routes := append(slices.Clone(s.v1Routes), publicRoutes...)
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for _, op := range documented {
		if !slices.Contains(routes, op) {
			t.Errorf("openapi.json documents %s, which is not a route", op)
		}
	}
}

// TestOpenAPIFields fails when the JSON fields of a request or an answer
// differ from the properties of its schema, or an answer's field that is
// always present is not required.
func TestOpenAPIFields(t *testing.T) {
	t.Parallel()
	d := readOpenAPI(t)
	type pair struct {
		schema string
		v      any
		answer bool // fields without omitempty must be required
	}
	pairs := []pair{
		{"Error", errorResponse{}, true},
		{"Endpoint", endpointResponse{}, true},
		{"EndpointWithSecret", endpointWithSecret{}, true},
		{"EndpointCreate", endpointRequest{}, false},
		{"EndpointUpdate", endpointRequest{}, false},
		{"EndpointList", list[endpointResponse]{}, true},
		{"Batch", batchSettings{}, false},
		{"Batch", hookline.Batch{}, true},
		{"EndpointHealth", hookline.EndpointHealth{}, true},
		{"EndpointStats", hookline.EndpointStats{}, true},
		{"Percentiles", hookline.Percentiles{}, true},
		{"Secret", secretResponse{}, true},
		{"SecretRotation", rotateRequest{}, false},
		{"RecoverRequest", recoverRequest{}, false},
		{"RecoverResult", recoverResponse{}, true},
		{"EventCreate", eventRequest{}, false},
		{"EventBatch", batchRequest{}, false},
		{"BatchEvent", batchEventRequest{}, false},
		{"IngestResult", hookline.IngestResult{}, true},
		{"IngestResults", data[hookline.IngestResult]{}, true},
		{"Event", hookline.Event{}, true},
		{"ReplayResult", replayResponse{}, true},
		{"Delivery", hookline.Delivery{}, true},
		{"DeliveryList", list[*hookline.Delivery]{}, true},
		{"Attempt", attemptJSON{}, true},
		{"AttemptList", data[attemptJSON]{}, true},
		{"CircuitCounts", hookline.CircuitCounts{}, true},
		{"NodeStats", hookline.NodeStats{}, true},
		{"OperatorStats", hookline.Stats{}, true},
		{"TenantStats", hookline.TenantStats{}, true},
		{"PortalLinkCreate", portalLinkRequest{}, false},
		{"PortalLink", portalLinkResponse{}, true},
		{"KeyCreate", keyRequest{}, false},
		{"APIKey", hookline.APIKey{}, true},
		{"CreatedAPIKey", keyResponse{}, true},
		{"KeyList", list[keyResponse]{}, true},
		{"ReplayMissingRequest", replayMissingRequest{}, false},
		{"ReplayMissingResult", replayMissingResponse{}, true},
		{"EventList", list[*hookline.Event]{}, true},
		{"DeliveryCount", countResponse{}, true},
		{"BulkRetryRequest", bulkRetryRequest{}, false},
		{"BulkRetryResult", bulkRetryResponse{}, true},
		{"EventType", hookline.EventType{}, true},
		{"EventTypeCreate", eventTypeRequest{}, false},
		{"EventTypeUpdate", eventTypeRequest{}, false},
		{"EventTypeList", list[*hookline.EventType]{}, true},
		{"Health", healthResponse{}, true},
		{"Readiness", readyResponse{}, true},
	}
	for _, p := range pairs {
		sc, ok := d.Comps.Schemas[p.schema]
		if !ok {
			t.Errorf("no schema %s", p.schema)
			continue
		}
		fields, always := jsonFields(reflect.TypeOf(p.v))
		var props []string
		for name := range sc.Properties {
			props = append(props, name)
		}
		slices.Sort(props)
		if !slices.Equal(fields, props) {
			t.Errorf("schema %s has %v; %T has %v", p.schema, props, p.v, fields)
		}
		if !p.answer {
			continue
		}
		for _, f := range always {
			if !slices.Contains(sc.Required, f) {
				t.Errorf("schema %s: %s is always in the answer but not required", p.schema, f)
			}
		}
		for _, f := range sc.Required {
			// A created key's key is left out of lists only.
			if !slices.Contains(always, f) && !(p.schema == "CreatedAPIKey" && f == "key") {
				t.Errorf("schema %s: %s is required but left out when empty", p.schema, f)
			}
		}
	}
}

// jsonFields returns the names encoding/json gives t's fields, sorted, and
// those without omitempty.
func jsonFields(t reflect.Type) (all, always []string) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" {
			a, b := jsonFields(f.Type)
			all, always = append(all, a...), append(always, b...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		all = append(all, name)
		if !strings.Contains(opts, "omitempty") {
			always = append(always, name)
		}
	}
	slices.Sort(all)
	return all, always
}

// TestOpenAPIDocument loads and validates the document with kin-openapi,
// examples included.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	doc, err := openapitest.Load(context.Background(), openAPI)
	if err != nil {
		t.Fatal(err)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" || op.Summary == "" || op.Description == "" {
				t.Errorf("%s %s: operationId, summary and description are required", method, path)
			}
		}
	}
}

// TestOpenAPIServed checks that GET /v1/openapi.json serves the document
// without a key, and that answers of the API match it.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	srv := setup(t).srv
	res, err := http.Get(srv.URL + openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" || string(body) != string(openAPI) {
		t.Fatalf("GET %s: %d %s", openAPIPath, res.StatusCode, res.Header)
	}
	// Another method is 405, and other /v1 paths still need the key.
	res, _ = http.Post(srv.URL+openAPIPath, "application/json", strings.NewReader("{}"))
	res.Body.Close()
	if res.StatusCode != 405 {
		t.Fatalf("POST %s: %d", openAPIPath, res.StatusCode)
	}
	res, _ = http.Get(srv.URL + "/v1/openapi.jsonx")
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("GET /v1/openapi.jsonx without a key: %d", res.StatusCode)
	}

	// Answers, errors included, match the document.
	v := openapitest.New(t, openAPI, srv.URL)
	hc := &http.Client{Transport: v.Transport(nil)}
	send := func(method, path, body, key string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	send("POST", "/v1/endpoints", `{"url":"https://example.com/hook","event_types":["a.*"]}`, testKey)
	send("POST", "/v1/endpoints", `{"url":"ftp://example.com/"}`, testKey)
	send("GET", "/v1/endpoints", "", testKey)
	send("GET", "/v1/endpoints", "", "")
	send("GET", "/v1/endpoints/ep_01JJY3PWG0HWGF37A6AGGPAECQ", "", testKey)
	send("POST", "/v1/events", `{"type":"a.b","data":{"n":1}}`, testKey)
	send("POST", "/v1/events", `{"type":"a.b"}`, testKey)
	send("GET", "/v1/deliveries?status=pending", "", testKey)
	send("GET", "/v1/stats", "", testKey)
	send("POST", "/v1/keys", `{"tenant":"acme"}`, testKey)
	send("GET", "/v1/keys", "", testKey)
	send("GET", "/healthz", "", "")
	send("GET", "/readyz", "", "")
	send("GET", openAPIPath, "", "")
	if n := len(v.Checked()); n < 10 {
		t.Fatalf("%d operations checked: %v", n, v.Checked())
	}
}
