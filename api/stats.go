package api

import (
	"context"
	"net/http"

	"github.com/hookline/hookline"
)

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

// serveTenantStats answers GET /v1/stats for a request scoped to tenant:
// the figures of its endpoints, summed (at most maxScopedEndpoints).
func (s *Server) serveTenantStats(w http.ResponseWriter, r *http.Request, tenant string) {
	st, err := s.tenantStats(r.Context(), tenant)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, st)
}

// tenantStats sums the health and stats of every endpoint of tenant.
func (s *Server) tenantStats(ctx context.Context, tenant string) (hookline.TenantStats, error) {
	st := hookline.TenantStats{Tenant: tenant, SuccessRate: 1}
	f := hookline.EndpointFilter{Tenant: &tenant, Limit: hookline.MaxLimit}
	for {
		eps, next, err := s.store.FindEndpoints(ctx, f)
		if err != nil {
			return st, err
		}
		for _, ep := range eps {
			if st.Endpoints++; st.Endpoints > maxScopedEndpoints {
				return st, hookline.Errorf(hookline.EINVALID, "stats: a tenant with more than %d endpoints has stats per endpoint only (GET /v1/endpoints/{id}/stats)", maxScopedEndpoints)
			}
			if ep.Disabled {
				st.EndpointsDisabled++
			}
			h, err := s.engine.EndpointHealth(ctx, ep.ID)
			if hookline.ErrorCode(err) == hookline.ENOTFOUND {
				st.Endpoints-- // deleted meanwhile
				continue
			} else if err != nil {
				return st, err
			}
			switch h.Normalized().Circuit {
			case hookline.CircuitOpen:
				st.EndpointsByCircuit.Open++
			case hookline.CircuitHalfOpen:
				st.EndpointsByCircuit.HalfOpen++
			default:
				st.EndpointsByCircuit.Closed++
			}
			es, err := s.engine.EndpointStats(ctx, ep.ID)
			if hookline.ErrorCode(err) == hookline.ENOTFOUND {
				continue
			} else if err != nil {
				return st, err
			}
			st.Pending += es.Pending
			st.Failed += es.Failed
			st.DeliveriesPerSecond += es.DeliveriesPerSecond
			st.Attempts += es.Attempts
			st.Failures += es.Failures
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	if st.Attempts > 0 {
		st.SuccessRate = 1 - float64(st.Failures)/float64(st.Attempts)
	}
	return st, nil
}
