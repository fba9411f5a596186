package web_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// apiEventType is what the tests read of an event type.
type apiEventType struct {
	Tenant      string          `json:"tenant"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
	Deprecated  bool            `json:"deprecated"`
}

// TestEventTypes checks the catalog pages: the list of a catalog, create,
// edit and delete; a refused form shown again as typed with the API's
// message and nothing written; and portals that read their own tenant's
// catalog and the default one only.
func TestEventTypes(t *testing.T) {
	s := setupStack(t)
	b := s.signIn(t)
	getType := func(name, tenant string) (apiEventType, int) {
		var et apiEventType
		code := s.call(t, "GET", "/v1/event-types/"+name+"?tenant="+tenant, nil, &et)
		return et, code
	}

	t.Run("Create", func(t *testing.T) {
		b.get("/event-types").want(t, 200, "No event types in this catalog yet", "New event type")
		b.post("/event-types", url.Values{"name": {"invoice.paid"}, "description": {"An invoice was paid"},
			"schema": {`{"type": "object", "required": ["id"]}`}}).want(t, 303)
		a := b.get("/event-types").want(t, 200, "Event type invoice.paid created.", "invoice.paid", "An invoice was paid", "default")
		if !strings.Contains(a.body, "<td>yes</td>") {
			t.Fatal("the list does not say the type has a schema")
		}
		if et, code := getType("invoice.paid", ""); code != 200 || et.Description != "An invoice was paid" || string(et.Schema) != `{"type":"object","required":["id"]}` {
			t.Fatalf("created: %d %+v", code, et)
		}
		b.post("/event-types", url.Values{"name": {"order.created"}, "tenant": {"acme"}}).want(t, 303)
		b.post("/event-types", url.Values{"name": {"globex.only"}, "tenant": {"globex"}}).want(t, 303)
		b.get("/event-types?tenant=globex").want(t, 200, "Event type globex.only created.", "The catalog of globex")
		a = b.get("/event-types?tenant=acme").want(t, 200, "The catalog of acme", "order.created", "invoice.paid")
		if strings.Contains(a.body, "globex.only") {
			t.Fatal("acme's catalog shows globex's type")
		}
		if a := b.get("/event-types").want(t, 200, "invoice.paid"); strings.Contains(a.body, "order.created") {
			t.Fatal("the default catalog shows acme's type")
		}
	})

	t.Run("RefusedFormKeepsWhatWasTyped", func(t *testing.T) {
		for _, c := range []struct {
			schema, msg string
		}{
			{`{"type": "nothing"}`, "schema.type"},
			{`{"type": `, "schema: not valid JSON"},
			{`12`, "schema: must be a JSON Schema"},
		} {
			a := b.post("/event-types", url.Values{"name": {"bad.schema"}, "tenant": {"acme"}, "description": {"typed by hand"}, "schema": {c.schema}, "deprecated": {"on"}})
			a.want(t, 400, c.msg, `value="bad.schema"`, `value="typed by hand"`, ">"+c.schema+"</textarea>", "checked", `<details class="card" id="new-event-type" open>`)
			if _, code := getType("bad.schema", "acme"); code != 404 {
				t.Fatalf("a refused form wrote the type: %d", code)
			}
		}
		b.post("/event-types", url.Values{"name": {"invoice.paid"}}).want(t, 409, "invoice.paid")
		b.post("/event-types", url.Values{"name": {"invoice.*"}}).want(t, 400, "name")
	})

	t.Run("Edit", func(t *testing.T) {
		b.get("/event-types/invoice.paid?tenant=").want(t, 200, "Event type invoice.paid", `"required": [`, "Delete…")
		// Under a tenant without its own entry, the default one is edited.
		if a := b.get("/event-types/invoice.paid?tenant=acme"); a.code != 303 || a.location != "/event-types/invoice.paid?tenant=" {
			t.Fatalf("the default entry seen under acme: %d %q", a.code, a.location)
		}
		b.post("/event-types/invoice.paid", url.Values{"tenant": {""}, "description": {"Paid!"}, "schema": {""}, "deprecated": {"on"}}).want(t, 303)
		b.get("/event-types").want(t, 200, "Event type invoice.paid saved.", "Paid!", "deprecated")
		if et, _ := getType("invoice.paid", ""); et.Description != "Paid!" || !et.Deprecated || (len(et.Schema) > 0 && string(et.Schema) != "null") {
			t.Fatalf("after the edit: %+v", et)
		}
		b.get("/event-types/invoice.paid?tenant=")
		b.post("/event-types/invoice.paid", url.Values{"tenant": {""}, "description": {"Changed again"}, "schema": {`{"minimum": "x"}`}}).
			want(t, 400, "schema.minimum", `value="Changed again"`, `{"minimum": "x"}`)
		if et, _ := getType("invoice.paid", ""); et.Description != "Paid!" {
			t.Fatalf("a refused edit wrote: %+v", et)
		}
		b.get("/event-types/missing.type?tenant=").want(t, 404)
	})

	t.Run("Portal", func(t *testing.T) {
		p := s.client(t)
		p.get(mustRequestURI(t, s.portalLink(t, "acme", "1h"))).want(t, 200)
		a := p.get("/portal/event-types").want(t, 200, "order.created", "invoice.paid", "deprecated")
		if strings.Contains(a.body, "globex.only") || strings.Contains(a.body, "New event type") || strings.Contains(a.body, `href="/event-types/`) {
			t.Fatalf("acme's portal catalog: %s", a.body)
		}
		g := s.client(t)
		g.get(mustRequestURI(t, s.portalLink(t, "globex", "1h"))).want(t, 200)
		if a := g.get("/portal/event-types").want(t, 200, "globex.only", "invoice.paid"); strings.Contains(a.body, "order.created") {
			t.Fatal("globex's portal shows acme's type")
		}
		g.post("/portal/event-types", url.Values{"name": {"x.y"}}).want(t, 404)
		g.get("/portal/event-types/order.created?tenant=acme").want(t, 404)
		if _, code := getType("x.y", "globex"); code != 404 {
			t.Fatal("a portal created an event type")
		}
	})

	t.Run("NamesThatNeedEscaping", func(t *testing.T) {
		for _, name := range []string{"billing/invoice.paid", "odd?name#1%"} {
			b.post("/event-types", url.Values{"name": {name}}).want(t, 303)
			path := "/event-types/" + url.PathEscape(name)
			b.get("/event-types").want(t, 200, `href="`+path+`?tenant="`)
			b.get(path+"?tenant=").want(t, 200, "Event type "+name, `action="`+path+`"`)
			b.post(path, url.Values{"tenant": {""}, "description": {"escaped"}}).want(t, 303)
			if et, code := getType(url.PathEscape(name), ""); code != 200 || et.Description != "escaped" {
				t.Fatalf("%s after the edit: %d %+v", name, code, et)
			}
			b.get(path+"/delete?tenant=").want(t, 200, "Delete the event type "+name)
			b.post(path+"/delete", url.Values{"tenant": {""}}).want(t, 303)
			if _, code := getType(url.PathEscape(name), ""); code != 404 {
				t.Fatalf("%s after delete: %d", name, code)
			}
		}
	})

	t.Run("Delete", func(t *testing.T) {
		b.get("/event-types/order.created/delete?tenant=acme").want(t, 200, "Delete the event type order.created from the catalog of acme?")
		if _, code := getType("order.created", "acme"); code != 200 {
			t.Fatal("the confirmation deleted the type")
		}
		b.post("/event-types/order.created/delete", url.Values{"tenant": {"acme"}}).want(t, 303)
		b.get("/event-types?tenant=acme").want(t, 200, "Event type order.created deleted.")
		if _, code := getType("order.created", "acme"); code != 404 {
			t.Fatalf("after delete: %d", code)
		}
	})
}

