package api

import (
	"net/http"
	"time"

	"github.com/hookline/hookline"
)

// maxFilterID bounds the IDs a delivery list can be filtered by.
const maxFilterID = 64

// attemptJSON is an attempt as the API shows it, its duration in
// milliseconds.
type attemptJSON struct {
	Attempt      int       `json:"attempt"`
	StartedAt    time.Time `json:"started_at"`
	DurationMS   float64   `json:"duration_ms"`
	StatusCode   int       `json:"status_code"`
	Error        string    `json:"error"`
	ResponseBody string    `json:"response_body"`
}

// handleListDeliveries is GET
// /v1/deliveries?event_id=&endpoint_id=&status=&event_type=&since=&until=&limit=&cursor=:
// a page of deliveries, newest first. event_type may be a pattern
// "invoice.*"; since and until (RFC 3339) bound the creation time.
func (s *Server) handleListDeliveries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := deliveryFilter(q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if f.Cursor, f.Limit, err = page(q, hookline.DeliveryPrefix); err != nil {
		s.writeError(w, r, err)
		return
	}
	ds, next, err := s.store.FindDeliveries(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, newList(ds, next))
}

// handleGetDelivery is GET /v1/deliveries/{id}.
func (s *Server) handleGetDelivery(w http.ResponseWriter, r *http.Request) {
	d, err := s.store.FindDelivery(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, d)
}

// handleListAttempts is GET /v1/deliveries/{id}/attempts: every attempt of
// a delivery, first attempt first, in one list without a cursor.
func (s *Server) handleListAttempts(w http.ResponseWriter, r *http.Request) {
	as, err := s.store.FindAttempts(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]attemptJSON, len(as))
	for i, a := range as {
		out[i] = attemptJSON{
			Attempt:      a.Attempt,
			StartedAt:    a.StartedAt,
			DurationMS:   float64(a.Duration) / float64(time.Millisecond),
			StatusCode:   a.StatusCode,
			Error:        a.Error,
			ResponseBody: a.ResponseBody,
		}
	}
	s.writeJSON(w, r, http.StatusOK, data[attemptJSON]{Data: out})
}

// handleRetryDelivery is POST /v1/deliveries/{id}/retry: the delivery becomes
// pending and due now, whatever its state. The body, if any, must be {}.
func (s *Server) handleRetryDelivery(w http.ResponseWriter, r *http.Request) {
	if err := s.decodeOptionalBody(w, r, &struct{}{}); err != nil {
		s.writeError(w, r, err)
		return
	}
	d, err := s.engine.RetryDelivery(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusAccepted, d)
}
