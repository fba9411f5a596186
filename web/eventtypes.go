package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hookline/hookline"
)

// maxCatalogPages bounds the pages of hookline.MaxLimit event types the
// dashboard reads of one catalog.
const maxCatalogPages = 10

// catalog returns the event types that apply to tenant, by name: its own
// and the default ones it does not override. A portal session's tenant is
// its own whatever tenant says (the API pins it). truncated reports that
// there were more than the dashboard reads.
func catalog(ctx context.Context, p *page, tenant string) (types []eventType, truncated bool, err error) {
	cursor := ""
	for range maxCatalogPages {
		v := url.Values{"limit": {strconv.Itoa(hookline.MaxLimit)}}
		if tenant != "" && !p.portal {
			v.Set("tenant", tenant)
		}
		if cursor != "" {
			v.Set("cursor", cursor)
		}
		var l list[eventType]
		if err := p.api.do(ctx, p.cred, http.MethodGet, "/v1/event-types?"+v.Encode(), nil, &l); err != nil {
			return nil, false, err
		}
		types = append(types, l.Data...)
		if l.NextCursor == nil {
			return types, false, nil
		}
		cursor = *l.NextCursor
	}
	return types, true, nil
}

// eventTypeForm is what the create and edit forms of an event type hold,
// as typed, so that a refused form is shown again as it was sent.
type eventTypeForm struct {
	Name, Tenant, Description, Schema string
	Deprecated                        bool
}

// readEventTypeForm reads the fields of an event type form.
func readEventTypeForm(r *http.Request) eventTypeForm {
	return eventTypeForm{
		Name:        strings.TrimSpace(r.PostFormValue("name")),
		Tenant:      strings.TrimSpace(r.PostFormValue("tenant")),
		Description: r.PostFormValue("description"),
		Schema:      r.PostFormValue("schema"),
		Deprecated:  r.PostFormValue("deprecated") == "on",
	}
}

// body returns the fields of f that the API's create (create is true) or
// update of an event type takes; an empty schema is none (null). A schema
// that is not JSON at all is refused here, in the API's words: it cannot be
// sent inside a JSON body.
func (f eventTypeForm) body(create bool) (map[string]any, error) {
	b := map[string]any{"description": f.Description, "deprecated": f.Deprecated, "schema": nil}
	if create {
		b["name"] = f.Name
		if f.Tenant != "" {
			b["tenant"] = f.Tenant
		}
	}
	if s := strings.TrimSpace(f.Schema); s != "" {
		if !json.Valid([]byte(s)) {
			return nil, hookline.Errorf(hookline.EINVALID, "schema: not valid JSON")
		}
		b["schema"] = json.RawMessage(s)
	}
	return b, nil
}

// eventTypesData is the page of the event type catalog.
type eventTypesData struct {
	Tenant    string // the catalog shown: "" for the default one
	Types     []eventType
	Truncated bool
	Form      eventTypeForm // the create form
}

// handleEventTypes is GET /event-types?tenant=: the catalog of a tenant (the
// default one without), with a form to add a type. The portal shows its
// tenant's catalog, read only.
func (h *Handler) handleEventTypes(w http.ResponseWriter, r *http.Request, p *page) {
	tenant := strings.TrimSpace(r.URL.Query().Get("tenant"))
	h.renderEventTypes(w, r, p, http.StatusOK, "", eventTypeForm{Tenant: tenant})
}

// renderEventTypes shows the catalog of form.Tenant with the create form
// holding form, and msg as the form's error when not "".
func (h *Handler) renderEventTypes(w http.ResponseWriter, r *http.Request, p *page, status int, msg string, form eventTypeForm) {
	d := eventTypesData{Tenant: form.Tenant, Form: form}
	if p.portal {
		d.Tenant = p.sess.tenant
	}
	var err error
	if d.Types, d.Truncated, err = catalog(r.Context(), p, d.Tenant); err != nil {
		h.apiError(w, r, p, err)
		return
	}
	v := p.view("Event types", "event-types", d)
	v.Error = msg
	h.render(w, r, status, "eventtypes", v)
}

// handleCreateEventType is POST /event-types: a new entry of the catalog. A
// refused form is shown again as it was typed, with the API's message.
func (h *Handler) handleCreateEventType(w http.ResponseWriter, r *http.Request, p *page) {
	f := readEventTypeForm(r)
	body, err := f.body(true)
	if err == nil {
		err = p.api.do(r.Context(), p.cred, http.MethodPost, "/v1/event-types", body, nil)
	}
	if err != nil {
		h.formError(w, r, p, err, func(status int, msg string) { h.renderEventTypes(w, r, p, status, msg, f) })
		return
	}
	p.flash("Event type " + f.Name + " created.")
	http.Redirect(w, r, p.base+"event-types?"+url.Values{"tenant": {f.Tenant}}.Encode(), http.StatusSeeOther)
}

// eventTypeData is the page of one event type.
type eventTypeData struct {
	Type eventType
	Form eventTypeForm
}

// eventTypePath returns the API path of event type name of tenant.
func eventTypePath(name, tenant string) string {
	return "/v1/event-types/" + url.PathEscape(name) + "?" + url.Values{"tenant": {tenant}}.Encode()
}

// handleEventType is GET /event-types/{name}?tenant=: the entry and the form
// that edits it.
func (h *Handler) handleEventType(w http.ResponseWriter, r *http.Request, p *page) {
	h.renderEventType(w, r, p, http.StatusOK, "", nil)
}

