package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/hookline/hookline"
)

// This file holds the recovery tools: the list of events, replaying what an
// endpoint missed, and counting and retrying deliveries by filter.

// replayMissingRequest is the body of POST /v1/endpoints/{id}/replay-missing.
type replayMissingRequest struct {
	Since *string `json:"since"` // RFC 3339, required
	Until *string `json:"until"` // RFC 3339; nil: up to now
}

// replayMissingResponse is the answer of POST
// /v1/endpoints/{id}/replay-missing.
type replayMissingResponse struct {
	Created int `json:"created"`
}

// bulkRetryRequest is the body of POST /v1/deliveries/retry.
type bulkRetryRequest struct {
	Status     *string `json:"status"` // must be "failed"
	EndpointID *string `json:"endpoint_id"`
	EventType  *string `json:"event_type"`
	Since      *string `json:"since"`
	Until      *string `json:"until"`
}

// bulkRetryResponse is the answer of POST /v1/deliveries/retry.
type bulkRetryResponse struct {
	Requeued int `json:"requeued"`
}

// countResponse is the answer of GET /v1/deliveries/count.
type countResponse struct {
	Count int64 `json:"count"`
}

// parseTime reads an RFC 3339 time of field.
func parseTime(field, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, hookline.Errorf(hookline.EINVALID, "%s: must be an RFC 3339 time such as 2025-01-31T12:00:00Z", field)
	}
	return t, nil
}

// timeRange reads since and until (either may be ""), and checks that
// until is after since.
func timeRange(since, until string) (s, u time.Time, err error) {
	if since != "" {
		if s, err = parseTime("since", since); err != nil {
			return s, u, err
		}
	}
	if until != "" {
		if u, err = parseTime("until", until); err != nil {
			return s, u, err
		}
	}
	if !s.IsZero() && !u.IsZero() && !u.After(s) {
		return s, u, hookline.Errorf(hookline.EINVALID, "until: must be after since")
	}
	return s, u, nil
}

// typePattern checks an event type filter of field: "" (any), a type, or a
// prefix pattern "invoice.*".
func typePattern(field, v string) error {
	if v != "" && !hookline.ValidTypePattern(v) {
		return hookline.Errorf(hookline.EINVALID, "%s: must be an event type or a pattern such as invoice.*", field)
	}
	return nil
}

// deliveryFilter reads the filters of GET /v1/deliveries and GET
// /v1/deliveries/count: event_id, endpoint_id, status, event_type, since,
// until (the cursor and limit aside).
func deliveryFilter(q url.Values) (hookline.DeliveryFilter, error) {
	var f hookline.DeliveryFilter
	f.EventID, f.EndpointID = q.Get("event_id"), q.Get("endpoint_id")
	if len(f.EventID) > maxFilterID {
		return f, hookline.Errorf(hookline.EINVALID, "event_id: not an event ID")
	} else if len(f.EndpointID) > maxFilterID {
		return f, hookline.Errorf(hookline.EINVALID, "endpoint_id: not an endpoint ID")
	}
	if v := q.Get("status"); v != "" {
		f.Status = hookline.DeliveryStatus(v)
		if !f.Status.Valid() {
			return f, hookline.Errorf(hookline.EINVALID, "status: must be pending, delivered or failed")
		}
	}
	f.EventType = q.Get("event_type")
	if err := typePattern("event_type", f.EventType); err != nil {
		return f, err
	}
	var err error
	f.Since, f.Until, err = timeRange(q.Get("since"), q.Get("until"))
	return f, err
}

// handleListEvents is GET /v1/events?type=&tenant=&since=&until=&limit=&cursor=:
// a page of events, newest first. type may be a pattern "invoice.*"; a
// tenant parameter, even empty, filters by tenant.
func (s *Server) handleListEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var f hookline.EventFilter
	var err error
	if f.Cursor, f.Limit, err = page(q, hookline.EventPrefix); err != nil {
		s.writeError(w, r, err)
		return
	}
	if f.Tenant, err = tenantParam(q); err != nil {
		s.writeError(w, r, err)
		return
	}
	f.Type = q.Get("type")
	if err := typePattern("type", f.Type); err != nil {
		s.writeError(w, r, err)
		return
	}
	if f.Since, f.Until, err = timeRange(q.Get("since"), q.Get("until")); err != nil {
		s.writeError(w, r, err)
		return
	}
	evs, next, err := s.store.FindEvents(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, newList(evs, next))
}

// handleReplayMissing is POST /v1/endpoints/{id}/replay-missing
// {"since", "until"?}: a new delivery to the endpoint of every event of its
// tenant accepted in [since, until) that it matches now (event types and
// filter) and has no delivery of. It answers 202 {"created": N}; 404 for an
// unknown endpoint, 409 for a disabled one. Calling it again makes nothing
// new.
func (s *Server) handleReplayMissing(w http.ResponseWriter, r *http.Request) {
	var req replayMissingRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Since == nil {
		s.writeError(w, r, hookline.Errorf(hookline.EINVALID, "since: required (an RFC 3339 time such as 2025-01-31T12:00:00Z)"))
		return
	}
	until := ""
	if req.Until != nil {
		until = *req.Until
		if until == "" {
			s.writeError(w, r, hookline.Errorf(hookline.EINVALID, "until: must be an RFC 3339 time such as 2025-01-31T12:00:00Z"))
			return
		}
	}
	if *req.Since == "" {
		s.writeError(w, r, hookline.Errorf(hookline.EINVALID, "since: must be an RFC 3339 time such as 2025-01-31T12:00:00Z"))
		return
	}
	since, u, err := timeRange(*req.Since, until)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	n, err := s.engine.ReplayMissing(r.Context(), r.PathValue("id"), since, u)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusAccepted, replayMissingResponse{Created: n})
}

