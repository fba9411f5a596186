package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/signature"
)

// Bounds of the endpoint search, which the API does not do: it scans the
// newest endpoints, page by page.
const (
	searchPages   = 10 // of hookline.MaxLimit endpoints
	searchResults = 200
	pageSize      = 50
)

// endpointRow is an endpoint with its figures, when the API gives them.
type endpointRow struct {
	endpoint
	Stats *endpointStats
}

// endpointsData is the Endpoints page.
type endpointsData struct {
	Rows      []endpointRow
	Q, Tenant string
	Next      string // cursor of the next page
	Scanned   int    // endpoints searched, with Q
	Truncated bool   // the search stopped before the oldest endpoint
	// Choices are the catalog's types for the create form: of the default
	// catalog and Tenant's (the portal's own tenant's).
	Choices []typeChoice
}

// handleEndpoints is GET /endpoints?q=&tenant=&cursor=: a page of endpoints,
// or those whose ID, URL, description, tenant or event types contain q.
func (h *Handler) handleEndpoints(w http.ResponseWriter, r *http.Request, p *page) {
	ctx := r.Context()
	q := r.URL.Query()
	d := endpointsData{Q: strings.TrimSpace(q.Get("q")), Tenant: q.Get("tenant")}
	base := url.Values{}
	if d.Tenant != "" && !p.portal {
		base.Set("tenant", d.Tenant)
	}
	var eps []endpoint
	switch {
	case strings.HasPrefix(d.Q, hookline.EndpointPrefix) && !strings.ContainsAny(d.Q, " /?#"):
		var ep endpoint
		err := p.api.do(ctx, p.cred, http.MethodGet, "/v1/endpoints/"+d.Q, nil, &ep)
		if err == nil {
			eps = append(eps, ep)
		} else if hookline.ErrorCode(err) != hookline.ENOTFOUND {
			h.apiError(w, r, p, err)
			return
		}
	case d.Q != "":
		needle := strings.ToLower(d.Q)
		cursor := ""
		for range searchPages {
			v := url.Values{"limit": {strconv.Itoa(hookline.MaxLimit)}, "cursor": {cursor}}
			for k, x := range base {
				v[k] = x
			}
			var l list[endpoint]
			if err := p.api.do(ctx, p.cred, http.MethodGet, "/v1/endpoints?"+v.Encode(), nil, &l); err != nil {
				h.apiError(w, r, p, err)
				return
			}
			d.Scanned += len(l.Data)
			for _, ep := range l.Data {
				if matches(ep, needle) && len(eps) < searchResults {
					eps = append(eps, ep)
				}
			}
			if l.NextCursor == nil {
				break
			}
			cursor = *l.NextCursor
			d.Truncated = true
		}
		if cursor == "" {
			d.Truncated = false
		}
	default:
		v := url.Values{"limit": {strconv.Itoa(pageSize)}}
		for k, x := range base {
			v[k] = x
		}
		if c := q.Get("cursor"); c != "" {
			v.Set("cursor", c)
		}
		var l list[endpoint]
		if err := p.api.do(ctx, p.cred, http.MethodGet, "/v1/endpoints?"+v.Encode(), nil, &l); err != nil {
			h.apiError(w, r, p, err)
			return
		}
		eps = l.Data
		if l.NextCursor != nil {
			d.Next = *l.NextCursor
		}
	}
	d.Rows = h.withStats(ctx, p, eps)
	if !isFragment(r) {
		cat, _, err := catalog(ctx, p, d.Tenant)
		if err != nil {
			h.apiError(w, r, p, err)
			return
		}
		d.Choices, _ = choices(cat, nil)
	}
	v := p.view("Endpoints", "endpoints", d)
	v.Live = true
	h.render(w, r, http.StatusOK, "endpoints", v)
}

// matches reports whether needle (lower case) is in any text of ep.
func matches(ep endpoint, needle string) bool {
	for _, s := range append([]string{ep.ID, ep.URL, ep.Description, ep.Tenant}, ep.EventTypes...) {
		if strings.Contains(strings.ToLower(s), needle) {
			return true
		}
	}
	return false
}

// withStats adds each endpoint's figures from GET /v1/endpoints/{id}/stats.
// An API without that route is asked once only.
func (h *Handler) withStats(ctx context.Context, p *page, eps []endpoint) []endpointRow {
	rows := make([]endpointRow, len(eps))
	supported := true
	for i, ep := range eps {
		rows[i].endpoint = ep
		if !supported {
			continue
		}
		var st endpointStats
		if err := p.api.do(ctx, p.cred, http.MethodGet, "/v1/endpoints/"+ep.ID+"/stats", nil, &st); err == nil {
			rows[i].Stats = &st
		} else if strings.HasPrefix(hookline.ErrorMessage(err), "no route") {
			supported = false
		}
	}
	return rows
}

