package web

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// sampleJSON is the live update of the overview: the newest figures.
type sampleJSON struct {
	Version uint64                `json:"version"`
	Point   map[string][]*float64 `json:"point"`
	Stats   *stats                `json:"stats"`
}

// sample reads GET /v1/stats every SampleInterval until Close, keeps each
// reading in the series and publishes it to the live streams. It is the
// dashboard's only periodic work, and it does not grow with the number of
// deliveries or of open tabs.
func (h *Handler) sample() {
	defer close(h.done)
	t := time.NewTicker(h.cfg.SampleInterval)
	defer t.Stop()
	var version uint64
	var last [5]int64
	for {
		h.sampleOnce(&version, &last)
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
	}
}

// sampleOnce takes one sample; version moves on when the counts differ from
// last.
func (h *Handler) sampleOnce(version *uint64, last *[5]int64) {
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.SampleInterval)
	defer cancel()
	unix := h.now().Unix()
	var st stats
	s := gap(unix)
	err := h.api.Load().do(ctx, credential{key: h.cfg.APIKey}, http.MethodGet, "/v1/stats", nil, &st)
	if err == nil {
		s = sampleOf(unix, &st)
	} else {
		h.log.Debug("dashboard: read stats", "err", err)
	}
	h.series.Add(s)
	counts := [5]int64{intOf(st.Pending), intOf(st.Delivered), intOf(st.Failed), intOf(st.Events), intOf(st.Endpoints)}
	if err == nil && counts != *last {
		*version++
		*last = counts
	}
	b, _ := json.Marshal(sampleJSON{Version: *version, Point: columns([]Sample{s}), Stats: &st}) // plain data
	h.hub.Publish(Update{Version: *version, Data: b})
}

// intOf returns *p, or -1 for nil.
func intOf(p *int64) int64 {
	if p == nil {
		return -1
	}
	return *p
}
