package api

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

// TestBoundedEcho checks that what a client sends is repeated in errors and
// logs only up to a bound, so that a request cannot make the answer or the
// log grow by its own size.
func TestBoundedEcho(t *testing.T) {
	t.Parallel()
	b := setup(t)
	long := strings.Repeat("A", 50_000)

	for _, tt := range []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"UnknownRoute", "GET", "/" + long, 404, hookline.ENOTFOUND},
		{"UnknownV1Route", "GET", "/v1/" + long, 404, hookline.ENOTFOUND},
		{"LongEndpointID", "GET", "/v1/endpoints/ep_" + long, 404, hookline.ENOTFOUND},
		{"LongEventID", "POST", "/v1/events/evt_" + long + "/replay", 404, hookline.ENOTFOUND},
		{"LongDeliveryID", "GET", "/v1/deliveries/dlv_" + long + "/attempts", 404, hookline.ENOTFOUND},
		{"LongMethod", strings.Repeat("X", 5000), "/v1/endpoints", 405, hookline.EMETHOD},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(b.logs.String())
			res := b.do(t, tt.method, tt.path, "")
			res.wantError(t, tt.status, tt.code, "bytes]")
			if len(res.body) > 1024 {
				t.Fatalf("an answer of %d bytes to a request of %d: %.300s", len(res.body), len(tt.path)+len(tt.method), res.body)
			}
			if grown := len(b.logs.String()) - before; grown > 1024 {
				t.Fatalf("the log grew by %d bytes", grown)
			}
		})
	}
}

func TestClip(t *testing.T) {
	t.Parallel()
	if got := clip("short", 10); got != "short" {
		t.Fatalf("clip(short) = %q", got)
	}
	if got := clip(strings.Repeat("x", 11), 10); got != "xxxxxxxxxx…[11 bytes]" {
		t.Fatalf("clip(11 x) = %q", got)
	}
	// A cut never splits a UTF-8 sequence.
	if got := clip("aaaaaaaaa€", 10); got != "aaaaaaaaa…[12 bytes]" {
		t.Fatalf("clip(€) = %q", got)
	}
}

// TestStrictJSON checks what encoding/json lets through by default and the
// API does not: field names in another case, a field given twice, null
// data, and data that is not valid Unicode.
func TestStrictJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createEndpoint(t, `{"url":"https://example.com/all"}`)
	for _, tt := range []struct {
		name, path, body string
		want             []string
	}{
		{"EventFieldCase", "/v1/events", `{"Type":"a","data":1}`, []string{"Type: unknown field", `case-sensitive: "type"`}},
		{"EventTwice", "/v1/events", `{"type":"a","data":1,"data":2}`, []string{"data: given twice"}},
		{"NullData", "/v1/events", `{"type":"a","data":null}`, []string{"data: required"}},
		{"LoneSurrogate", "/v1/events", `{"type":"a","data":{"s":"\ud800"}}`, []string{"data:", `\ud800`, "surrogate"}},
		{"InvalidUTF8", "/v1/events", "{\"type\":\"a\",\"data\":\"\xc3\x28\"}", []string{"data: not valid UTF-8"}},
		{"BatchNullData", "/v1/events/batch", `{"events":[{"type":"a","data":1},{"type":"a","data":null}]}`, []string{"events[1].data: required"}},
		{"BatchSurrogate", "/v1/events/batch", `{"events":[{"type":"a","data":"\udc00"}]}`, []string{"events[0].data:", "surrogate"}},
		{"BatchFieldCase", "/v1/events/batch", `{"Events":[]}`, []string{"Events: unknown field"}},
		{"BatchEventFieldCase", "/v1/events/batch", `{"events":[{"type":"a","DATA":1}]}`, []string{"events[0].DATA: unknown field"}},
		{"EndpointFieldCase", "/v1/endpoints", `{"URL":"https://example.com/"}`, []string{"URL: unknown field", `"url"`}},
		{"EndpointTwice", "/v1/endpoints", `{"url":"https://example.com/","url":"https://example.org/"}`, []string{"url: given twice"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b.do(t, "POST", tt.path, tt.body).wantError(t, 400, hookline.EINVALID, tt.want...)
		})
	}
	if st := b.storeStats(t); st.Events != 0 || st.Endpoints != 1 {
		t.Fatalf("refused requests wrote: %+v", st)
	}
}