// endpointData is the page of one endpoint.
type endpointData struct {
	endpointRow
	Secret     string // shown once, when revealed, rotated or created
	Deliveries []delivery
	DeadCount  string // dead letters among them, "50+" when a page is full
	// Choices are the types of the catalog of the endpoint's tenant for the
	// edit form; OtherTypes the endpoint's types that are not among them.
	Choices    []typeChoice
	OtherTypes []string
}

// renderEndpoint shows endpoint id, with secret when not "".
func (h *Handler) renderEndpoint(w http.ResponseWriter, r *http.Request, p *page, id, secret string) {
	ctx := r.Context()
	var ep endpoint
	if err := p.api.do(ctx, p.cred, http.MethodGet, "/v1/endpoints/"+url.PathEscape(id), nil, &ep); err != nil {
		h.apiError(w, r, p, err)
		return
	}
	d := endpointData{endpointRow: h.withStats(ctx, p, []endpoint{ep})[0], Secret: secret}
	var ds list[delivery]
	if err := p.api.do(ctx, p.cred, http.MethodGet, "/v1/deliveries?limit=20&endpoint_id="+url.QueryEscape(ep.ID), nil, &ds); err != nil {
		h.apiError(w, r, p, err)
		return
	}
	d.Deliveries = ds.Data
	var dead list[delivery]
	if err := p.api.do(ctx, p.cred, http.MethodGet, "/v1/deliveries?limit=50&status=failed&endpoint_id="+url.QueryEscape(ep.ID), nil, &dead); err == nil {
		d.DeadCount = strconv.Itoa(len(dead.Data))
		if dead.NextCursor != nil {
			d.DeadCount += "+"
		}
	}
	if !isFragment(r) {
		cat, _, err := catalog(ctx, p, ep.Tenant)
		if err != nil {
			h.apiError(w, r, p, err)
			return
		}
		d.Choices, d.OtherTypes = choices(cat, ep.EventTypes)
	}
	if secret != "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	v := p.view(ep.URL, "endpoints", d)
	v.Live = r.Method == http.MethodGet // a page answering a POST cannot be fetched again
	h.render(w, r, http.StatusOK, "endpoint", v)
}

// handleEndpoint is GET /endpoints/{id}.
func (h *Handler) handleEndpoint(w http.ResponseWriter, r *http.Request, p *page) {
	h.renderEndpoint(w, r, p, r.PathValue("id"), "")
}

// endpointForm reads the fields of the create and edit forms. Fields the
// form does not have are left out, so that an older API is not sent fields
// it refuses.
func endpointForm(r *http.Request, portal bool) map[string]any {
	body := map[string]any{}
	if v, ok := r.PostForm["url"]; ok {
		body["url"] = strings.TrimSpace(v[0])
	}
	if v, ok := r.PostForm["description"]; ok {
		body["description"] = v[0]
	}
	// The checked types of the catalog (catalog_type) and those typed.
	checked, hasChecked := r.PostForm["catalog_type"]
	if v, ok := r.PostForm["event_types"]; ok || hasChecked {
		types, seen := []string{}, map[string]bool{}
		typed := ""
		if ok {
			typed = v[0]
		}
		for _, t := range slices.Concat(checked, strings.FieldsFunc(typed, func(c rune) bool { return c == ',' || c == ' ' || c == '\n' || c == '\r' })) {
			if t = strings.TrimSpace(t); t != "" && !seen[t] {
				seen[t] = true
				types = append(types, t)
			}
		}
		body["event_types"] = types
	}
	if v, ok := r.PostForm["tenant"]; ok && !portal && v[0] != "" {
		body["tenant"] = strings.TrimSpace(v[0])
	}
	if v, ok := r.PostForm["rate_limit"]; ok {
		if f, err := strconv.ParseFloat(strings.TrimSpace(v[0]), 64); err == nil {
			body["rate_limit"] = f
		} else if strings.TrimSpace(v[0]) == "" {
			body["rate_limit"] = 0
		} else {
			body["rate_limit"] = v[0] // the API names the field in its error
		}
	}
	if v, ok := r.PostForm["timeout"]; ok {
		body["timeout"] = nil // the server's
		if t := strings.TrimSpace(v[0]); t != "" {
			body["timeout"] = t
		}
	}
	if v, ok := r.PostForm["retry_schedule"]; ok {
		body["retry_schedule"] = nil
		if ds := strings.FieldsFunc(v[0], func(c rune) bool { return c == ',' || c == ' ' }); len(ds) > 0 {
			body["retry_schedule"] = ds
		}
	}
	if v, ok := r.PostForm["filter"]; ok {
		f := strings.TrimSpace(v[0])
		switch {
		case f == "":
			body["filter"] = nil
		case json.Valid([]byte(f)):
			body["filter"] = json.RawMessage(f)
		default:
			body["filter"] = f // the API says what a filter must be
		}
	}
	if v, ok := r.PostForm["max_in_flight"]; ok {
		if n, err := strconv.Atoi(strings.TrimSpace(v[0])); err == nil {
			body["max_in_flight"] = n
		} else {
			body["max_in_flight"] = v[0]
		}
	}
	return body
}

