package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hookline/hookline"
)

// searchDeliveries is how many of the newest deliveries a search by event
// type looks through: the API lists events by ID only.
const searchDeliveries = 2 * hookline.MaxLimit

// eventRow is an event found by type, from its deliveries.
type eventRow struct {
	ID, Type, Tenant string
	Deliveries       int
	Failed           int
}

// eventsData is the Events page.
type eventsData struct {
	Q       string
	Rows    []eventRow
	Scanned int
}

// handleEvents is GET /events?q=: an event by ID, or the events of a type
// (an exact type, or a prefix ending in ".*") among the newest deliveries.
func (h *Handler) handleEvents(w http.ResponseWriter, r *http.Request, p *page) {
	d := eventsData{Q: strings.TrimSpace(r.URL.Query().Get("q"))}
	if strings.HasPrefix(d.Q, hookline.EventPrefix) && !strings.ContainsAny(d.Q, " /?#") {
		http.Redirect(w, r, "/events/"+url.PathEscape(d.Q), http.StatusSeeOther)
		return
	}
	if d.Q != "" {
		prefix, wildcard := strings.CutSuffix(d.Q, "*")
		rows := map[string]*eventRow{}
		cursor := ""
		for d.Scanned < searchDeliveries {
			v := url.Values{"limit": {strconv.Itoa(hookline.MaxLimit)}}
			if cursor != "" {
				v.Set("cursor", cursor)
			}
			var l list[delivery]
			if err := p.api.do(r.Context(), p.cred, http.MethodGet, "/v1/deliveries?"+v.Encode(), nil, &l); err != nil {
				h.apiError(w, r, p, err)
				return
			}
			d.Scanned += len(l.Data)
			for _, x := range l.Data {
				if x.EventType != d.Q && !(wildcard && strings.HasPrefix(x.EventType, prefix)) {
					continue
				}
				row := rows[x.EventID]
				if row == nil {
					row = &eventRow{ID: x.EventID, Type: x.EventType, Tenant: x.Tenant}
					rows[x.EventID] = row
					d.Rows = append(d.Rows, *row)
				}
				row.Deliveries++
				if x.Status == string(hookline.StatusFailed) {
					row.Failed++
				}
			}
			if l.NextCursor == nil {
				break
			}
			cursor = *l.NextCursor
		}
		for i := range d.Rows {
			d.Rows[i] = *rows[d.Rows[i].ID]
		}
	}
	h.render(w, r, http.StatusOK, "events", p.view("Events", "events", d))
}

// eventData is the page of one event.
type eventData struct {
	Event      event
	Deliveries []delivery
}

// handleEvent is GET /events/{id}: the payload and where it went.
func (h *Handler) handleEvent(w http.ResponseWriter, r *http.Request, p *page) {
	id := r.PathValue("id")
	var d eventData
	if err := p.api.do(r.Context(), p.cred, http.MethodGet, "/v1/events/"+url.PathEscape(id), nil, &d.Event); err != nil {
		h.apiError(w, r, p, err)
		return
	}
	var l list[delivery]
	if err := p.api.do(r.Context(), p.cred, http.MethodGet, "/v1/deliveries?limit=1000&event_id="+url.QueryEscape(id), nil, &l); err != nil {
		h.apiError(w, r, p, err)
		return
	}
	d.Deliveries = l.Data
	v := p.view("Event "+id, "events", d)
	v.Live = true
	h.render(w, r, http.StatusOK, "event", v)
}

// handleReplay is POST /events/{id}/replay.
func (h *Handler) handleReplay(w http.ResponseWriter, r *http.Request, p *page) {
	id := r.PathValue("id")
	var res struct {
		Deliveries int `json:"deliveries"`
	}
	if err := p.api.do(r.Context(), p.cred, http.MethodPost, "/v1/events/"+url.PathEscape(id)+"/replay", nil, &res); err != nil {
		h.apiError(w, r, p, err)
		return
	}
	p.flash(fmt.Sprintf("Replayed to %s.", plural(res.Deliveries, "endpoint", "endpoints")))
	http.Redirect(w, r, "/events/"+url.PathEscape(id), http.StatusSeeOther)
}

// handleSendEvent is POST /events {type, data, tenant}: send a test event,
// as a product would.
func (h *Handler) handleSendEvent(w http.ResponseWriter, r *http.Request, p *page) {
	data := strings.TrimSpace(r.PostFormValue("data"))
	if data == "" {
		data = "{}"
	}
	if !json.Valid([]byte(data)) {
		h.apiError(w, r, p, hookline.Errorf(hookline.EINVALID, "data: not valid JSON"))
		return
	}
	body := map[string]any{"type": strings.TrimSpace(r.PostFormValue("type")), "data": json.RawMessage(data)}
	if t := strings.TrimSpace(r.PostFormValue("tenant")); t != "" {
		body["tenant"] = t
	}
	var res struct {
		ID         string `json:"id"`
		Deliveries int    `json:"deliveries"`
	}
	if err := p.api.do(r.Context(), p.cred, http.MethodPost, "/v1/events", body, &res); err != nil {
		h.apiError(w, r, p, err)
		return
	}
	p.flash(fmt.Sprintf("Event sent to %s.", plural(res.Deliveries, "endpoint", "endpoints")))
	http.Redirect(w, r, "/events/"+url.PathEscape(res.ID), http.StatusSeeOther)
}
