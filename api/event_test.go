package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

// eventResult is the answer for one ingested event.
type eventResult struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Deliveries int    `json:"deliveries"`
}

// ingest posts one event and returns the answer.
func (b *bundle) ingest(t *testing.T, body string, hdr ...string) eventResult {
	t.Helper()
	var res eventResult
	b.do(t, "POST", "/v1/events", body, hdr...).ok(t, 202, &res)
	return res
}

func TestCreateEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createEndpoint(t, `{"url":"https://example.com/orders","event_types":["order.*"]}`)
	b.createEndpoint(t, `{"url":"https://example.com/all","event_types":["*"]}`)
	b.createEndpoint(t, `{"url":"https://example.com/acme","tenant":"acme"}`)
	b.createEndpoint(t, `{"url":"https://example.com/off","disabled":true}`)

	t.Run("FanOut", func(t *testing.T) {
		data := `{"b": 1,  "a":[1, 2.50, "<&>"], "c": {}}`
		res := b.do(t, "POST", "/v1/events", `{"type":"order.created","data":`+data+`}`)
		var got map[string]any
		res.ok(t, 202, &got)
		if len(got) != 3 || got["type"] != "order.created" || got["deliveries"] != 2.0 ||
			!strings.HasPrefix(got["id"].(string), hookline.EventPrefix) {
			t.Fatalf("answer %s", res.body)
		}
		if res.header.Get("Idempotent-Replayed") != "" {
			t.Fatal("Idempotent-Replayed on a first request")
		}
		ev, err := b.store.FindEvent(context.Background(), got["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if string(ev.Data) != data {
			t.Fatalf("stored data %s, want the bytes as sent %s", ev.Data, data)
		}
		if ev.IdempotencyKey != "" || ev.Type != "order.created" || ev.Tenant != "" {
			t.Fatalf("stored %+v", ev)
		}

		var shown struct {
			ID         string          `json:"id"`
			Tenant     string          `json:"tenant"`
			Type       string          `json:"type"`
			Data       json.RawMessage `json:"data"`
			CreatedAt  time.Time       `json:"created_at"`
			Deliveries int             `json:"deliveries"`
		}
		b.do(t, "GET", "/v1/events/"+ev.ID, "").ok(t, 200, &shown)
		var compact bytes.Buffer
		_ = json.Compact(&compact, []byte(data))
		if shown.ID != ev.ID || shown.Type != ev.Type || shown.Deliveries != 2 || !shown.CreatedAt.Equal(ev.CreatedAt) ||
			string(shown.Data) != compact.String() {
			t.Fatalf("GET event: %+v", shown)
		}
	})
	t.Run("Tenant", func(t *testing.T) {
		if res := b.ingest(t, `{"type":"x","data":1,"tenant":"acme"}`); res.Deliveries != 1 {
			t.Fatalf("acme: %+v", res)
		}
		if res := b.ingest(t, `{"type":"x","data":1,"tenant":"nobody"}`); res.Deliveries != 0 {
			t.Fatalf("nobody: %+v", res)
		}
	})
	t.Run("AnyJSONData", func(t *testing.T) {
		for _, data := range []string{`0`, `-1.5e3`, `"s"`, `[]`, `[{"a":null}]`, `true`, `"\u00e9\ud83d\ude00"`} {
			res := b.ingest(t, `{"data":`+data+`,"type":"x"}`)
			ev, err := b.store.FindEvent(context.Background(), res.ID)
			if err != nil || string(ev.Data) != data {
				t.Fatalf("data %s stored as %s: %v", data, ev.Data, err)
			}
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		b.do(t, "GET", "/v1/events/evt_nope", "").wantError(t, 404, hookline.ENOTFOUND)
	})
}

func TestCreateEventInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createEndpoint(t, `{"url":"https://example.com/all"}`)
	for _, tt := range []struct {
		name, body string
		want       []string
	}{
		{"MissingType", `{"data":1}`, []string{"type: required"}},
		{"BadType", `{"type":"order created","data":1}`, []string{"type:", "printable"}},
		{"LongType", `{"type":"` + strings.Repeat("a", 257) + `","data":1}`, []string{"type:"}},
		{"NonASCIIType", `{"type":"ordér","data":1}`, []string{"type:"}},
		{"WildcardType", `{"type":"order.*","data":1}`, []string{"type:", "*"}},
		{"OperationalType", `{"type":"hookline.endpoint.failing","data":1}`, []string{"type:", "hookline.", "operational"}},
		{"HighPriority", `{"type":"a","data":1,"priority":10}`, []string{"priority:", "0 to 9"}},
		{"NegativePriority", `{"type":"a","data":1,"priority":-1}`, []string{"priority:"}},
		{"FractionalPriority", `{"type":"a","data":1,"priority":2.5}`, []string{"priority: must be an integer"}},
		{"StringPriority", `{"type":"a","data":1,"priority":"high"}`, []string{"priority: must be an integer"}},
		{"LongOrderingKey", `{"type":"a","data":1,"ordering_key":"` + strings.Repeat("k", 257) + `"}`, []string{"ordering_key:", "256"}},
		{"NumberOrderingKey", `{"type":"a","data":1,"ordering_key":5}`, []string{"ordering_key: must be a string"}},
		{"MissingData", `{"type":"a"}`, []string{"data: required"}},
		{"InvalidJSONData", `{"type":"a","data":{"x":}}`, []string{"request body: invalid JSON at offset"}},
		{"UnquotedData", `{"type":"a","data":hello}`, []string{"invalid JSON"}},
		{"BadTenant", `{"type":"a","data":1,"tenant":"a b"}`, []string{"tenant:"}},
		{"UnknownField", `{"type":"a","data":1,"idempotency_key":"k"}`, []string{"idempotency_key: unknown field"}},
		{"WrongTypeType", `{"type":5,"data":1}`, []string{"type: must be a string, not number"}},
		{"WrongTypeTenant", `{"type":"a","data":1,"tenant":[]}`, []string{"tenant: must be a string, not array"}},
		{"Trailing", `{"type":"a","data":1}{}`, []string{"unexpected data after the JSON value"}},
		{"Array", `[{"type":"a","data":1}]`, []string{"request body: must be an object"}},
		{"Empty", ` `, []string{"request body: empty"}},
		{"Truncated", `{"type":"a","data":[1,`, []string{"ends early"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b.do(t, "POST", "/v1/events", tt.body).wantError(t, 400, hookline.EINVALID, tt.want...)
		})
	}
	t.Run("IdempotencyKey", func(t *testing.T) {
		for _, key := range []string{strings.Repeat("k", MaxIdempotencyKey+1), "clé"} {
			b.do(t, "POST", "/v1/events", `{"type":"a","data":1}`, "Idempotency-Key", key).
				wantError(t, 400, hookline.EINVALID, "Idempotency-Key:")
		}
		b.ingest(t, `{"type":"a","data":1}`, "Idempotency-Key", strings.Repeat("k", MaxIdempotencyKey))
	})
	if st := b.storeStats(t); st.Events != 1 || st.Pending != 1 {
		t.Fatalf("invalid requests wrote: %+v", st)
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createEndpoint(t, `{"url":"https://example.com/all"}`)
	body := `{"type":"order.paid","data":{"n":1}}`

	first := b.ingest(t, body, "Idempotency-Key", "order-1")
	res := b.do(t, "POST", "/v1/events", body, "Idempotency-Key", "order-1")
	var again eventResult
	res.ok(t, 202, &again)
	if again != first {
		t.Fatalf("replayed answer %+v, want %+v", again, first)
	}
	if res.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("Idempotent-Replayed %q", res.header.Get("Idempotent-Replayed"))
	}
	if st := b.storeStats(t); st.Events != 1 || st.Pending != 1 {
		t.Fatalf("a replay wrote: %+v", st)
	}

	t.Run("OtherBody", func(t *testing.T) {
		for _, other := range []string{
			`{"type":"order.paid","data":{"n":2}}`,
			`{"type":"order.refunded","data":{"n":1}}`,
		} {
			b.do(t, "POST", "/v1/events", other, "Idempotency-Key", "order-1").wantError(t, 409, hookline.ECONFLICT)
		}
		if st := b.storeStats(t); st.Events != 1 {
			t.Fatalf("a conflict wrote: %+v", st)
		}
	})
	t.Run("OtherTenant", func(t *testing.T) {
		// Keys are per tenant.
		res := b.ingest(t, `{"type":"order.paid","data":{"n":1},"tenant":"acme"}`, "Idempotency-Key", "order-1")
		if res.ID == first.ID {
			t.Fatal("a key of another tenant replayed")
		}
	})
	t.Run("NoKey", func(t *testing.T) {
		if a, c := b.ingest(t, body), b.ingest(t, body); a.ID == c.ID || a.ID == first.ID {
			t.Fatal("events without a key share an ID")
		}
	})
}

func TestBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createEndpoint(t, `{"url":"https://example.com/orders","event_types":["order.*"]}`)
	b.createEndpoint(t, `{"url":"https://example.com/all"}`)
	body := `{"events":[
		{"type":"order.created","data":{"n":1}},
		{"type":"user.created","data":[2]},
		{"type":"order.paid","data":3,"tenant":"acme"},
		{"type":"order.paid","data":4,"idempotency_key":"own"}
	]}`

	var res struct{ Data []eventResult }
	r := b.do(t, "POST", "/v1/events/batch", body, "Idempotency-Key", "batch-1")
	r.ok(t, 202, &res)
	var keys map[string]any
	_ = json.Unmarshal(r.body, &keys)
	if len(keys) != 1 {
		t.Fatalf("batch answer %s", r.body)
	}
	want := []int{2, 1, 0, 2}
	if len(res.Data) != 4 {
		t.Fatalf("%d results", len(res.Data))
	}
	for i, x := range res.Data {
		if x.Deliveries != want[i] || !strings.HasPrefix(x.ID, hookline.EventPrefix) {
			t.Fatalf("result %d: %+v", i, x)
		}
	}
	if r.header.Get("Idempotent-Replayed") != "" {
		t.Fatal("Idempotent-Replayed on a first batch")
	}
	if st := b.storeStats(t); st.Events != 4 || st.Pending != 5 {
		t.Fatalf("stats %+v", st)
	}

	t.Run("Replay", func(t *testing.T) {
		var again struct{ Data []eventResult }
		r := b.do(t, "POST", "/v1/events/batch", body, "Idempotency-Key", "batch-1")
		r.ok(t, 202, &again)
		if fmt.Sprint(again) != fmt.Sprint(res) || r.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replayed batch %+v (%q), want %+v", again, r.header.Get("Idempotent-Replayed"), res)
		}
		if st := b.storeStats(t); st.Events != 4 {
			t.Fatalf("a replayed batch wrote: %+v", st)
		}
	})
	t.Run("DerivedKeys", func(t *testing.T) {
		// Event 1 of the batch got the key "batch-1#1"; event 3 kept its own.
		if x := b.ingest(t, `{"type":"user.created","data":[2]}`, "Idempotency-Key", "batch-1#1"); x != res.Data[1] {
			t.Fatalf("key batch-1#1: %+v, want %+v", x, res.Data[1])
		}
		if x := b.ingest(t, `{"type":"order.paid","data":4}`, "Idempotency-Key", "own"); x != res.Data[3] {
			t.Fatalf("key own: %+v, want %+v", x, res.Data[3])
		}
	})
	t.Run("Conflict", func(t *testing.T) {
		b.do(t, "POST", "/v1/events/batch", `{"events":[{"type":"x","data":1},{"type":"order.created","data":{"n":9}}]}`,
			"Idempotency-Key", "batch-1").wantError(t, 409, hookline.ECONFLICT)
		if st := b.storeStats(t); st.Events != 4 {
			t.Fatalf("a conflicting batch wrote: %+v", st)
		}
	})
	t.Run("Max", func(t *testing.T) {
		var sb strings.Builder
		sb.WriteString(`{"events":[`)
		for i := range MaxBatch {
			if i > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `{"type":"bulk","data":%d}`, i)
		}
		sb.WriteString(`]}`)
		var out struct{ Data []eventResult }
		b.do(t, "POST", "/v1/events/batch", sb.String()).ok(t, 202, &out)
		if len(out.Data) != MaxBatch {
			t.Fatalf("%d results", len(out.Data))
		}
	})
}

func TestBatchInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createEndpoint(t, `{"url":"https://example.com/all"}`)
	good := `{"type":"a","data":1}`
	over := strings.Repeat(good+",", MaxBatch) + good
	for _, tt := range []struct {
		name, body string
		want       []string
	}{
		{"BadType", `{"events":[` + good + `,` + good + `,` + good + `,{"type":"a b","data":1}]}`, []string{"events[3].type:"}},
		{"OperationalType", `{"events":[` + good + `,{"type":"hookline.delivery.failed","data":1}]}`, []string{"events[1].type:", "operational"}},
		{"BadPriority", `{"events":[` + good + `,{"type":"a","data":1,"priority":99}]}`, []string{"events[1].priority:"}},
		{"LongOrderingKey", `{"events":[{"type":"a","data":1,"ordering_key":"` + strings.Repeat("k", 257) + `"},` + good + `]}`, []string{"events[0].ordering_key:"}},
		{"MissingData", `{"events":[` + good + `,{"type":"a"}]}`, []string{"events[1].data: required"}},
		{"UnknownField", `{"events":[` + good + `,{"type":"a","data":1,"extra":1}]}`, []string{"events[1].extra: unknown field"}},
		{"WrongType", `{"events":[{"type":true,"data":1}]}`, []string{"events[0].type: must be a string, not bool"}},
		{"NotAnObject", `{"events":[` + good + `,"a"]}`, []string{"events[1]: must be an object, not string"}},
		{"NullEvent", `{"events":[null]}`, []string{"events[0]: must be an object, not null"}},
		{"BadTenant", `{"events":[{"type":"a","data":1,"tenant":" "}]}`, []string{"events[0].tenant:"}},
		{"BadKey", `{"events":[{"type":"a","data":1,"idempotency_key":"` + strings.Repeat("k", 256) + `"}]}`, []string{"events[0].idempotency_key:"}},
		{"RepeatedKey", `{"events":[{"type":"a","data":1,"idempotency_key":"k"},{"type":"a","data":2,"idempotency_key":"k"}]}`, []string{"events[1].idempotency_key:", "events[0]"}},
		{"KeyLikeDerived", `{"events":[{"type":"a","data":1},{"type":"a","data":2,"idempotency_key":"h#0"}]}`, []string{"events[1].idempotency_key:"}},
		{"InvalidJSONData", `{"events":[{"type":"a","data":{]}]}`, []string{"invalid JSON at offset"}},
		{"Empty", `{"events":[]}`, []string{"events:", "1 to 1000"}},
		{"Missing", `{}`, []string{"events: required"}},
		{"NullEvents", `{"events":null}`, []string{"events: required"}},
		{"NotArray", `{"events":{"type":"a","data":1}}`, []string{"events: must be an array, not object"}},
		{"OverMax", `{"events":[` + over + `]}`, []string{"events:", "1 to 1000", "1001"}},
		{"UnknownTopField", `{"events":[` + good + `],"type":"a"}`, []string{"type: unknown field"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b.do(t, "POST", "/v1/events/batch", tt.body, "Idempotency-Key", "h").wantError(t, 400, hookline.EINVALID, tt.want...)
		})
	}
	t.Run("HeaderKey", func(t *testing.T) {
		b.do(t, "POST", "/v1/events/batch", `{"events":[`+good+`]}`, "Idempotency-Key", strings.Repeat("k", 256)).
			wantError(t, 400, hookline.EINVALID, "Idempotency-Key:")
	})
	if st := b.storeStats(t); st.Events != 0 || st.Pending != 0 {
		t.Fatalf("invalid batches wrote: %+v", st)
	}
}

func TestReplayEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createEndpoint(t, `{"url":"https://example.com/a","event_types":["order.*"]}`)
	ev := b.ingest(t, `{"type":"order.paid","data":1}`)
	b.createEndpoint(t, `{"url":"https://example.com/b"}`)

	var rep map[string]int
	b.do(t, "POST", "/v1/events/"+ev.ID+"/replay", "").ok(t, 202, &rep)
	if len(rep) != 1 || rep["deliveries"] != 2 {
		t.Fatalf("replay: %v", rep)
	}
	b.do(t, "POST", "/v1/events/"+ev.ID+"/replay", "{}").ok(t, 202, &rep)
	if st := b.storeStats(t); st.Pending != 5 {
		t.Fatalf("stats after two replays: %+v", st)
	}
	var got struct{ Deliveries int }
	b.do(t, "GET", "/v1/events/"+ev.ID, "").ok(t, 200, &got)
	if got.Deliveries != 1 {
		t.Fatalf("replays counted in the event's deliveries: %d", got.Deliveries)
	}

	b.do(t, "POST", "/v1/events/evt_nope/replay", "").wantError(t, 404, hookline.ENOTFOUND)
	b.do(t, "POST", "/v1/events/"+ev.ID+"/replay", `{"x":1}`).wantError(t, 400, hookline.EINVALID, "x: unknown field")
	b.do(t, "POST", "/v1/events/"+ev.ID+"/replay", `{}`, "Content-Type", "text/plain").wantError(t, 415, hookline.EMEDIATYPE)
}