// TestNumbersKeptExact checks that numbers in data are stored, shown and
// delivered as sent, without a round trip through float64.
func TestNumbersKeptExact(t *testing.T) {
	t.Parallel()
	b := setup(t)
	data := `{"big":123456789012345678901234567890,"id":9007199254740993,"f":0.1000000000000000055511151231257827,"e":1E400,"z":-0.0}`
	res := b.ingest(t, `{"type":"a","data":`+data+`}`)
	ev, err := b.store.FindEvent(context.Background(), res.ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(ev.Data) != data {
		t.Fatalf("stored %s, want %s", ev.Data, data)
	}
	if p := ev.Payload(); !strings.HasSuffix(string(p), `"data":`+data+`}`) {
		t.Fatalf("delivered payload %s", p)
	}
	got := b.do(t, "GET", "/v1/events/"+res.ID, "")
	got.ok(t, 200, nil)
	if !strings.Contains(string(got.body), `"data":`+data) {
		t.Fatalf("GET shows %s", got.body)
	}
}

// TestCursor checks that a list refuses a cursor that is not an ID of the
// listed kind, rather than answering the first page or an empty one.
func TestCursor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for range 3 {
		b.createEndpoint(t, `{"url":"https://example.com/hook"}`)
	}
	var page1 struct {
		Data       []endpointJSON `json:"data"`
		NextCursor *string        `json:"next_cursor"`
	}
	b.do(t, "GET", "/v1/endpoints?limit=2", "").ok(t, 200, &page1)
	if page1.NextCursor == nil || len(page1.Data) != 2 {
		t.Fatalf("first page %+v", page1)
	}
	b.do(t, "GET", "/v1/endpoints?limit=2&cursor="+*page1.NextCursor, "").ok(t, 200, nil)

	valid := hookline.NewID(hookline.EndpointPrefix, time.Now())
	for _, tt := range []struct{ path, cursor string }{
		{"/v1/endpoints", "zzz"},
		{"/v1/endpoints", "ep_"},
		{"/v1/endpoints", strings.ToLower(valid)},
		{"/v1/endpoints", valid + "0"},
		{"/v1/endpoints", valid[:len(valid)-1] + "U"},  // U is not in the alphabet
		{"/v1/endpoints", "ep_8" + valid[4:]},          // over 128 bits
		{"/v1/endpoints", "dlv_" + valid[3:]},          // another kind
		{"/v1/deliveries", valid},                      // an endpoint ID
		{"/v1/deliveries", "dlv_" + valid[3:] + "%00"}, // a NUL after an ID
		{"/v1/deliveries", "dlv_%C3%A9" + valid[5:]},   // not ASCII
		{"/v1/deliveries", "dlv_" + strings.Repeat("Z", 26)},
	} {
		b.do(t, "GET", tt.path+"?cursor="+tt.cursor, "").wantError(t, 400, hookline.EINVALID, "cursor:")
	}
	b.do(t, "GET", "/v1/deliveries?cursor="+hookline.NewID(hookline.DeliveryPrefix, time.Now()), "").ok(t, 200, nil)
}

var idRE = regexp.MustCompile(`^dlv_[0-7][0-9A-HJKMNP-TV-Z]{25}$`)

// FuzzValidID checks validID against a regular expression of the ID shape,
// and that every ID NewID makes is valid.
func FuzzValidID(f *testing.F) {
	f.Add("dlv_01K0000000000000000000000", int64(0))
	f.Add("dlv_7ZZZZZZZZZZZZZZZZZZZZZZZZZ", int64(1<<47))
	f.Add("ep_01K0000000000000000000000", int64(1))
	f.Add("dlv_01k0000000000000000000000", int64(-1))
	f.Fuzz(func(t *testing.T, s string, ms int64) {
		if got, want := validID(hookline.DeliveryPrefix, s), idRE.MatchString(s); got != want {
			t.Fatalf("validID(%q) = %v, want %v", s, got, want)
		}
		id := hookline.NewID(hookline.DeliveryPrefix, time.UnixMilli(ms&(1<<48-1)))
		if !validID(hookline.DeliveryPrefix, id) {
			t.Fatalf("NewID made %q, which validID refuses", id)
		}
	})
}

func TestEndpointPort(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, port := range []string{"0", "00", "65536", "99999999999999999999"} {
		b.do(t, "POST", "/v1/endpoints", `{"url":"https://example.com:`+port+`/hook"}`).wantError(t, 400, hookline.EINVALID, "url:", "port")
	}
	ep := b.createEndpoint(t, `{"url":"https://example.com/hook"}`)
	b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, `{"url":"https://example.com:0/hook"}`).wantError(t, 400, hookline.EINVALID, "port")
	for _, port := range []string{"1", "8080", "65535"} {
		b.createEndpoint(t, `{"url":"https://example.com:`+port+`/hook"}`)
	}
}

// TestUncleanPath checks that a path ServeMux would redirect to its clean
// form (307, HTML) is a JSON 404 instead.
func TestUncleanPath(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, p := range []string{"/v1//endpoints", "/v1/endpoints/.", "/v1/./endpoints", "/x/../v1/endpoints", "/v1/endpoints/ep_x/..", "//healthz", "/healthz/."} {
		req := b.request(t, "GET", "/", "")
		req.URL.Path = p
		b.send(t, req).wantError(t, 404, hookline.ENOTFOUND, "not clean")
	}
	b.do(t, "GET", "/v1/endpoints/", "").wantError(t, 404, hookline.ENOTFOUND) // clean, and no route
}