// renderEventType shows event type {name} of the tenant of the query or
// form, with form (the entry's own values when nil) and msg as the form's
// error when not "".
func (h *Handler) renderEventType(w http.ResponseWriter, r *http.Request, p *page, status int, msg string, form *eventTypeForm) {
	name, tenant := r.PathValue("name"), r.FormValue("tenant")
	var d eventTypeData
	if err := p.api.do(r.Context(), p.cred, http.MethodGet, eventTypePath(name, tenant), nil, &d.Type); err != nil {
		h.apiError(w, r, p, err)
		return
	}
	if d.Type.Tenant != tenant {
		// The default entry applies to tenant; it is edited as the default.
		http.Redirect(w, r, p.base+"event-types/"+url.PathEscape(name)+"?tenant=", http.StatusSeeOther)
		return
	}
	if form != nil {
		d.Form = *form
	} else {
		d.Form = eventTypeForm{Name: d.Type.Name, Tenant: d.Type.Tenant, Description: d.Type.Description, Deprecated: d.Type.Deprecated}
		if d.Type.HasSchema() {
			var b bytes.Buffer
			_ = json.Indent(&b, d.Type.Schema, "", "  ")
			d.Form.Schema = b.String()
		}
	}
	v := p.view("Event type "+name, "event-types", d)
	v.Error = msg
	h.render(w, r, status, "eventtype", v)
}

// handleEditEventType is POST /event-types/{name} {tenant, description,
// schema, deprecated}: a change of the entry. A refused form is shown again
// as it was typed, with the API's message.
func (h *Handler) handleEditEventType(w http.ResponseWriter, r *http.Request, p *page) {
	f := readEventTypeForm(r)
	f.Name = r.PathValue("name")
	body, err := f.body(false)
	if err == nil {
		err = p.api.do(r.Context(), p.cred, http.MethodPatch, eventTypePath(f.Name, f.Tenant), body, nil)
	}
	if err != nil {
		h.formError(w, r, p, err, func(status int, msg string) { h.renderEventType(w, r, p, status, msg, &f) })
		return
	}
	p.flash("Event type " + f.Name + " saved.")
	http.Redirect(w, r, p.base+"event-types?"+url.Values{"tenant": {f.Tenant}}.Encode(), http.StatusSeeOther)
}

// handleDeleteEventTypeConfirm is GET /event-types/{name}/delete?tenant=:
// are you sure?
func (h *Handler) handleDeleteEventTypeConfirm(w http.ResponseWriter, r *http.Request, p *page) {
	name, tenant := r.PathValue("name"), r.URL.Query().Get("tenant")
	var et eventType
	if err := p.api.do(r.Context(), p.cred, http.MethodGet, eventTypePath(name, tenant), nil, &et); err != nil {
		h.apiError(w, r, p, err)
		return
	}
	detail := "Endpoints subscribed to it keep their subscription; events of this type are no longer checked against its schema."
	if tenant != "" {
		detail += " A default entry of this name, if there is one, applies to " + tenant + " again."
	}
	back := p.base + "event-types/" + url.PathEscape(name) + "?" + url.Values{"tenant": {tenant}}.Encode()
	h.render(w, r, http.StatusOK, "confirm", p.view("Delete event type", "event-types", confirmData{
		Question: "Delete the event type " + name + " from the " + catalogName(tenant) + "?",
		Detail:   detail,
		Action:   p.base + "event-types/" + url.PathEscape(name) + "/delete",
		Fields:   map[string]string{"tenant": tenant},
		Button:   "Delete event type",
		Cancel:   back,
	}))
}

// handleDeleteEventType is POST /event-types/{name}/delete {tenant}.
func (h *Handler) handleDeleteEventType(w http.ResponseWriter, r *http.Request, p *page) {
	name, tenant := r.PathValue("name"), r.PostFormValue("tenant")
	if err := p.api.do(r.Context(), p.cred, http.MethodDelete, eventTypePath(name, tenant), nil, nil); err != nil {
		h.apiError(w, r, p, err)
		return
	}
	p.flash("Event type " + name + " deleted.")
	http.Redirect(w, r, p.base+"event-types?"+url.Values{"tenant": {tenant}}.Encode(), http.StatusSeeOther)
}

// catalogName names the catalog of tenant for a person.
func catalogName(tenant string) string {
	if tenant == "" {
		return "default catalog"
	}
	return "catalog of " + tenant
}

// typeChoice is an event type of the catalog offered as a checkbox on the
// endpoint forms.
type typeChoice struct {
	Name, Description string
	Deprecated        bool
	Checked           bool // the endpoint subscribes to it
}

// choices returns the checkboxes of the catalog cat for an endpoint
// subscribed to selected: every type of cat that is not deprecated, and the
// deprecated ones it subscribes to already (marked so). others are the
// endpoint's types that are not among the checkboxes, such as patterns
// "invoice.*", for the free-text field.
func choices(cat []eventType, selected []string) (cs []typeChoice, others []string) {
	sel := make(map[string]bool, len(selected))
	for _, t := range selected {
		sel[t] = true
	}
	shown := make(map[string]bool)
	for _, et := range cat {
		if et.Deprecated && !sel[et.Name] {
			continue
		}
		cs = append(cs, typeChoice{Name: et.Name, Description: et.Description, Deprecated: et.Deprecated, Checked: sel[et.Name]})
		shown[et.Name] = true
	}
	for _, t := range selected {
		if !shown[t] {
			others = append(others, t)
		}
	}
	return cs, others
}