// handleCountDeliveries is GET /v1/deliveries/count with the filters of GET
// /v1/deliveries: {"count": N}, a preview of a bulk retry.
func (s *Server) handleCountDeliveries(w http.ResponseWriter, r *http.Request) {
	f, err := deliveryFilter(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	n, err := s.countDeliveries(r.Context(), f, nil)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, countResponse{Count: n})
}

// countDeliveries counts what f selects; with endpoints (a scoped request
// without endpoint_id), the sum over those endpoints.
func (s *Server) countDeliveries(ctx context.Context, f hookline.DeliveryFilter, endpoints []string) (int64, error) {
	if endpoints == nil {
		return s.store.CountDeliveries(ctx, f)
	}
	var total int64
	for _, id := range endpoints {
		f.EndpointID = id
		n, err := s.store.CountDeliveries(ctx, f)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// bulkRetryFilter reads and checks the body of POST /v1/deliveries/retry.
func (s *Server) bulkRetryFilter(w http.ResponseWriter, r *http.Request) (hookline.DeliveryFilter, error) {
	var req bulkRetryRequest
	var f hookline.DeliveryFilter
	if err := s.decodeBody(w, r, &req); err != nil {
		return f, err
	}
	if req.Status == nil || *req.Status != string(hookline.StatusFailed) {
		return f, hookline.Errorf(hookline.EINVALID, `status: required, and must be "failed" (only dead letters are retried in bulk)`)
	}
	f.Status = hookline.StatusFailed
	if req.EndpointID != nil {
		if !validID(hookline.EndpointPrefix, *req.EndpointID) {
			return f, hookline.Errorf(hookline.EINVALID, "endpoint_id: not an endpoint ID")
		}
		f.EndpointID = *req.EndpointID
	}
	if req.EventType != nil {
		if *req.EventType == "" {
			return f, hookline.Errorf(hookline.EINVALID, "event_type: must be an event type or a pattern such as invoice.*")
		}
		if err := typePattern("event_type", *req.EventType); err != nil {
			return f, err
		}
		f.EventType = *req.EventType
	}
	since, until := "", ""
	for _, p := range []struct {
		field string
		v     *string
		to    *string
	}{{"since", req.Since, &since}, {"until", req.Until, &until}} {
		if p.v == nil {
			continue
		}
		if *p.v == "" {
			return f, hookline.Errorf(hookline.EINVALID, "%s: must be an RFC 3339 time such as 2025-01-31T12:00:00Z", p.field)
		}
		*p.to = *p.v
	}
	var err error
	f.Since, f.Until, err = timeRange(since, until)
	return f, err
}

// handleRetryDeliveries is POST /v1/deliveries/retry {"status": "failed",
// "endpoint_id"?, "event_type"?, "since"?, "until"?}: every dead letter the
// filter selects becomes pending and due now, in bounded batches. It
// answers 202 {"requeued": N}.
func (s *Server) handleRetryDeliveries(w http.ResponseWriter, r *http.Request) {
	f, err := s.bulkRetryFilter(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	n, err := s.retryDeliveries(r.Context(), f, nil)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusAccepted, bulkRetryResponse{Requeued: n})
}

// retryDeliveries retries what f selects; with endpoints (a scoped request
// without endpoint_id), endpoint by endpoint.
func (s *Server) retryDeliveries(ctx context.Context, f hookline.DeliveryFilter, endpoints []string) (int, error) {
	if endpoints == nil {
		return s.engine.RetryDeliveries(ctx, f)
	}
	total := 0
	for _, id := range endpoints {
		f.EndpointID = id
		n, err := s.engine.RetryDeliveries(ctx, f)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// serveScopedBulk answers GET /v1/deliveries/count and POST
// /v1/deliveries/retry for a tenant: by an endpoint of the tenant, the
// admin's answer; by another tenant's endpoint, nothing (as if it did not
// exist); by no endpoint, the sum over the tenant's endpoints.
func (s *Server) serveScopedBulk(w http.ResponseWriter, r *http.Request, tenant string, retry bool) {
	ctx := r.Context()
	var f hookline.DeliveryFilter
	var err error
	if retry {
		f, err = s.bulkRetryFilter(w, r)
	} else {
		f, err = deliveryFilter(r.URL.Query())
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var endpoints []string
	switch {
	case f.EventID != "":
		if s.ownEvent(ctx, f.EventID, tenant) != nil {
			endpoints = []string{}
		}
	case f.EndpointID != "":
		if s.ownEndpoint(ctx, f.EndpointID, tenant) != nil {
			endpoints = []string{}
		}
	}
	if endpoints == nil && f.EndpointID == "" {
		if endpoints, err = s.tenantEndpoints(ctx, tenant); err != nil {
			s.writeError(w, r, err)
			return
		}
		if endpoints == nil {
			endpoints = []string{}
		}
	}
	if retry {
		n, err := s.retryDeliveries(ctx, f, endpoints)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.writeJSON(w, r, http.StatusAccepted, bulkRetryResponse{Requeued: n})
		return
	}
	n, err := s.countDeliveries(ctx, f, endpoints)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, countResponse{Count: n})
}
