package web

import (
	"net/http"
)

// overviewData is the Overview page.
type overviewData struct {
	Stats     stats
	StatsErr  string
	Streams   int
	SeriesLen int
}

// handleOverview is GET /: the live figures, as numbers and as charts of
// the last 15 minutes (drawn by app.js from the live stream).
func (h *Handler) handleOverview(w http.ResponseWriter, r *http.Request, p *page) {
	var d overviewData
	if err := p.api.do(r.Context(), p.cred, http.MethodGet, "/v1/stats", nil, &d.Stats); err != nil {
		h.apiError(w, r, p, err)
		return
	}
	d.Streams, d.SeriesLen = h.hub.Len(), SeriesLength
	v := p.view("Overview", "overview", d)
	v.Live = true
	h.render(w, r, http.StatusOK, "overview", v)
}
