package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/signature"
)

// endpointJSON is an endpoint as the API shows it.
type endpointJSON struct {
	ID          string    `json:"id"`
	Tenant      string    `json:"tenant"`
	URL         string    `json:"url"`
	Description string    `json:"description"`
	EventTypes  []string  `json:"event_types"`
	Disabled    bool      `json:"disabled"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Secret      string    `json:"secret"`

	DisabledReason string          `json:"disabled_reason"`
	RateLimit      float64         `json:"rate_limit"`
	MaxInFlight    *int            `json:"max_in_flight"`
	Health         *healthJSON     `json:"health"`
	Filter         json.RawMessage `json:"filter"`
}

// healthJSON is an endpoint's health as the API shows it.
type healthJSON struct {
	Circuit             string     `json:"circuit"`
	ConsecutiveFailures *int       `json:"consecutive_failures"`
	FailingSince        *time.Time `json:"failing_since"`
	LastSuccessAt       *time.Time `json:"last_success_at"`
}

// createEndpoint creates an endpoint and returns the answer.
// TestEndpointFilter checks the filter field: kept compacted, shown on the
// endpoint, changed and removed by PATCH, left alone by a PATCH without it.
func TestEndpointFilter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.createEndpoint(t, `{"url":"https://example.com/","filter":{ "data": {"amount": {"$gte": 1000}} }}`)
	if string(ep.Filter) != `{"data":{"amount":{"$gte":1000}}}` {
		t.Fatalf("filter %s", ep.Filter)
	}
	var got endpointJSON
	b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, `{"description":"x"}`).ok(t, 200, &got)
	if string(got.Filter) != string(ep.Filter) {
		t.Fatalf("a PATCH without filter changed it to %s", got.Filter)
	}
	b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, `{"filter":{"type":"a"}}`).ok(t, 200, &got)
	if string(got.Filter) != `{"type":"a"}` {
		t.Fatalf("filter after PATCH: %s", got.Filter)
	}
	b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, `{"filter":{"data":{"x":{"$in":3}}}}`).wantError(t, 400, hookline.EINVALID, "filter.data.x.$in")
	b.do(t, "GET", "/v1/endpoints/"+ep.ID, "").ok(t, 200, &got)
	if string(got.Filter) != `{"type":"a"}` {
		t.Fatalf("a refused PATCH changed the filter to %s", got.Filter)
	}
	for _, none := range []string{`null`, `{}`} {
		b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, `{"filter":`+none+`}`).ok(t, 200, &got)
		if string(got.Filter) != "null" && len(got.Filter) != 0 {
			t.Fatalf("filter after PATCH %s: %s", none, got.Filter)
		}
	}
}

func (b *bundle) createEndpoint(t *testing.T, body string) endpointJSON {
	t.Helper()
	var ep endpointJSON
	b.do(t, "POST", "/v1/endpoints", body).ok(t, 201, &ep)
	return ep
}

func TestCreateEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("Generated", func(t *testing.T) {
		res := b.do(t, "POST", "/v1/endpoints", `{"url":"https://example.com/hook","event_types":["invoice.*","order.paid"],"description":"billing","tenant":"acme"}`)
		var ep endpointJSON
		res.ok(t, 201, &ep)
		if !strings.HasPrefix(ep.ID, hookline.EndpointPrefix) || ep.URL != "https://example.com/hook" || ep.Tenant != "acme" ||
			ep.Description != "billing" || strings.Join(ep.EventTypes, ",") != "invoice.*,order.paid" || ep.Disabled ||
			ep.CreatedAt.IsZero() || !ep.CreatedAt.Equal(ep.UpdatedAt) {
			t.Fatalf("created %+v", ep)
		}
		if _, err := signature.ParseSecret(ep.Secret); err != nil {
			t.Fatalf("generated secret %q: %v", ep.Secret, err)
		}
		if got := res.header.Get("Location"); got != "/v1/endpoints/"+ep.ID {
			t.Fatalf("Location %q", got)
		}
		if got := res.header.Get("Cache-Control"); got != "no-store" {
			t.Fatalf("Cache-Control %q", got)
		}
		stored, err := b.store.FindEndpoint(context.Background(), ep.ID)
		if err != nil || stored.Secret != ep.Secret || stored.URL != ep.URL {
			t.Fatalf("stored %+v, %v", stored, err)
		}
		if changed, ok := b.engine.lastChange(ep.ID); !ok || changed == nil || changed.Secret != ep.Secret {
			t.Fatalf("engine not told of the new endpoint: %+v %v", changed, ok)
		}
	})
	t.Run("GivenSecret", func(t *testing.T) {
		secret := signature.GenerateSecret()
		ep := b.createEndpoint(t, `{"url":"http://example.com:8080/x?y=1","secret":"`+secret+`","disabled":true}`)
		if ep.Secret != secret || !ep.Disabled || ep.EventTypes == nil || len(ep.EventTypes) != 0 {
			t.Fatalf("created %+v", ep)
		}
	})
	t.Run("Controls", func(t *testing.T) {
		ep := b.createEndpoint(t, `{"url":"https://example.com/c","rate_limit":20.5,"max_in_flight":4}`)
		if ep.RateLimit != 20.5 || ep.MaxInFlight == nil || *ep.MaxInFlight != 4 || ep.DisabledReason != "" {
			t.Fatalf("created %+v", ep)
		}
		if ep.Health == nil || ep.Health.Circuit != "closed" || ep.Health.ConsecutiveFailures == nil ||
			*ep.Health.ConsecutiveFailures != 0 || ep.Health.FailingSince != nil {
			t.Fatalf("health of a new endpoint %+v", ep.Health)
		}
		var got endpointJSON
		b.do(t, "GET", "/v1/endpoints/"+ep.ID, "").ok(t, 200, &got)
		if got.RateLimit != 20.5 || got.MaxInFlight == nil || *got.MaxInFlight != 4 || got.Health == nil || got.Health.Circuit != "closed" {
			t.Fatalf("read back %+v", got)
		}
		def := b.createEndpoint(t, `{"url":"https://example.com/d"}`)
		if def.RateLimit != 0 || def.MaxInFlight != nil {
			t.Fatalf("defaults: rate_limit %v, max_in_flight %v (absent: the server's)", def.RateLimit, def.MaxInFlight)
		}
	})
	t.Run("OrderingAndBatch", func(t *testing.T) {
		var ep map[string]any
		b.do(t, "POST", "/v1/endpoints", `{"url":"https://example.com/o","ordering":"fifo","batch":{"max_events":10,"max_wait_ms":250}}`).ok(t, 201, &ep)
		if ep["ordering"] != "fifo" || fmt.Sprint(ep["batch"]) != "map[max_events:10 max_wait_ms:250]" {
			t.Fatalf("created %v", ep)
		}
		path := "/v1/endpoints/" + ep["id"].(string)
		b.do(t, "PATCH", path, `{"description":"x"}`).ok(t, 200, &ep)
		if ep["batch"] == nil {
			t.Fatal("a PATCH without batch turned batching off")
		}
		b.do(t, "PATCH", path, `{"batch":null,"ordering":"none"}`).ok(t, 200, &ep)
		if ep["batch"] != nil || ep["ordering"] != "none" {
			t.Fatalf("after batch null: %v", ep)
		}
		var plain map[string]any
		b.do(t, "POST", "/v1/endpoints", `{"url":"https://example.com/p"}`).ok(t, 201, &plain)
		if plain["ordering"] != "none" || plain["batch"] != nil {
			t.Fatalf("defaults: %v", plain)
		}
	})
	t.Run("DisabledIsManual", func(t *testing.T) {
		ep := b.createEndpoint(t, `{"url":"https://example.com/m","disabled":true}`)
		if !ep.Disabled || ep.DisabledReason != hookline.DisabledManual {
			t.Fatalf("created disabled: %+v", ep)
		}
	})
	t.Run("AllTypes", func(t *testing.T) {
		ep := b.createEndpoint(t, `{"url":"https://example.com/","event_types":["*"]}`)
		if len(ep.EventTypes) != 1 || ep.EventTypes[0] != "*" {
			t.Fatalf("event_types %v", ep.EventTypes)
		}
	})
}

func TestCreateEndpointInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tooMany := `"a"` + strings.Repeat(`,"a"`, MaxEventTypes)
	for _, tt := range []struct {
		name, body string
		want       []string // parts of the message
	}{
		{"MissingURL", `{"event_types":["a"]}`, []string{"url: required"}},
		{"EmptyURL", `{"url":""}`, []string{"url: required"}},
		{"NullURL", `{"url":null}`, []string{"url: required"}},
		{"BadURL", `{"url":"http://[::1"}`, []string{"url: not a valid URL"}},
		{"ControlInURL", `{"url":"https://example.com/\u0001"}`, []string{"url: not a valid URL"}},
		{"BadScheme", `{"url":"ftp://example.com/x"}`, []string{"url:", "scheme", `"ftp"`}},
		{"RelativeURL", `{"url":"/hook"}`, []string{"url:", "absolute"}},
		{"NoScheme", `{"url":"example.com/hook"}`, []string{"url:", "absolute"}},
		{"NoHost", `{"url":"https:///hook"}`, []string{"url: must have a host"}},
		{"Credentials", `{"url":"https://user:pw@example.com/"}`, []string{"url:", "credentials"}},
		{"LongURL", `{"url":"https://example.com/` + strings.Repeat("x", MaxURL) + `"}`, []string{"url:", "2048"}},
		{"PrivateURL", `{"url":"http://10.0.0.1/hook"}`, []string{"url:", "--allow-private-networks"}},
		{"BadSecret", `{"url":"https://example.com/","secret":"hunter2"}`, []string{"secret:", "whsec_"}},
		{"BadSecretBase64", `{"url":"https://example.com/","secret":"whsec_!!!"}`, []string{"secret: must be standard base64"}},
		{"ShortSecret", `{"url":"https://example.com/","secret":"whsec_c2hvcnQ="}`, []string{"secret: key must be 24 to 64 bytes"}},
		{"BadEventType", `{"url":"https://example.com/","event_types":["invoice paid"]}`, []string{"event_types[0]:", "invoice paid"}},
		{"EmptyEventType", `{"url":"https://example.com/","event_types":["a",""]}`, []string{"event_types[1]:"}},
		{"InnerWildcard", `{"url":"https://example.com/","event_types":["inv*"]}`, []string{"event_types[0]:"}},
		{"BareWildcardSuffix", `{"url":"https://example.com/","event_types":[".*"]}`, []string{"event_types[0]:"}},
		{"TwoWildcards", `{"url":"https://example.com/","event_types":["a.*.*"]}`, []string{"event_types[0]:"}},
		{"TooManyEventTypes", `{"url":"https://example.com/","event_types":[` + tooMany + `]}`, []string{"event_types:", "100"}},
		{"BadTenant", `{"url":"https://example.com/","tenant":"a b"}`, []string{"tenant:"}},
		{"LongDescription", `{"url":"https://example.com/","description":"` + strings.Repeat("x", MaxDescription+1) + `"}`, []string{"description:"}},
		{"UnknownField", `{"url":"https://example.com/","colour":"red"}`, []string{"colour: unknown field"}},
		{"WrongTypeURL", `{"url":5}`, []string{"url: must be a string, not number"}},
		{"WrongTypeEventTypes", `{"url":"https://example.com/","event_types":"a"}`, []string{"event_types: must be an array, not string"}},
		{"WrongTypeEventType", `{"url":"https://example.com/","event_types":[1]}`, []string{"event_types: must be a string, not number"}},
		{"WrongTypeDisabled", `{"url":"https://example.com/","disabled":"yes"}`, []string{"disabled: must be true or false, not string"}},
		{"NotAnObject", `["https://example.com/"]`, []string{"request body: must be an object, not array"}},
		{"Syntax", `{"url":"https://example.com/",}`, []string{"request body: invalid JSON at offset"}},
		{"Truncated", `{"url":"https://example.com/"`, []string{"request body: the JSON ends early"}},
		{"Trailing", `{"url":"https://example.com/"} {"url":"https://example.com/"}`, []string{"request body: unexpected data after the JSON value"}},
		{"TrailingGarbage", `{"url":"https://example.com/"}x`, []string{"request body: unexpected data"}},
		{"Whitespace", "  \n ", []string{"request body: empty"}},
		{"NegativeRateLimit", `{"url":"https://example.com/","rate_limit":-1}`, []string{"rate_limit:", "0", "100000"}},
		{"HugeRateLimit", `{"url":"https://example.com/","rate_limit":100001}`, []string{"rate_limit:"}},
		{"StringRateLimit", `{"url":"https://example.com/","rate_limit":"20"}`, []string{"rate_limit: must be a number"}},
		{"ZeroMaxInFlight", `{"url":"https://example.com/","max_in_flight":0}`, []string{"max_in_flight:", "1 to 1000"}},
		{"HugeMaxInFlight", `{"url":"https://example.com/","max_in_flight":1001}`, []string{"max_in_flight:"}},
		{"FractionalMaxInFlight", `{"url":"https://example.com/","max_in_flight":2.5}`, []string{"max_in_flight: must be an integer"}},
		{"BadOrdering", `{"url":"https://example.com/","ordering":"lifo"}`, []string{"ordering:", "fifo"}},
		{"BatchNotObject", `{"url":"https://example.com/","batch":5}`, []string{"batch: must be an object"}},
		{"BatchMissingEvents", `{"url":"https://example.com/","batch":{"max_wait_ms":10}}`, []string{"batch.max_events: required"}},
		{"BatchMissingWait", `{"url":"https://example.com/","batch":{"max_events":10}}`, []string{"batch.max_wait_ms: required"}},
		{"BatchTooSmall", `{"url":"https://example.com/","batch":{"max_events":1,"max_wait_ms":10}}`, []string{"batch.max_events:", "2 to 1000"}},
		{"BatchTooBig", `{"url":"https://example.com/","batch":{"max_events":1001,"max_wait_ms":10}}`, []string{"batch.max_events:"}},
		{"BatchWaitTooLong", `{"url":"https://example.com/","batch":{"max_events":10,"max_wait_ms":60001}}`, []string{"batch.max_wait_ms:", "60000"}},
		{"BatchUnknownField", `{"url":"https://example.com/","batch":{"max_events":10,"max_wait_ms":1,"size":3}}`, []string{"batch.size: unknown field"}},
		{"FilterNotObject", `{"url":"https://example.com/","filter":[1]}`, []string{"filter: must be an object of fields"}},
		{"FilterUnknownField", `{"url":"https://example.com/","filter":{"id":"x"}}`, []string{"filter.id: unknown field"}},
		{"FilterBadOperand", `{"url":"https://example.com/","filter":{"data":{"amount":{"$gte":true}}}}`, []string{"filter.data.amount.$gte: must be a number or a string"}},
		{"FilterUnknownOperator", `{"url":"https://example.com/","filter":{"data":{"a":{"$regex":"x"}}}}`, []string{"filter.data.a.$regex: unknown operator"}},
		{"FilterSurrogate", `{"url":"https://example.com/","filter":{"data":{"a":"\ud800"}}}`, []string{"filter:", "surrogate"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b.do(t, "POST", "/v1/endpoints", tt.body).wantError(t, 400, hookline.EINVALID, tt.want...)
		})
	}
	t.Run("EmptyBody", func(t *testing.T) {
		req := b.request(t, "POST", "/v1/endpoints", "")
		req.Header.Set("Content-Type", "application/json")
		b.send(t, req).wantError(t, 400, hookline.EINVALID, "request body: empty")
	})
	if st := b.storeStats(t); st.Endpoints != 0 {
		t.Fatalf("%d endpoints stored by invalid requests", st.Endpoints)
	}
}

func TestListEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var want []string
	for i := range 7 {
		tenant := "a"
		if i%2 == 1 {
			tenant = "b"
		}
		ep := b.createEndpoint(t, fmt.Sprintf(`{"url":"https://example.com/%d","tenant":%q}`, i, tenant))
		want = append(want, ep.ID)
	}
	slices.Sort(want)
	slices.Reverse(want) // lists are newest first, by ID

	t.Run("Pages", func(t *testing.T) {
		var got []string
		cursor, pages := "", 0
		for {
			var l list[endpointJSON]
			b.do(t, "GET", "/v1/endpoints?limit=3&cursor="+url.QueryEscape(cursor), "").ok(t, 200, &l)
			pages++
			for _, ep := range l.Data {
				got = append(got, ep.ID)
			}
			if l.NextCursor == nil {
				break
			}
			cursor = *l.NextCursor
			if pages > 5 {
				t.Fatal("too many pages")
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("walked %v, want %v", got, want)
		}
		if pages != 3 {
			t.Fatalf("%d pages of 3 for 7 endpoints", pages)
		}
	})
	t.Run("Default", func(t *testing.T) {
		var l list[endpointJSON]
		b.do(t, "GET", "/v1/endpoints", "").ok(t, 200, &l)
		if len(l.Data) != 7 || l.NextCursor != nil {
			t.Fatalf("%d endpoints, next %v", len(l.Data), l.NextCursor)
		}
	})
	t.Run("Tenant", func(t *testing.T) {
		var l list[endpointJSON]
		b.do(t, "GET", "/v1/endpoints?tenant=b", "").ok(t, 200, &l)
		if len(l.Data) != 3 {
			t.Fatalf("%d endpoints of tenant b, want 3", len(l.Data))
		}
		for _, ep := range l.Data {
			if ep.Tenant != "b" {
				t.Fatalf("tenant %q in a list of b", ep.Tenant)
			}
		}
		b.do(t, "GET", "/v1/endpoints?tenant=", "").ok(t, 200, &l)
		if len(l.Data) != 0 {
			t.Fatalf("%d endpoints of the empty tenant", len(l.Data))
		}
	})
	t.Run("Empty", func(t *testing.T) {
		res := b.do(t, "GET", "/v1/endpoints?tenant=nobody", "")
		res.ok(t, 200, nil)
		if got := strings.TrimSpace(string(res.body)); got != `{"data":[],"next_cursor":null}` {
			t.Fatalf("empty list: %s", got)
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		for _, q := range []string{"limit=0", "limit=1001", "limit=x", "limit=-1", "limit=1.5"} {
			b.do(t, "GET", "/v1/endpoints?"+q, "").wantError(t, 400, hookline.EINVALID, "limit:", "1000")
		}
		b.do(t, "GET", "/v1/endpoints?tenant=a%20b", "").wantError(t, 400, hookline.EINVALID, "tenant:")
		b.do(t, "GET", "/v1/endpoints?cursor="+strings.Repeat("x", 300), "").wantError(t, 400, hookline.EINVALID, "cursor:")
	})
	t.Run("Max", func(t *testing.T) {
		var l list[endpointJSON]
		b.do(t, "GET", "/v1/endpoints?limit=1000", "").ok(t, 200, &l)
		if len(l.Data) != 7 {
			t.Fatalf("%d endpoints", len(l.Data))
		}
	})
}

func TestGetEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	created := b.createEndpoint(t, `{"url":"https://example.com/hook","tenant":"acme","event_types":["a.*"]}`)

	var ep endpointJSON
	b.do(t, "GET", "/v1/endpoints/"+created.ID, "").ok(t, 200, &ep)
	created.Secret = ""
	if !reflect.DeepEqual(ep, created) {
		t.Fatalf("got %+v, want %+v", ep, created)
	}
	b.do(t, "GET", "/v1/endpoints/ep_nope", "").wantError(t, 404, hookline.ENOTFOUND)

	var sec map[string]string
	res := b.do(t, "GET", "/v1/endpoints/"+created.ID+"/secret", "")
	res.ok(t, 200, &sec)
	stored, _ := b.store.FindEndpoint(context.Background(), created.ID)
	if len(sec) != 1 || sec["secret"] != stored.Secret {
		t.Fatalf("secret answer %v", sec)
	}
	if res.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("Cache-Control %q", res.header.Get("Cache-Control"))
	}
	b.do(t, "GET", "/v1/endpoints/ep_nope/secret", "").wantError(t, 404, hookline.ENOTFOUND)
}

// TestSecretNotShown checks that the secret appears only in the create
// answer and GET /v1/endpoints/{id}/secret.
func TestSecretNotShown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	secret := signature.GenerateSecret()
	key := secret[len("whsec_"):]
	created := b.createEndpoint(t, `{"url":"https://example.com/hook","secret":"`+secret+`"}`)
	b.do(t, "POST", "/v1/events", `{"type":"a","data":{}}`).ok(t, 202, nil)

	for _, tt := range []struct{ method, path, body string }{
		{"GET", "/v1/endpoints/" + created.ID, ""},
		{"GET", "/v1/endpoints", ""},
		{"GET", "/v1/endpoints?tenant=", ""},
		{"PATCH", "/v1/endpoints/" + created.ID, `{"description":"x"}`},
		{"GET", "/v1/deliveries", ""},
		{"GET", "/v1/stats", ""},
		{"GET", "/readyz", ""},
	} {
		res := b.do(t, tt.method, tt.path, tt.body)
		if res.code >= 300 {
			t.Fatalf("%s %s: %d %s", tt.method, tt.path, res.code, res.body)
		}
		if strings.Contains(string(res.body), key) || strings.Contains(string(res.body), `"secret"`) {
			t.Fatalf("%s %s shows the secret: %s", tt.method, tt.path, res.body)
		}
	}
	if strings.Contains(b.logs.String(), key) {
		t.Fatal("the secret was logged")
	}
}

func TestUpdateEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	created := b.createEndpoint(t, `{"url":"https://example.com/hook","tenant":"acme","event_types":["a"],"description":"d"}`)
	path := "/v1/endpoints/" + created.ID

	var ep endpointJSON
	b.do(t, "PATCH", path, `{"url":"https://example.org/new","description":null}`).ok(t, 200, &ep)
	if ep.URL != "https://example.org/new" || ep.Description != "d" || strings.Join(ep.EventTypes, ",") != "a" ||
		ep.Tenant != "acme" || !ep.UpdatedAt.After(created.UpdatedAt) || ep.Secret != "" {
		t.Fatalf("patched url: %+v", ep)
	}
	if changed, ok := b.engine.lastChange(created.ID); !ok || changed == nil || changed.URL != ep.URL {
		t.Fatalf("engine not told of the change: %+v", changed)
	}

	b.do(t, "PATCH", path, `{"event_types":[],"disabled":true,"description":"","tenant":"acme"}`).ok(t, 200, &ep)
	if ep.EventTypes == nil || len(ep.EventTypes) != 0 || !ep.Disabled || ep.Description != "" || ep.URL != "https://example.org/new" ||
		ep.DisabledReason != hookline.DisabledManual {
		t.Fatalf("patched types: %+v", ep)
	}

	b.do(t, "PATCH", path, `{"rate_limit":5,"max_in_flight":3}`).ok(t, 200, &ep)
	if ep.RateLimit != 5 || ep.MaxInFlight == nil || *ep.MaxInFlight != 3 || !ep.Disabled {
		t.Fatalf("patched controls: %+v", ep)
	}
	b.do(t, "PATCH", path, `{"rate_limit":0}`).ok(t, 200, &ep)
	if ep.RateLimit != 0 || ep.MaxInFlight == nil || *ep.MaxInFlight != 3 {
		t.Fatalf("rate_limit 0 (none): %+v", ep)
	}
	b.do(t, "PATCH", path, `{"max_in_flight":0}`).wantError(t, 400, hookline.EINVALID, "max_in_flight:")
	b.do(t, "PATCH", path, `{"disabled":false}`).ok(t, 200, &ep)
	if ep.Disabled || ep.DisabledReason != "" {
		t.Fatalf("enabled again: %+v", ep)
	}
	b.do(t, "PATCH", path, `{"disabled":true}`).ok(t, 200, &ep)

	secret := signature.GenerateSecret()
	b.do(t, "PATCH", path, `{"secret":"`+secret+`"}`).ok(t, 200, &ep)
	var sec struct{ Secret string }
	b.do(t, "GET", path+"/secret", "").ok(t, 200, &sec)
	if sec.Secret != secret {
		t.Fatal("secret not rotated")
	}

	b.do(t, "PATCH", path, `{}`).ok(t, 200, &ep)
	if ep.URL != "https://example.org/new" || !ep.Disabled {
		t.Fatalf("empty patch changed %+v", ep)
	}

	t.Run("Invalid", func(t *testing.T) {
		for _, tt := range []struct {
			body string
			want string
		}{
			{`{"url":""}`, "url: required"},
			{`{"url":"mailto:x@example.com"}`, "url:"},
			{`{"url":"http://127.0.0.1/"}`, "--allow-private-networks"},
			{`{"secret":"nope"}`, "secret:"},
			{`{"event_types":["a b"]}`, "event_types[0]:"},
			{`{"tenant":"other"}`, "tenant: cannot be changed"},
			{`{"tenant":"a b"}`, "tenant:"},
			{`{"disabled":1}`, "disabled: must be true or false"},
			{`{"id":"ep_other"}`, "id: unknown field"},
		} {
			b.do(t, "PATCH", path, tt.body).wantError(t, 400, hookline.EINVALID, tt.want)
		}
		var after endpointJSON
		b.do(t, "GET", path, "").ok(t, 200, &after)
		if !reflect.DeepEqual(after, ep) {
			t.Fatalf("invalid patches changed %+v to %+v", ep, after)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		b.do(t, "PATCH", "/v1/endpoints/ep_nope", `{"description":"x"}`).wantError(t, 404, hookline.ENOTFOUND)
		b.do(t, "PATCH", "/v1/endpoints/ep_nope", `{"tenant":"acme"}`).wantError(t, 404, hookline.ENOTFOUND)
	})
	t.Run("NoBody", func(t *testing.T) {
		req := b.request(t, "PATCH", path, "")
		req.Header.Set("Content-Type", "application/json")
		b.send(t, req).wantError(t, 400, hookline.EINVALID, "request body: empty")
	})
}

func TestDeleteEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.createEndpoint(t, `{"url":"https://example.com/hook"}`)
	b.do(t, "POST", "/v1/events", `{"type":"a","data":1}`).ok(t, 202, nil)

	res := b.do(t, "DELETE", "/v1/endpoints/"+ep.ID, "")
	if res.code != 204 || len(res.body) != 0 {
		t.Fatalf("delete: %d %s", res.code, res.body)
	}
	if changed, ok := b.engine.lastChange(ep.ID); !ok || changed == nil || !changed.Deleted || changed.Secret != "" {
		t.Fatalf("engine not told of the deletion: %+v %v", changed, ok)
	}
	b.do(t, "GET", "/v1/endpoints/"+ep.ID, "").wantError(t, 404, hookline.ENOTFOUND)
	b.do(t, "DELETE", "/v1/endpoints/"+ep.ID, "").wantError(t, 404, hookline.ENOTFOUND)
	// Its delivery waits for the engine's purger, which this engine has not.
	if st := b.storeStats(t); st.Endpoints != 0 || st.Pending != 1 {
		t.Fatalf("after delete, before the purge: %+v", st)
	}
	if _, err := b.store.PurgeDeleted(t.Context(), nil, hookline.Now().Add(time.Second), 100); err != nil {
		t.Fatal(err)
	}
	if st := b.storeStats(t); st.Endpoints != 0 || st.Pending != 0 {
		t.Fatalf("after delete: %+v", st)
	}
}

// fail makes every pending delivery failed, as the engine does after the
// last attempt.
func (b *bundle) fail(t *testing.T) []*hookline.Task {
	t.Helper()
	ctx := context.Background()
	now := hookline.Now()
	due, err := b.store.DueEndpoints(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var reqs []hookline.ClaimRequest
	for _, d := range due {
		reqs = append(reqs, hookline.ClaimRequest{EndpointID: d.EndpointID, Limit: 1000})
	}
	res, err := b.store.ClaimDue(ctx, reqs, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var tasks []*hookline.Task
	for _, r := range res {
		tasks = append(tasks, r.Tasks...)
	}
	var outs []hookline.Outcome
	for _, task := range tasks {
		outs = append(outs, hookline.Outcome{
			Attempt: hookline.Attempt{
				DeliveryID: task.DeliveryID, Attempt: task.Attempts + 1, StartedAt: now,
				Duration: 1500 * time.Microsecond, StatusCode: 500, Error: "HTTP 500", ResponseBody: "oops",
			},
			Status: hookline.StatusFailed,
		})
	}
	if err := b.store.RecordOutcomes(ctx, outs, now); err != nil {
		t.Fatal(err)
	}
	return tasks
}

func TestRecoverEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.createEndpoint(t, `{"url":"https://example.com/hook"}`)
	path := "/v1/endpoints/" + ep.ID + "/recover"
	b.do(t, "POST", "/v1/events", `{"type":"a","data":1}`).ok(t, 202, nil)
	b.do(t, "POST", "/v1/events", `{"type":"b","data":2}`).ok(t, 202, nil)
	b.fail(t)
	if st := b.storeStats(t); st.Failed != 2 {
		t.Fatalf("stats %+v", st)
	}

	var rec struct{ Requeued int }
	b.do(t, "POST", path, `{"since":"`+time.Now().Add(time.Hour).UTC().Format(time.RFC3339)+`"}`).ok(t, 202, &rec)
	if rec.Requeued != 0 {
		t.Fatalf("requeued %d since an hour from now", rec.Requeued)
	}
	b.do(t, "POST", path, "").ok(t, 202, &rec) // no body: everything
	if rec.Requeued != 2 {
		t.Fatalf("requeued %d, want 2", rec.Requeued)
	}
	if st := b.storeStats(t); st.Pending != 2 || st.Failed != 0 {
		t.Fatalf("after recover: %+v", st)
	}
	b.fail(t)
	b.do(t, "POST", path, `{"since":"2020-01-01T00:00:00.5+02:00"}`).ok(t, 202, &rec)
	if rec.Requeued != 2 {
		t.Fatalf("requeued %d, want 2", rec.Requeued)
	}
	b.fail(t)
	b.do(t, "POST", path, `{}`).ok(t, 202, &rec)
	if rec.Requeued != 2 {
		t.Fatalf("requeued %d, want 2", rec.Requeued)
	}

	t.Run("Invalid", func(t *testing.T) {
		b.do(t, "POST", path, `{"since":"yesterday"}`).wantError(t, 400, hookline.EINVALID, "since:", "RFC 3339")
		b.do(t, "POST", path, `{"since":12}`).wantError(t, 400, hookline.EINVALID, "since: must be a string")
		b.do(t, "POST", path, `{"until":"2020-01-01T00:00:00Z"}`).wantError(t, 400, hookline.EINVALID, "until: unknown field")
		b.do(t, "POST", path, `{}`, "Content-Type", "text/plain").wantError(t, 415, hookline.EMEDIATYPE)
		req := b.request(t, "POST", path, `{}`)
		req.Header.Del("Content-Type")
		b.send(t, req).wantError(t, 415, hookline.EMEDIATYPE)
	})
	t.Run("NotFound", func(t *testing.T) {
		b.do(t, "POST", "/v1/endpoints/ep_nope/recover", "").wantError(t, 404, hookline.ENOTFOUND)
	})
}

func TestEndpointStats(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.createEndpoint(t, `{"url":"https://example.com/hook"}`)
	b.do(t, "POST", "/v1/events", `{"type":"a","data":{}}`).ok(t, 202, nil)
	b.fail(t)
	b.do(t, "POST", "/v1/events", `{"type":"a","data":{}}`).ok(t, 202, nil)
	var st map[string]any
	b.do(t, "GET", "/v1/endpoints/"+ep.ID+"/stats", "").ok(t, 200, &st)
	for _, k := range []string{"deliveries_per_second", "success_rate", "latency_ms", "attempts", "failures", "pending", "failed"} {
		if _, ok := st[k]; !ok {
			t.Errorf("stats lack %q: %v", k, st)
		}
	}
	if st["pending"] != 1.0 || st["failed"] != 1.0 {
		t.Fatalf("stats %v, want 1 pending and 1 failed", st)
	}
	b.do(t, "GET", "/v1/endpoints/ep_missing/stats", "").wantError(t, 404, hookline.ENOTFOUND)
}
