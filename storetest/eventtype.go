package storetest

import (
	"encoding/json"
	"testing"

	"github.com/hookline/hookline"
)

var eventTypeTests = []test{
	{"CRUD", testEventTypeCRUD},
	{"Tenants", testEventTypeTenants},
	{"Pages", testEventTypePages},
}

// eventType creates a catalog entry at the next tick.
func (b *bundle) eventType(t *testing.T, tenant, name, schema string) *hookline.EventType {
	t.Helper()
	now := b.tick()
	et := &hookline.EventType{Tenant: tenant, Name: name, Description: "about " + name, Version: 1, CreatedAt: now, UpdatedAt: now}
	if schema != "" {
		et.Schema = json.RawMessage(schema)
	}
	if err := b.s.CreateEventType(b.ctx, et); err != nil {
		t.Fatalf("CreateEventType: %v", err)
	}
	return et
}

func testEventTypeCRUD(t *testing.T, b *bundle) {
	created := b.eventType(t, "", "invoice.paid", `{"type":"object"}`)
	got, err := b.s.FindEventType(b.ctx, "", "invoice.paid")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, got.Name, "invoice.paid", "Name")
	equal(t, got.Description, created.Description, "Description")
	equal(t, string(got.Schema), `{"type":"object"}`, "Schema")
	equal(t, got.Version, 1, "Version")
	sameTime(t, got.CreatedAt, created.CreatedAt, "CreatedAt")
	err = b.s.CreateEventType(b.ctx, &hookline.EventType{Name: "invoice.paid", Version: 1, CreatedAt: b.now, UpdatedAt: b.now})
	wantCode(t, err, hookline.ECONFLICT, "CreateEventType of an existing name")

	desc, dep := "changed", true
	now := b.tick()
	up, err := b.s.UpdateEventType(b.ctx, "", "invoice.paid", hookline.EventTypeUpdate{Description: &desc, Deprecated: &dep}, now)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, up.Version, 2, "Version after an update")
	equal(t, up.Description, "changed", "Description after an update")
	equal(t, string(up.Schema), `{"type":"object"}`, "Schema after an update that leaves it")
	up, err = b.s.UpdateEventType(b.ctx, "", "invoice.paid", hookline.EventTypeUpdate{SetSchema: true}, b.tick())
	if err != nil {
		t.Fatal(err)
	}
	got, err = b.s.FindEventType(b.ctx, "", "invoice.paid")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, got.Version, 3, "Version after two updates")
	equal(t, len(got.Schema), 0, "Schema after removing it")
	equal(t, got.Deprecated, true, "Deprecated")
	sameTime(t, got.UpdatedAt, up.UpdatedAt, "UpdatedAt")
	sameTime(t, got.CreatedAt, created.CreatedAt, "CreatedAt after updates")

	_, err = b.s.UpdateEventType(b.ctx, "", "nothing", hookline.EventTypeUpdate{Description: &desc}, b.tick())
	wantNotFound(t, err, "UpdateEventType of an unknown name")
	if err := b.s.DeleteEventType(b.ctx, "", "invoice.paid"); err != nil {
		t.Fatal(err)
	}
	_, err = b.s.FindEventType(b.ctx, "", "invoice.paid")
	wantNotFound(t, err, "FindEventType after delete")
	wantNotFound(t, b.s.DeleteEventType(b.ctx, "", "invoice.paid"), "DeleteEventType twice")
}

// testEventTypeTenants checks that a tenant sees the default catalog and
// its own entries, its own winning, and changes only its own.
func testEventTypeTenants(t *testing.T, b *bundle) {
	b.eventType(t, "", "invoice.paid", `{"type":"object"}`)
	b.eventType(t, "", "user.created", "")
	b.eventType(t, "acme", "invoice.paid", `{"type":"array"}`)
	b.eventType(t, "acme", "acme.special", "")
	b.eventType(t, "globex", "globex.only", "")

	got, err := b.s.FindEventType(b.ctx, "acme", "invoice.paid")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, got.Tenant, "acme", "Tenant of acme's own entry")
	equal(t, string(got.Schema), `{"type":"array"}`, "Schema of acme's own entry")
	got, err = b.s.FindEventType(b.ctx, "acme", "user.created")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, got.Tenant, "", "Tenant of a default entry")
	_, err = b.s.FindEventType(b.ctx, "acme", "globex.only")
	wantNotFound(t, err, "FindEventType of another tenant's entry")
	_, err = b.s.FindEventType(b.ctx, "", "acme.special")
	wantNotFound(t, err, "FindEventType of a tenant's entry in the default catalog")

	names := func(tenant string) []string {
		ts, next, err := b.s.FindEventTypes(b.ctx, hookline.EventTypeFilter{Tenant: tenant})
		if err != nil {
			t.Fatal(err)
		}
		equal(t, next, "", "next cursor")
		var out []string
		for _, et := range ts {
			out = append(out, et.Tenant+"/"+et.Name)
		}
		return out
	}
	if got, want := names("acme"), []string{"acme/acme.special", "acme/invoice.paid", "/user.created"}; !equalStrings(got, want) {
		t.Errorf("acme's catalog = %v, want %v", got, want)
	}
	if got, want := names(""), []string{"/invoice.paid", "/user.created"}; !equalStrings(got, want) {
		t.Errorf("the default catalog = %v, want %v", got, want)
	}
	desc := "x"
	_, err = b.s.UpdateEventType(b.ctx, "acme", "user.created", hookline.EventTypeUpdate{Description: &desc}, b.tick())
	wantNotFound(t, err, "UpdateEventType of a default entry by a tenant")
	wantNotFound(t, b.s.DeleteEventType(b.ctx, "acme", "user.created"), "DeleteEventType of a default entry by a tenant")
	// Deleting acme's own entry uncovers the default one.
	if err := b.s.DeleteEventType(b.ctx, "acme", "invoice.paid"); err != nil {
		t.Fatal(err)
	}
	got, err = b.s.FindEventType(b.ctx, "acme", "invoice.paid")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, got.Tenant, "", "Tenant after acme's own entry went")
}

func testEventTypePages(t *testing.T, b *bundle) {
	for _, n := range []string{"e.1", "e.2", "e.3", "e.4"} {
		b.eventType(t, "", n, "")
	}
	b.eventType(t, "acme", "e.25", "")
	var all []string
	f := hookline.EventTypeFilter{Tenant: "acme", Limit: 2}
	for range 10 {
		ts, next, err := b.s.FindEventTypes(b.ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) > 2 {
			t.Fatalf("%d entries in a page of 2", len(ts))
		}
		for _, et := range ts {
			all = append(all, et.Name)
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	if want := []string{"e.1", "e.2", "e.25", "e.3", "e.4"}; !equalStrings(all, want) {
		t.Errorf("pages = %v, want %v", all, want)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
