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

// This file holds the tenant-scoped principal: a request made in-process by
// a session that may see one tenant only (a customer portal session of
// package web). Such a request carries its tenant in its context, set with
// WithTenant; nothing a client sends over HTTP can set it. Every /v1 route
// is then scoped to that tenant: lists show only its objects, another
// tenant's object is 404 as if it did not exist, and routes that cover every
// tenant (GET /v1/stats) or would write for another tenant are refused.
//
// When tenant API keys land, they are expected to reach serveScoped too, so
// that there is one set of scoping rules.

// maxScopedEndpoints bounds how many endpoints of one tenant a scoped list
// of deliveries merges; past it, the client must filter by endpoint_id.
const maxScopedEndpoints = 1000

// tenantKey is the context key of the tenant of a scoped request.
type tenantKey struct{}

// WithTenant returns a copy of ctx under which the Server treats a /v1
// request as made by a session of tenant, without an Authorization header.
// It is for in-process callers only (the dashboard's portal sessions): a
// request from the network never carries it.
func WithTenant(ctx context.Context, tenant string) context.Context {
	return context.WithValue(ctx, tenantKey{}, tenant)
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

// scopedTenant returns the tenant of a scoped request, and whether it is
// one.
func scopedTenant(ctx context.Context) (string, bool) {
	t, ok := ctx.Value(tenantKey{}).(string)
	return t, ok
}

// serveScoped serves a /v1 request of a session of tenant: it checks that
// the object the path names belongs to tenant (404 otherwise), pins lists
// and new objects to tenant, and refuses routes that cover every tenant.
func (s *Server) serveScoped(w http.ResponseWriter, r *http.Request, tenant string) {
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
	case pattern == "GET /v1/endpoints":
		q := r.URL.Query()
		q.Set("tenant", tenant)
		r.URL.RawQuery = q.Encode()
	case pattern == "POST /v1/endpoints":
		err = s.pinTenant(w, r, tenant)
	case parts[0] == "endpoints" && id != "":
		err = s.ownEndpoint(r.Context(), id, tenant)
	case pattern == "GET /v1/deliveries":
		s.listScopedDeliveries(w, r, tenant)
		return
	case parts[0] == "deliveries" && id != "":
		var d *hookline.Delivery
		if d, err = s.store.FindDelivery(r.Context(), id); err == nil && d.Tenant != tenant {
			err = notFound("delivery", id)
		}
	case pattern == "POST /v1/portal-links":
		err = s.pinTenant(w, r, tenant)
	case parts[0] == "events" && id != "" && id != "batch":
		err = s.ownEvent(r.Context(), id, tenant)
	case strings.HasPrefix(pattern, "GET /v1/stats"), pattern == "POST /v1/events", pattern == "POST /v1/events/batch":
		err = hookline.Errorf(hookline.ENOTFOUND, "%s %s is not available to a session of one tenant", r.Method, r.URL.Path)
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
		if json.Unmarshal(t, &got) != nil || got != tenant {
			return hookline.Errorf(hookline.EINVALID, "tenant: must be this session's tenant %.130q or left out", tenant)
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
	cursor, limit, err := page(q, hookline.DeliveryPrefix)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if limit == 0 {
		limit = hookline.DefaultLimit
	}
	status := hookline.DeliveryStatus(q.Get("status"))
	if status != "" && !status.Valid() {
		s.writeError(w, r, hookline.Errorf(hookline.EINVALID, "status: must be pending, delivered or failed"))
		return
	}
	ids, err := s.tenantEndpoints(ctx, tenant)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var all []*hookline.Delivery
	for _, id := range ids {
		ds, _, err := s.store.FindDeliveries(ctx, hookline.DeliveryFilter{
			EndpointID: id, Status: status, Cursor: cursor, Limit: limit + 1,
		})
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
