package web

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline"
)

// maxBulk bounds the dead letters one bulk action retries.
const maxBulk = 1000

// timeForm is the layout of the time filters (an <input type=datetime-local>),
// read as UTC.
const timeForm = "2006-01-02T15:04"

// deliveryFilter is the filter of the Deliveries page.
type deliveryFilter struct {
	Status, EndpointID, EventID, From, To string
	from, to                              time.Time
}

// readFilter reads a delivery filter from form values, or says which field
// is wrong.
func readFilter(v url.Values) (deliveryFilter, error) {
	f := deliveryFilter{
		Status: v.Get("status"), EndpointID: strings.TrimSpace(v.Get("endpoint_id")),
		EventID: strings.TrimSpace(v.Get("event_id")), From: v.Get("from"), To: v.Get("to"),
	}
	var err error
	if f.From != "" {
		if f.from, err = time.Parse(timeForm, f.From); err != nil {
			return f, hookline.Errorf(hookline.EINVALID, "from: a date and time such as 2025-01-31T12:00")
		}
	}
	if f.To != "" {
		if f.to, err = time.Parse(timeForm, f.To); err != nil {
			return f, hookline.Errorf(hookline.EINVALID, "to: a date and time such as 2025-01-31T12:00")
		}
	}
	return f, nil
}

// query returns the API query of f for one page from cursor. A "to" time
// becomes the cursor: IDs sort by creation time, so the deliveries created
// before it have IDs below the ID of its first millisecond.
func (f deliveryFilter) query(cursor string, limit int) string {
	v := url.Values{"limit": {strconv.Itoa(limit)}}
	for k, x := range map[string]string{"status": f.Status, "endpoint_id": f.EndpointID, "event_id": f.EventID} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if cursor == "" && !f.to.IsZero() {
		cursor = idAt(hookline.DeliveryPrefix, f.to)
	}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	return "/v1/deliveries?" + v.Encode()
}

// values returns f as the query of a dashboard URL.
func (f deliveryFilter) values() url.Values {
	v := url.Values{}
	for k, x := range map[string]string{"status": f.Status, "endpoint_id": f.EndpointID, "event_id": f.EventID, "from": f.From, "to": f.To} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v
}

// idAt returns the lowest ID of prefix made at t: a ULID of t's millisecond
// with no random bits.
func idAt(prefix string, t time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixMilli())<<16)
	const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	out := make([]byte, 26)
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return prefix + string(out)
}

// deliveriesData is the Deliveries page.
type deliveriesData struct {
	Filter deliveryFilter
	Rows   []delivery
	Next   string // dashboard query of the next page, "" on the last
}

// handleDeliveries is GET /deliveries: a page of deliveries by status,
// endpoint, event and creation time.
func (h *Handler) handleDeliveries(w http.ResponseWriter, r *http.Request, p *page) {
	q := r.URL.Query()
	f, err := readFilter(q)
	if err != nil {
		h.apiError(w, r, p, err)
		return
	}
	var l list[delivery]
	if err := p.api.do(r.Context(), p.cred, http.MethodGet, f.query(q.Get("cursor"), pageSize), nil, &l); err != nil {
		h.apiError(w, r, p, err)
		return
	}
	d := deliveriesData{Filter: f}
	more := l.NextCursor != nil
	for _, x := range l.Data {
		if !f.from.IsZero() && x.CreatedAt.Before(f.from) {
			more = false
			break
		}
		d.Rows = append(d.Rows, x)
	}
	if more {
		v := f.values()
		v.Set("cursor", *l.NextCursor)
		d.Next = v.Encode()
	}
	v := p.view("Deliveries", "deliveries", d)
	v.Live, v.Query = true, f.values().Encode()
	h.render(w, r, http.StatusOK, "deliveries", v)
}

// deliveryData is the page of one delivery.
type deliveryData struct {
	Delivery delivery
	Attempts []attempt
}

