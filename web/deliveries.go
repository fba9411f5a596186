package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline"
)

// maxBulk bounds the dead letters of one event that a bulk action retries
// one by one (the API's bulk retry has no event filter).
const maxBulk = 1000

// timeForm is the layout of the time filters (an <input type=datetime-local>),
// read as UTC.
const timeForm = "2006-01-02T15:04"

// deliveryFilter is the filter of the Deliveries page. From and To bound the
// creation time to [From, To).
type deliveryFilter struct {
	Status, EndpointID, EventID, EventType, From, To string
	from, to                                         time.Time
}

// readFilter reads a delivery filter from form values, or says which field
// is wrong.
func readFilter(v url.Values) (deliveryFilter, error) {
	f := deliveryFilter{
		Status: v.Get("status"), EndpointID: strings.TrimSpace(v.Get("endpoint_id")),
		EventID: strings.TrimSpace(v.Get("event_id")), EventType: strings.TrimSpace(v.Get("event_type")),
		From: v.Get("from"), To: v.Get("to"),
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

// apiValues returns f as the filters of GET /v1/deliveries and GET
// /v1/deliveries/count.
func (f deliveryFilter) apiValues() url.Values {
	v := url.Values{}
	for k, x := range map[string]string{"status": f.Status, "endpoint_id": f.EndpointID, "event_id": f.EventID, "event_type": f.EventType} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if !f.from.IsZero() {
		v.Set("since", f.from.Format(time.RFC3339))
	}
	if !f.to.IsZero() {
		v.Set("until", f.to.Format(time.RFC3339))
	}
	return v
}

// query returns the API query of f for one page from cursor.
func (f deliveryFilter) query(cursor string, limit int) string {
	v := f.apiValues()
	v.Set("limit", strconv.Itoa(limit))
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	return "/v1/deliveries?" + v.Encode()
}

// countQuery returns the API query that counts what f selects.
func (f deliveryFilter) countQuery() string {
	return "/v1/deliveries/count?" + f.apiValues().Encode()
}

// retryBody returns the body of POST /v1/deliveries/retry for the dead
// letters of f. It cannot say which event: see handleBulk.
func (f deliveryFilter) retryBody() map[string]string {
	b := map[string]string{"status": string(hookline.StatusFailed)}
	for k, x := range map[string]string{"endpoint_id": f.EndpointID, "event_type": f.EventType} {
		if x != "" {
			b[k] = x
		}
	}
	if !f.from.IsZero() {
		b["since"] = f.from.Format(time.RFC3339)
	}
	if !f.to.IsZero() {
		b["until"] = f.to.Format(time.RFC3339)
	}
	return b
}

// values returns f as the query of a dashboard URL.
func (f deliveryFilter) values() url.Values {
	v := url.Values{}
	for k, x := range map[string]string{"status": f.Status, "endpoint_id": f.EndpointID, "event_id": f.EventID, "event_type": f.EventType, "from": f.From, "to": f.To} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v
}

// countDeliveries returns how many deliveries f selects, by GET
// /v1/deliveries/count.
func countDeliveries(ctx context.Context, p *page, f deliveryFilter) (int64, error) {
	var c struct {
		Count int64 `json:"count"`
	}
	if err := p.api.do(ctx, p.cred, http.MethodGet, f.countQuery(), nil, &c); err != nil {
		return 0, err
	}
	return c.Count, nil
}

// deliveriesData is the Deliveries page.
type deliveriesData struct {
	Filter deliveryFilter
	Rows   []delivery
	Next   string // dashboard query of the next page, "" on the last
	// Failed is how many dead letters the filter selects, when it selects
	// dead letters only; nil otherwise.
	Failed *int64
}

// handleDeliveries is GET /deliveries: a page of deliveries by status,
// endpoint, event, event type and creation time. Filtered to dead letters,
// it says how many there are, for the bulk retry.
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
	d := deliveriesData{Filter: f, Rows: l.Data}
	if l.NextCursor != nil {
		v := f.values()
		v.Set("cursor", *l.NextCursor)
		d.Next = v.Encode()
	}
	if f.Status == string(hookline.StatusFailed) && !isFragment(r) {
		n, err := countDeliveries(r.Context(), p, f)
		if err != nil {
			h.apiError(w, r, p, err)
			return
		}
		d.Failed = &n
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

// retryAll retries every dead letter f selects and returns how many were
// requeued: by POST /v1/deliveries/retry, or, filtered by an event (which
// that route cannot filter by), one by one, up to maxBulk.
func retryAll(ctx context.Context, p *page, f deliveryFilter) (int, error) {
	if f.EventID == "" {
		var res struct {
			Requeued int `json:"requeued"`
		}
		if err := p.api.do(ctx, p.cred, http.MethodPost, "/v1/deliveries/retry", f.retryBody(), &res); err != nil {
			return 0, err
		}
		return res.Requeued, nil
	}
	ids, _, err := deadLetters(ctx, p, f)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, id := range ids {
		err := p.api.do(ctx, p.cred, http.MethodPost, "/v1/deliveries/"+id+"/retry", nil, nil)
		if err != nil && hookline.ErrorCode(err) != hookline.ENOTFOUND {
			return done, err
		} else if err == nil {
			done++
		}
	}
	return done, nil
}

// handleBulk is POST /deliveries/bulk: retry every dead letter of a filter.
// Without confirm=yes it answers a page that says how many that is (GET
// /v1/deliveries/count) and asks; with it, it retries them and says how
// many were requeued.
func (h *Handler) handleBulk(w http.ResponseWriter, r *http.Request, p *page) {
	f, err := readFilter(r.PostForm)
	if err != nil {
		h.apiError(w, r, p, err)
		return
	}
	f.Status = string(hookline.StatusFailed)
	back := p.base + "deliveries?" + f.values().Encode()
	if r.PostFormValue("confirm") != "yes" {
		n, err := countDeliveries(r.Context(), p, f)
		if err != nil {
			h.apiError(w, r, p, err)
			return
		}
		all := plural(int(n), "dead letter", "dead letters")
		detail := "Each is made pending and sent again now; its attempts continue from where they stopped."
		if f.EventID != "" && n > maxBulk {
			detail += fmt.Sprintf(" Filtered by an event, the newest %d are retried at once; run it again for the rest.", maxBulk)
		}
		fields := map[string]string{"confirm": "yes"}
		for k, v := range f.values() {
			fields[k] = v[0]
		}
		h.render(w, r, http.StatusOK, "confirm", p.view("Retry dead letters", "deliveries", confirmData{
			Question: "Retry all " + all + "?",
			Detail:   detail,
			Action:   p.base + "deliveries/bulk", Fields: fields, Button: "Retry all " + all, Cancel: back,
		}))
		return
	}
	n, err := retryAll(r.Context(), p, f)
	if err != nil {
		h.apiError(w, r, p, err)
		return
	}
	p.flash(fmt.Sprintf("Requeued %s.", plural(n, "dead letter", "dead letters")))
	http.Redirect(w, r, back, http.StatusSeeOther)
}
