package api

import "net/http"

// healthResponse is the answer of /healthz.
type healthResponse struct {
	Status string `json:"status"`
}

// readyResponse is the answer of /readyz.
type readyResponse struct {
	Status string `json:"status"` // "ready" or "unavailable"
	Detail any    `json:"detail"`
}

// handleStats is GET /v1/stats: the engine's figures.
func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	st, err := s.engine.Stats(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, st)
}

// handleHealth is GET /healthz: 200 while the process serves HTTP at all.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, http.StatusOK, healthResponse{Status: "ok"})
}

// handleReady is GET /readyz: 200 {"status":"ready"} when the engine can
// serve, else 503 {"status":"unavailable"}, with the engine's detail either
// way.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	detail, err := s.engine.Ready(r.Context())
	if err != nil {
		w.Header().Set("Retry-After", "1")
		s.writeJSON(w, r, http.StatusServiceUnavailable, readyResponse{Status: "unavailable", Detail: detail})
		return
	}
	s.writeJSON(w, r, http.StatusOK, readyResponse{Status: "ready", Detail: detail})
}