// TestEndpointFormCatalog checks that the endpoint forms offer the catalog's
// types as checkboxes (deprecated ones only to an endpoint subscribed to
// them, marked so), keep the free-text field for the rest, and that a
// portal offers its tenant's catalog and the default one only.
func TestEndpointFormCatalog(t *testing.T) {
	s := setupStack(t)
	for _, et := range []map[string]any{
		{"name": "invoice.paid", "description": "An invoice was paid"},
		{"name": "invoice.old", "deprecated": true},
		{"name": "order.created", "tenant": "acme"},
		{"name": "globex.only", "tenant": "globex"},
	} {
		if code := s.call(t, "POST", "/v1/event-types", et, nil); code != 201 {
			t.Fatalf("create %v: %d", et, code)
		}
	}
	box := func(name string) string { return `name="catalog_type" value="` + name + `"` }
	lacks := func(t *testing.T, a answer, parts ...string) {
		t.Helper()
		for _, p := range parts {
			if strings.Contains(a.body, p) {
				t.Fatalf("the page has %q", p)
			}
		}
	}
	b := s.signIn(t)
	var ep apiEndpoint

	t.Run("Create", func(t *testing.T) {
		a := b.get("/endpoints").want(t, 200, box("invoice.paid"), "An invoice was paid", "Other event types")
		lacks(t, a, box("invoice.old"), box("order.created"), box("globex.only"))
		a = b.get("/endpoints?tenant=acme").want(t, 200, box("invoice.paid"), box("order.created"))
		lacks(t, a, box("invoice.old"), box("globex.only"))
		b.post("/endpoints", url.Values{"url": {s.receiver.URL + "/c"}, "tenant": {"acme"},
			"catalog_type": {"invoice.paid", "order.created"}, "event_types": {"shipment.*, invoice.paid"}}).want(t, 200, "Endpoint created")
		var l apiList[struct {
			apiEndpoint
			EventTypes []string `json:"event_types"`
		}]
		s.call(t, "GET", "/v1/endpoints?tenant=acme", nil, &l)
		if len(l.Data) != 1 || strings.Join(l.Data[0].EventTypes, ",") != "invoice.paid,order.created,shipment.*" {
			t.Fatalf("endpoints of acme: %+v", l.Data)
		}
		ep = l.Data[0].apiEndpoint
	})

	t.Run("Edit", func(t *testing.T) {
		a := b.get("/endpoints/"+ep.ID).want(t, 200, box("invoice.paid")+" checked", box("order.created")+" checked", `name="event_types" value="shipment.*"`)
		lacks(t, a, box("invoice.old"), box("globex.only"))
		if code := s.call(t, "PATCH", "/v1/endpoints/"+ep.ID, map[string]any{"event_types": []string{"invoice.old", "order.created"}}, nil); code != 200 {
			t.Fatalf("patch: %d", code)
		}
		b.get("/endpoints/"+ep.ID).want(t, 200, box("invoice.old")+" checked", "deprecated", box("invoice.paid")+">", `name="event_types" value=""`)
		// Unchecking the deprecated type drops it; it is not offered again.
		b.post("/endpoints/"+ep.ID, url.Values{"catalog_type": {"order.created"}, "event_types": {""}}).want(t, 303)
		lacks(t, b.get("/endpoints/"+ep.ID).want(t, 200, "Endpoint saved", box("order.created")+" checked"), box("invoice.old"))
		// Nothing checked or typed is every type.
		b.post("/endpoints/"+ep.ID, url.Values{"event_types": {""}}).want(t, 303)
		b.get("/endpoints/"+ep.ID).want(t, 200, "* (every type)")
	})

	t.Run("Portal", func(t *testing.T) {
		p := s.client(t)
		p.get(mustRequestURI(t, s.portalLink(t, "acme", "1h"))).want(t, 200)
		lacks(t, p.get("/portal/endpoints").want(t, 200, box("invoice.paid"), box("order.created")), box("globex.only"), box("invoice.old"))
		lacks(t, p.get("/portal/endpoints/"+ep.ID).want(t, 200, box("invoice.paid"), box("order.created")), box("globex.only"))
		g := s.client(t)
		g.get(mustRequestURI(t, s.portalLink(t, "globex", "1h"))).want(t, 200)
		lacks(t, g.get("/portal/endpoints").want(t, 200, box("globex.only"), box("invoice.paid")), box("order.created"))
	})
}
