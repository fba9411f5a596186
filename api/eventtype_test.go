package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hookline/hookline"
)

// eventTypeJSON is an entry of the catalog as the API answers it.
type eventTypeJSON struct {
	Tenant      string          `json:"tenant"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
	Deprecated  bool            `json:"deprecated"`
	Version     int             `json:"version"`
}

const invoiceSchema = `{"type":"object","required":["amount"],"properties":{"amount":{"type":"integer","minimum":0}}}`

func TestEventTypes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var et eventTypeJSON
	b.do(t, "POST", "/v1/event-types", `{"name":"invoice.paid","description":"an invoice was paid","schema":`+invoiceSchema+`}`).ok(t, 201, &et)
	if et.Name != "invoice.paid" || et.Tenant != "" || et.Version != 1 || !strings.Contains(string(et.Schema), `"minimum":0`) {
		t.Fatalf("created: %+v", et)
	}
	b.do(t, "POST", "/v1/event-types", `{"name":"invoice.paid"}`).wantError(t, 409, hookline.ECONFLICT, "already exists")
	b.do(t, "POST", "/v1/event-types", `{"name":"invoice.paid","tenant":"acme","schema":{"type":"object","required":["id"]}}`).ok(t, 201, &et)
	b.do(t, "POST", "/v1/event-types", `{"name":"user.created"}`).ok(t, 201, &et)

	t.Run("Ingest", func(t *testing.T) {
		b.ingest(t, `{"type":"invoice.paid","data":{"amount":5}}`)
		b.do(t, "POST", "/v1/events", `{"type":"invoice.paid","data":{"amount":-5}}`).wantError(t, 400, hookline.EINVALID, "data.amount: minimum")
		b.do(t, "POST", "/v1/events", `{"type":"invoice.paid","data":{}}`).wantError(t, 400, hookline.EINVALID, "data: missing property 'amount'")
		// acme's own entry applies to acme's events.
		b.do(t, "POST", "/v1/events", `{"type":"invoice.paid","data":{"amount":5},"tenant":"acme"}`).wantError(t, 400, hookline.EINVALID, "data: missing property 'id'")
		b.ingest(t, `{"type":"invoice.paid","data":{"id":"x"},"tenant":"acme"}`)
		// Other tenants get the default one.
		b.do(t, "POST", "/v1/events", `{"type":"invoice.paid","data":{"amount":"x"},"tenant":"globex"}`).wantError(t, 400, hookline.EINVALID, "data.amount")
		b.do(t, "POST", "/v1/events/batch", `{"events":[{"type":"user.created","data":1},{"type":"invoice.paid","data":{"amount":1.5}}]}`).
			wantError(t, 400, hookline.EINVALID, "events[1].data.amount: got number, want integer")
		b.ingest(t, `{"type":"unknown.type","data":1}`) // unknown types are accepted
		if st := b.storeStats(t); st.Events != 3 {
			t.Fatalf("%d events stored, want the 3 valid ones", st.Events)
		}
	})
	t.Run("Change", func(t *testing.T) {
		b.do(t, "PATCH", "/v1/event-types/invoice.paid", `{"schema":{"type":"object","properties":{"amount":{"type":"string"}}},"deprecated":true}`).ok(t, 200, &et)
		if et.Version != 2 || !et.Deprecated {
			t.Fatalf("after PATCH: %+v", et)
		}
		// This node forgot the old schema at once.
		b.ingest(t, `{"type":"invoice.paid","data":{"amount":"5"}}`)
		b.do(t, "POST", "/v1/events", `{"type":"invoice.paid","data":{"amount":5}}`).wantError(t, 400, hookline.EINVALID, "data.amount")
		b.do(t, "PATCH", "/v1/event-types/invoice.paid", `{"schema":null}`).ok(t, 200, &et)
		if et.Version != 3 || et.Schema != nil && string(et.Schema) != "null" {
			t.Fatalf("after removing the schema: %+v", et)
		}
		b.ingest(t, `{"type":"invoice.paid","data":[1,2]}`)
		b.do(t, "GET", "/v1/event-types/invoice.paid?tenant=acme", "").ok(t, 200, &et)
		if et.Tenant != "acme" {
			t.Fatalf("acme's entry: %+v", et)
		}
		b.do(t, "GET", "/v1/event-types/user.created?tenant=acme", "").ok(t, 200, &et)
		if et.Tenant != "" {
			t.Fatalf("the default entry for acme: %+v", et)
		}
		var l list[eventTypeJSON]
		b.do(t, "GET", "/v1/event-types?tenant=acme&limit=1", "").ok(t, 200, &l)
		if len(l.Data) != 1 || l.Data[0].Name != "invoice.paid" || l.Data[0].Tenant != "acme" || l.NextCursor == nil {
			t.Fatalf("acme's first page: %+v", l)
		}
		b.do(t, "GET", "/v1/event-types?tenant=acme&cursor="+*l.NextCursor, "").ok(t, 200, &l)
		if len(l.Data) != 1 || l.Data[0].Name != "user.created" || l.NextCursor != nil {
			t.Fatalf("acme's second page: %+v", l)
		}
		b.do(t, "DELETE", "/v1/event-types/invoice.paid?tenant=acme", "").ok(t, 204, nil)
		b.do(t, "DELETE", "/v1/event-types/invoice.paid?tenant=acme", "").wantError(t, 404, hookline.ENOTFOUND)
		// acme's events follow the default entry again.
		b.ingest(t, `{"type":"invoice.paid","data":{"amount":5},"tenant":"acme"}`)
		b.do(t, "GET", "/v1/event-types/nothing", "").wantError(t, 404, hookline.ENOTFOUND)
		b.do(t, "PATCH", "/v1/event-types/nothing", `{"description":"x"}`).wantError(t, 404, hookline.ENOTFOUND)
	})
	t.Run("Invalid", func(t *testing.T) {
		for _, tc := range []struct{ method, path, body, want string }{
			{"POST", "/v1/event-types", `{}`, "name: required"},
			{"POST", "/v1/event-types", `{"name":""}`, "name: required"},
			{"POST", "/v1/event-types", `{"name":"a b"}`, "name: required"},
			{"POST", "/v1/event-types", `{"name":"invoice.*"}`, "name: required"},
			{"POST", "/v1/event-types", `{"name":7}`, "name: must be a string"},
			{"POST", "/v1/event-types", `{"name":"x.y","tenant":"a b"}`, "tenant: must be"},
			{"POST", "/v1/event-types", `{"name":"x.y","description":"` + strings.Repeat("d", hookline.MaxEventTypeDescription+1) + `"}`, "description: at most"},
			{"POST", "/v1/event-types", `{"name":"x.y","schema":{"type":"nothing"}}`, "schema.type"},
			{"POST", "/v1/event-types", `{"name":"x.y","schema":12}`, "schema: must be a JSON Schema"},
			{"POST", "/v1/event-types", `{"name":"x.y","schema":{"$ref":"file:///etc/passwd"}}`, "may not refer to other documents"},
			{"POST", "/v1/event-types", `{"name":"x.y","deprecated":"yes"}`, "deprecated: must be true or false"},
			{"POST", "/v1/event-types", `{"name":"x.y","version":3}`, "version: unknown field"},
			{"PATCH", "/v1/event-types/user.created", `{"name":"user.made"}`, "name: cannot be changed"},
			{"PATCH", "/v1/event-types/user.created", `{"tenant":"acme"}`, "tenant: cannot be changed"},
			{"PATCH", "/v1/event-types/user.created", `{"schema":{"minimum":"x"}}`, "schema.minimum"},
			{"GET", "/v1/event-types?cursor=a%20b", "", "cursor: not a cursor"},
			{"GET", "/v1/event-types?limit=0", "", "limit: must be an integer"},
			{"GET", "/v1/event-types?tenant=a%20b", "", "tenant: must be"},
			{"GET", "/v1/event-types/user.created?tenant=a%20b", "", "tenant: must be"},
		} {
			b.do(t, tc.method, tc.path, tc.body).wantError(t, 400, hookline.EINVALID, tc.want)
		}
	})
}

func TestRequireEventTypes(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.RequireEventTypes = true })
	b.do(t, "POST", "/v1/events", `{"type":"invoice.paid","data":1}`).wantError(t, 400, hookline.EINVALID, `type: "invoice.paid" is not in the event type catalog`, "--require-event-types")
	b.do(t, "POST", "/v1/event-types", `{"name":"invoice.paid"}`).ok(t, 201, nil)
	b.do(t, "POST", "/v1/event-types", `{"name":"acme.only","tenant":"acme"}`).ok(t, 201, nil)
	b.ingest(t, `{"type":"invoice.paid","data":1}`)
	b.ingest(t, `{"type":"invoice.paid","data":1,"tenant":"acme"}`) // the default catalog
	b.ingest(t, `{"type":"acme.only","data":1,"tenant":"acme"}`)
	b.do(t, "POST", "/v1/events", `{"type":"acme.only","data":1,"tenant":"globex"}`).wantError(t, 400, hookline.EINVALID, "type:")
	b.do(t, "POST", "/v1/events/batch", `{"events":[{"type":"invoice.paid","data":1},{"type":"nope","data":1}]}`).
		wantError(t, 400, hookline.EINVALID, `events[1].type: "nope" is not in the event type catalog`)
}

// TestPortalEventTypes checks that a portal session reads its tenant's
// catalog (with the default entries) and cannot change it.
func TestPortalEventTypes(t *testing.T) {
	t.Parallel()
	s := setupScoped(t)
	s.do(t, "POST", "/v1/event-types", `{"name":"invoice.paid","description":"shared"}`).ok(t, 201, nil)
	s.do(t, "POST", "/v1/event-types", `{"name":"acme.only","tenant":"acme"}`).ok(t, 201, nil)
	s.do(t, "POST", "/v1/event-types", `{"name":"globex.only","tenant":"globex"}`).ok(t, 201, nil)
	var l list[eventTypeJSON]
	s.as(t, "acme", "GET", "/v1/event-types", "").ok(t, 200, &l)
	if len(l.Data) != 2 || l.Data[0].Name != "acme.only" || l.Data[1].Name != "invoice.paid" {
		t.Fatalf("acme's catalog in the portal: %+v", l)
	}
	s.as(t, "acme", "GET", "/v1/event-types/globex.only", "").wantError(t, 404, hookline.ENOTFOUND)
	s.as(t, "acme", "POST", "/v1/event-types", `{"name":"x.y"}`).wantError(t, 403, hookline.EFORBIDDEN, "portal session")
	s.as(t, "acme", "PATCH", "/v1/event-types/acme.only", `{"description":"x"}`).wantError(t, 403, hookline.EFORBIDDEN)
	s.as(t, "acme", "DELETE", "/v1/event-types/acme.only", "").wantError(t, 403, hookline.EFORBIDDEN)
}
