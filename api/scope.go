package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/hookline/hookline"
)

// This file holds the tenant-scoped principals: an API key of one tenant
// (made with POST /v1/keys), and a customer portal session of package web,
// made in-process, which carries its tenant in its context (set with
// WithTenant; nothing a client sends over HTTP can set it). Both get one
// set of rules: every /v1 route is scoped to the tenant, lists show only
// its objects, another tenant's object is 404 as if it did not exist, a
// body naming another tenant is 403 forbidden, and /v1/keys is 403.
// GET /v1/stats answers the tenant's own figures. A portal session may
// not send events.

// maxScopedEndpoints bounds how many endpoints of one tenant a scoped list
// of deliveries merges, or tenant stats sum; past it, the client must
// filter by endpoint_id.
const maxScopedEndpoints = 1000

// scope is the tenant a /v1 request is confined to, and by what.
type scope struct {
	tenant string
	portal bool // a portal session of package web; else a tenant API key
}

// scopeKey is the context key of the scope of a request.
type scopeKey struct{}

// WithTenant returns a copy of ctx under which the Server treats a /v1
// request as made by a portal session of tenant, without an Authorization
// header. It is for in-process callers only (the dashboard's portal
// sessions): a request from the network never carries it.
func WithTenant(ctx context.Context, tenant string) context.Context {
	return withScope(ctx, scope{tenant: tenant, portal: true})
}

// withScope returns a copy of ctx holding sc.
func withScope(ctx context.Context, sc scope) context.Context {
	return context.WithValue(ctx, scopeKey{}, sc)
}

// scopeOf returns the scope of a request, and whether it has one.
func scopeOf(ctx context.Context) (scope, bool) {
	sc, ok := ctx.Value(scopeKey{}).(scope)
	return sc, ok
}

// tenantOf returns the tenant of an object a request makes, from the
// tenant its body names (at is the field's path): for a scoped request,
// the scope's tenant, or EFORBIDDEN when the body names another one; for
// an admin request, given.
func tenantOf(ctx context.Context, at, given string) (string, error) {
	sc, ok := scopeOf(ctx)
	if !ok {
		return given, nil
	}
	if given != "" && given != sc.tenant {
		return "", forbiddenTenant(at, sc.tenant)
	}
	return sc.tenant, nil
}

// forbiddenTenant is the error for a body that names a tenant other than
// the request's own.
func forbiddenTenant(at, tenant string) error {
	return hookline.Errorf(hookline.EFORBIDDEN, "%s: this key acts for tenant %.130q only; leave the field out or send that tenant", join(at, "tenant"), tenant)
}

// unmeteredKey marks the context of an in-process request that the API
// rate limit does not count.
type unmeteredKey struct{}

// Unmetered returns a copy of ctx under which the Server does not count a
// /v1 request against its key's rate limit. It is for in-process callers
// only (the dashboard, whose sampler asks for /v1/stats every second on the
// operator's key): a request from the network never carries it.
func Unmetered(ctx context.Context) context.Context {
	return context.WithValue(ctx, unmeteredKey{}, true)
}

// unmetered reports whether ctx was made by Unmetered.
func unmetered(ctx context.Context) bool {
	ok, _ := ctx.Value(unmeteredKey{}).(bool)
	return ok
}