// handleCreateEndpoint is POST /endpoints: the new endpoint's page shows its
// secret once.
func (h *Handler) handleCreateEndpoint(w http.ResponseWriter, r *http.Request, p *page) {
	var ep endpoint
	if err := p.api.do(r.Context(), p.cred, http.MethodPost, "/v1/endpoints", endpointForm(r, p.portal), &ep); err != nil {
		h.apiError(w, r, p, err)
		return
	}
	p.flash("Endpoint created. Copy its signing secret now; it is shown again only when you reveal it.")
	h.renderEndpoint(w, r, p, ep.ID, ep.Secret)
}

// handleEditEndpoint is POST /endpoints/{id}: a partial update.
func (h *Handler) handleEditEndpoint(w http.ResponseWriter, r *http.Request, p *page) {
	id := r.PathValue("id")
	body := endpointForm(r, p.portal)
	delete(body, "tenant")
	if err := p.api.do(r.Context(), p.cred, http.MethodPatch, "/v1/endpoints/"+url.PathEscape(id), body, nil); err != nil {
		h.apiError(w, r, p, err)
		return
	}
	p.flash("Endpoint saved.")
	http.Redirect(w, r, p.base+"endpoints/"+url.PathEscape(id), http.StatusSeeOther)
}

// handleDisable is POST /endpoints/{id}/disable and …/enable.
func (h *Handler) handleDisable(disabled bool) func(http.ResponseWriter, *http.Request, *page) {
	return func(w http.ResponseWriter, r *http.Request, p *page) {
		id := r.PathValue("id")
		if err := p.api.do(r.Context(), p.cred, http.MethodPatch, "/v1/endpoints/"+url.PathEscape(id), map[string]any{"disabled": disabled}, nil); err != nil {
			h.apiError(w, r, p, err)
			return
		}
		if disabled {
			p.flash("Endpoint disabled: it gets no new deliveries until it is enabled.")
		} else {
			p.flash("Endpoint enabled.")
		}
		http.Redirect(w, r, p.base+"endpoints/"+url.PathEscape(id), http.StatusSeeOther)
	}
}

// confirmData is a confirmation page of an action.
type confirmData struct {
	Question string
	Detail   string
	Action   string            // the form's URL
	Fields   map[string]string // hidden fields carried over
	Button   string
	Cancel   string
}

// handleDeleteConfirm is GET /endpoints/{id}/delete: are you sure?
func (h *Handler) handleDeleteConfirm(w http.ResponseWriter, r *http.Request, p *page) {
	id := r.PathValue("id")
	var ep endpoint
	if err := p.api.do(r.Context(), p.cred, http.MethodGet, "/v1/endpoints/"+url.PathEscape(id), nil, &ep); err != nil {
		h.apiError(w, r, p, err)
		return
	}
	h.render(w, r, http.StatusOK, "confirm", p.view("Delete endpoint", "endpoints", confirmData{
		Question: "Delete the endpoint " + ep.URL + "?",
		Detail:   "Its deliveries and their attempts are deleted with it. This cannot be undone.",
		Action:   p.base + "endpoints/" + url.PathEscape(id) + "/delete",
		Button:   "Delete endpoint",
		Cancel:   p.base + "endpoints/" + url.PathEscape(id),
	}))
}

// handleDelete is POST /endpoints/{id}/delete.
func (h *Handler) handleDelete(w http.ResponseWriter, r *http.Request, p *page) {
	id := r.PathValue("id")
	if err := p.api.do(r.Context(), p.cred, http.MethodDelete, "/v1/endpoints/"+url.PathEscape(id), nil, nil); err != nil {
		h.apiError(w, r, p, err)
		return
	}
	p.flash("Endpoint deleted.")
	http.Redirect(w, r, p.base+"endpoints", http.StatusSeeOther)
}