// handleDelivery is GET /deliveries/{id}: the delivery and its attempts.
func (h *Handler) handleDelivery(w http.ResponseWriter, r *http.Request, p *page) {
	id := url.PathEscape(r.PathValue("id"))
	var d deliveryData
	if err := p.api.do(r.Context(), p.cred, http.MethodGet, "/v1/deliveries/"+id, nil, &d.Delivery); err != nil {
		h.apiError(w, r, p, err)
		return
	}
	var as struct {
		Data []attempt `json:"data"`
	}
	if err := p.api.do(r.Context(), p.cred, http.MethodGet, "/v1/deliveries/"+id+"/attempts", nil, &as); err != nil {
		h.apiError(w, r, p, err)
		return
	}
	// Newest first: the latest attempt is what one looks for.
	for i := len(as.Data) - 1; i >= 0; i-- {
		d.Attempts = append(d.Attempts, as.Data[i])
	}
	v := p.view("Delivery "+d.Delivery.ID, "deliveries", d)
	v.Live = true
	h.render(w, r, http.StatusOK, "delivery", v)
}

// handleRetry is POST /deliveries/{id}/retry.
func (h *Handler) handleRetry(w http.ResponseWriter, r *http.Request, p *page) {
	id := url.PathEscape(r.PathValue("id"))
	if err := p.api.do(r.Context(), p.cred, http.MethodPost, "/v1/deliveries/"+id+"/retry", nil, nil); err != nil {
		h.apiError(w, r, p, err)
		return
	}
	p.flash("Delivery queued to be sent again now.")
	http.Redirect(w, r, p.base+"deliveries/"+id, http.StatusSeeOther)
}

// deadLetters returns the IDs of the failed deliveries f selects, up to
// maxBulk, and whether there are more.
func deadLetters(ctx context.Context, p *page, f deliveryFilter) ([]string, bool, error) {
	f.Status = string(hookline.StatusFailed)
	var ids []string
	cursor := ""
	for {
		var l list[delivery]
		if err := p.api.do(ctx, p.cred, http.MethodGet, f.query(cursor, hookline.MaxLimit), nil, &l); err != nil {
			return nil, false, err
		}
		for _, d := range l.Data {
			if !f.from.IsZero() && d.CreatedAt.Before(f.from) {
				return ids, false, nil
			}
			if len(ids) == maxBulk {
				return ids, true, nil
			}
			ids = append(ids, d.ID)
		}
		if l.NextCursor == nil {
			return ids, false, nil
		}
		cursor = *l.NextCursor
	}
}

// handleBulk is POST /deliveries/bulk: retry every dead letter of a filter.
// Without confirm=yes it answers a page that says how many that is and asks;
// with it, it retries them (up to maxBulk at once).
func (h *Handler) handleBulk(w http.ResponseWriter, r *http.Request, p *page) {
	f, err := readFilter(r.PostForm)
	if err != nil {
		h.apiError(w, r, p, err)
		return
	}
	f.Status = string(hookline.StatusFailed)
	ids, more, err := deadLetters(r.Context(), p, f)
	if err != nil {
		h.apiError(w, r, p, err)
		return
	}
	back := p.base + "deliveries?" + f.values().Encode()
	if r.PostFormValue("confirm") != "yes" {
		n := plural(len(ids), "dead letter", "dead letters")
		if more {
			n = fmt.Sprintf("the newest %d dead letters (there are more; run it again for the rest)", maxBulk)
		}
		fields := map[string]string{"confirm": "yes"}
		for k, v := range f.values() {
			fields[k] = v[0]
		}
		h.render(w, r, http.StatusOK, "confirm", p.view("Retry dead letters", "deliveries", confirmData{
			Question: "Retry " + n + "?",
			Detail:   "Each is made pending and sent again now; its attempts continue from where they stopped.",
			Action:   p.base + "deliveries/bulk", Fields: fields, Button: "Retry " + plural(len(ids), "dead letter", "dead letters"), Cancel: back,
		}))
		return
	}
	done := 0
	for _, id := range ids {
		err := p.api.do(r.Context(), p.cred, http.MethodPost, "/v1/deliveries/"+id+"/retry", nil, nil)
		if err != nil && hookline.ErrorCode(err) != hookline.ENOTFOUND {
			h.apiError(w, r, p, err)
			return
		} else if err == nil {
			done++
		}
	}
	p.flash(fmt.Sprintf("Retried %s.", plural(done, "dead letter", "dead letters")))
	http.Redirect(w, r, back, http.StatusSeeOther)
}