// serveScoped serves a /v1 request of scope sc: it checks that the object
// the path names belongs to the tenant (404 otherwise), pins lists and new
// objects to it, and refuses routes that are not the tenant's.
func (s *Server) serveScoped(w http.ResponseWriter, r *http.Request, sc scope) {
	tenant := sc.tenant
	_, pattern := s.mux.Handler(r)
	// Segments as the mux sees them: split before unescaping, so that the ID
	// checked here is the {id} the handler gets.
	parts := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/v1/"), "/")
	id := ""
	if len(parts) > 1 {
		var err error
		if id, err = url.PathUnescape(parts[1]); err != nil {
			s.writeError(w, r, hookline.Errorf(hookline.ENOTFOUND, "no route for %s", r.URL.Path))
			return
		}
	}
	var err error
	switch {
	case parts[0] == "keys":
		err = hookline.Errorf(hookline.EFORBIDDEN, "API keys are managed with the admin key only")
	case pattern == "GET /v1/endpoints":
		q := r.URL.Query()
		q.Set("tenant", tenant)
		r.URL.RawQuery = q.Encode()
	case pattern == "POST /v1/endpoints":
		err = s.pinTenant(w, r, tenant)
	case pattern == "PATCH /v1/endpoints/{id}":
		if err = s.ownEndpoint(r.Context(), id, tenant); err == nil {
			err = s.pinTenant(w, r, tenant)
		}
	case parts[0] == "endpoints" && id != "":
		err = s.ownEndpoint(r.Context(), id, tenant)
	case pattern == "GET /v1/deliveries":
		s.listScopedDeliveries(w, r, tenant)
		return
	case pattern == "GET /v1/deliveries/count":
		s.serveScopedBulk(w, r, tenant, false)
		return
	case pattern == "POST /v1/deliveries/retry":
		s.serveScopedBulk(w, r, tenant, true)
		return
	case pattern == "GET /v1/events":
		q := r.URL.Query()
		q.Set("tenant", tenant)
		r.URL.RawQuery = q.Encode()
	case parts[0] == "event-types" && sc.portal && r.Method != http.MethodGet && r.Method != http.MethodHead:
		err = hookline.Errorf(hookline.EFORBIDDEN, "a portal session can read the event type catalog, not change it")
	case pattern == "POST /v1/event-types":
		err = s.pinTenant(w, r, tenant)
	case parts[0] == "event-types":
		// The tenant's own catalog (over the default one); it may change
		// only its own entries.
		q := r.URL.Query()
		q.Set("tenant", tenant)
		r.URL.RawQuery = q.Encode()
	case parts[0] == "deliveries" && id != "":
		var d *hookline.Delivery
		if d, err = s.store.FindDelivery(r.Context(), id); err == nil && d.Tenant != tenant {
			err = notFound("delivery", id)
		}
	case pattern == "POST /v1/portal-links":
		err = s.pinTenant(w, r, tenant)
	case parts[0] == "events" && id != "" && id != "batch":
		err = s.ownEvent(r.Context(), id, tenant)
	case pattern == "POST /v1/events", pattern == "POST /v1/events/batch":
		// The handlers pin each event to the tenant (tenantOf).
		if sc.portal {
			err = hookline.Errorf(hookline.EFORBIDDEN, "a portal session cannot send events")
		}
	case pattern == "GET /v1/stats":
		s.serveTenantStats(w, r, tenant)
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// notFound is the answer for an object of another tenant: the same as for
// one that does not exist.
func notFound(what, id string) error {
	return hookline.Errorf(hookline.ENOTFOUND, "%s %.64q not found", what, id)
}

// ownEndpoint returns ENOTFOUND unless endpoint id exists and belongs to
// tenant.
func (s *Server) ownEndpoint(ctx context.Context, id, tenant string) error {
	ep, err := s.store.FindEndpoint(ctx, id)
	if err != nil {
		return err
	} else if ep.Tenant != tenant {
		return notFound("endpoint", id)
	}
	return nil
}

// ownEvent returns ENOTFOUND unless event id exists and belongs to tenant.
func (s *Server) ownEvent(ctx context.Context, id, tenant string) error {
	ev, err := s.store.FindEvent(ctx, id)
	if err != nil {
		return err
	} else if ev.Tenant != tenant {
		return notFound("event", id)
	}
	return nil
}

// pinTenant rewrites a JSON object body so that its "tenant" is tenant: a
// body without one gets it, a body naming another tenant is refused.
func (s *Server) pinTenant(w http.ResponseWriter, r *http.Request, tenant string) error {
	rd, err := s.body(w, r)
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(rd)
	if err != nil {
		return jsonError(err, "")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return decodeJSON(bytes.NewReader(raw), &struct{}{}, "") // its error names the problem
	}
	if t, ok := obj["tenant"]; ok && string(t) != "null" {
		var got string
		if json.Unmarshal(t, &got) != nil {
			return hookline.Errorf(hookline.EINVALID, "tenant: must be a string")
		} else if got != tenant {
			return forbiddenTenant("", tenant)
		}
	}
	obj["tenant"], _ = json.Marshal(tenant)
	b, _ := json.Marshal(obj) // raw JSON values: cannot fail
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	return nil
}

// listScopedDeliveries answers GET /v1/deliveries for a session of tenant.
// Filtered by an endpoint or an event of the tenant, the list is the API's
// own; unfiltered, it merges the lists of every endpoint of the tenant,
// newest first, which pages exactly like the API's list since IDs sort by
// creation time and the cursor is the last ID shown.
func (s *Server) listScopedDeliveries(w http.ResponseWriter, r *http.Request, tenant string) {
	ctx := r.Context()
	q := r.URL.Query()
	if id := q.Get("endpoint_id"); id != "" {
		if err := s.ownEndpoint(ctx, id, tenant); err != nil {
			s.writeJSON(w, r, http.StatusOK, newList[*hookline.Delivery](nil, ""))
			return
		}
		s.mux.ServeHTTP(w, r)
		return
	}
	if id := q.Get("event_id"); id != "" {
		if err := s.ownEvent(ctx, id, tenant); err != nil {
			s.writeJSON(w, r, http.StatusOK, newList[*hookline.Delivery](nil, ""))
			return
		}
		s.mux.ServeHTTP(w, r)
		return
	}
	f, err := deliveryFilter(q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cursor, limit, err := page(q, hookline.DeliveryPrefix)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if limit == 0 {
		limit = hookline.DefaultLimit
	}
	f.Cursor, f.Limit = cursor, limit+1
	ids, err := s.tenantEndpoints(ctx, tenant)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var all []*hookline.Delivery
	for _, id := range ids {
		f.EndpointID = id
		ds, _, err := s.store.FindDeliveries(ctx, f)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		all = append(all, ds...)
	}
	slices.SortFunc(all, func(a, b *hookline.Delivery) int { return strings.Compare(b.ID, a.ID) })
	next := ""
	if len(all) > limit {
		all = all[:limit]
		next = all[limit-1].ID
	}
	s.writeJSON(w, r, http.StatusOK, newList(all, next))
}

// tenantEndpoints returns the IDs of every endpoint of tenant, up to
// maxScopedEndpoints.
func (s *Server) tenantEndpoints(ctx context.Context, tenant string) ([]string, error) {
	var ids []string
	f := hookline.EndpointFilter{Tenant: &tenant, Limit: hookline.MaxLimit}
	for {
		eps, next, err := s.store.FindEndpoints(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, ep := range eps {
			ids = append(ids, ep.ID)
		}
		if len(ids) > maxScopedEndpoints {
			return nil, hookline.Errorf(hookline.EINVALID, "endpoint_id: required when a tenant has more than %d endpoints", maxScopedEndpoints)
		}
		if next == "" {
			return ids, nil
		}
		f.Cursor = next
	}
}