// handleRevealSecret is POST /endpoints/{id}/secret: the page again, with
// the secret. It is a POST so that the secret never sits in a cacheable GET
// or in the history.
func (h *Handler) handleRevealSecret(w http.ResponseWriter, r *http.Request, p *page) {
	id := r.PathValue("id")
	var s struct {
		Secret string `json:"secret"`
	}
	if err := p.api.do(r.Context(), p.cred, http.MethodGet, "/v1/endpoints/"+url.PathEscape(id)+"/secret", nil, &s); err != nil {
		h.apiError(w, r, p, err)
		return
	}
	h.renderEndpoint(w, r, p, id, s.Secret)
}

// handleRotateSecret is POST /endpoints/{id}/rotate {expire_old_in?}: a new
// secret, by POST /v1/endpoints/{id}/secret/rotate when the API has it (the
// old secret may keep signing for a while), else by setting a new one with
// PATCH, which replaces it at once.
func (h *Handler) handleRotateSecret(w http.ResponseWriter, r *http.Request, p *page) {
	id := r.PathValue("id")
	ctx := r.Context()
	body := map[string]any{}
	if v := strings.TrimSpace(r.PostFormValue("expire_old_in")); v != "" {
		body["expire_old_in"] = v
	}
	var s struct {
		Secret string `json:"secret"`
	}
	err := p.api.do(ctx, p.cred, http.MethodPost, "/v1/endpoints/"+url.PathEscape(id)+"/secret/rotate", body, &s)
	if err != nil && strings.HasPrefix(hookline.ErrorMessage(err), "no route") {
		s.Secret = signature.GenerateSecret()
		err = p.api.do(ctx, p.cred, http.MethodPatch, "/v1/endpoints/"+url.PathEscape(id), map[string]any{"secret": s.Secret}, nil)
	}
	if err != nil {
		h.apiError(w, r, p, err)
		return
	}
	p.flash("Secret rotated. Give the new secret to the receiver; copy it now.")
	h.renderEndpoint(w, r, p, id, s.Secret)
}

// handleRecover is POST /endpoints/{id}/recover: every dead letter of the
// endpoint back to pending.
func (h *Handler) handleRecover(w http.ResponseWriter, r *http.Request, p *page) {
	id := r.PathValue("id")
	var res struct {
		Requeued int `json:"requeued"`
	}
	if err := p.api.do(r.Context(), p.cred, http.MethodPost, "/v1/endpoints/"+url.PathEscape(id)+"/recover", nil, &res); err != nil {
		h.apiError(w, r, p, err)
		return
	}
	p.flash(fmt.Sprintf("Recovered: %s sent again.", plural(res.Requeued, "dead letter", "dead letters")))
	back := r.PostFormValue("back")
	if back == "deliveries" {
		http.Redirect(w, r, p.base+"deliveries?endpoint_id="+url.QueryEscape(id), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, p.base+"endpoints/"+url.PathEscape(id), http.StatusSeeOther)
}

// handleReplayMissing is POST /endpoints/{id}/replay-missing {since,
// until?}: a delivery to the endpoint of every event of its tenant accepted
// in [since, until) that it matches and never got, by POST
// /v1/endpoints/{id}/replay-missing. The times are read as UTC.
func (h *Handler) handleReplayMissing(w http.ResponseWriter, r *http.Request, p *page) {
	id := r.PathValue("id")
	body := map[string]string{}
	for _, f := range []string{"since", "until"} {
		v := strings.TrimSpace(r.PostFormValue(f))
		if v == "" {
			continue
		}
		t, err := time.Parse(timeForm, v)
		if err != nil {
			h.apiError(w, r, p, hookline.Errorf(hookline.EINVALID, "%s: a date and time such as 2025-01-31T12:00", f))
			return
		}
		body[f] = t.Format(time.RFC3339)
	}
	var res struct {
		Created int `json:"created"`
	}
	if err := p.api.do(r.Context(), p.cred, http.MethodPost, "/v1/endpoints/"+url.PathEscape(id)+"/replay-missing", body, &res); err != nil {
		h.apiError(w, r, p, err)
		return
	}
	p.flash(fmt.Sprintf("Replayed what it missed: created %s.", plural(res.Created, "delivery", "deliveries")))
	http.Redirect(w, r, p.base+"endpoints/"+url.PathEscape(id), http.StatusSeeOther)
}
