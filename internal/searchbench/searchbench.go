// Package searchbench is the data set and the queries of the search
// benchmarks of both stores (sqlite and postgres BenchmarkSearch): events
// and deliveries spread over 30 days, built straight into a store's tables
// so that 10 million deliveries take minutes, not hours, and the list and
// count queries the API makes of them.
package searchbench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

// The shape of the data set: every event of a tenant goes to each of its
// endpoints.
const (
	Tenants            = 4
	EndpointsPerTenant = 5
	Span               = 30 * 24 * time.Hour
)

// Types are the event types, in four families of five.
var Types = func() []string {
	var ts []string
	for _, fam := range []string{"invoice", "user", "order", "payout"} {
		for _, v := range []string{"created", "updated", "paid", "voided", "deleted"} {
			ts = append(ts, fam+"."+v)
		}
	}
	return ts
}()

// Size returns the number of deliveries to build: HOOKLINE_SEARCH_DELIVERIES,
// else def.
func Size(def int) int {
	if n, err := strconv.Atoi(os.Getenv("HOOKLINE_SEARCH_DELIVERIES")); err == nil && n > 0 {
		return n
	}
	return def
}

// Data is a data set of about n deliveries.
type Data struct {
	N         int
	Start     time.Time
	Endpoints []*hookline.Endpoint // EndpointsPerTenant per tenant, tenant by tenant
}

// New returns the data set of n deliveries starting at start.
func New(n int, start time.Time) *Data {
	d := &Data{N: n, Start: start}
	for t := range Tenants {
		for range EndpointsPerTenant {
			d.Endpoints = append(d.Endpoints, &hookline.Endpoint{
				ID: hookline.NewID(hookline.EndpointPrefix, start), Tenant: Tenant(t), URL: "https://receiver.example/hook",
				Secret: "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", CreatedAt: start, UpdatedAt: start,
			})
		}
	}
	return d
}

// Tenant returns the name of tenant t.
func Tenant(t int) string { return "tenant" + strconv.Itoa(t) }

// Events is the number of events.
func (d *Data) Events() int { return d.N / EndpointsPerTenant }

// Event is one event of the data set and its deliveries.
type Event struct {
	ID, Tenant, Type string
	CreatedAt        time.Time
	Deliveries       []Delivery
}

// Delivery is one delivery of the data set.
type Delivery struct {
	ID       string
	Endpoint *hookline.Endpoint
	Status   hookline.DeliveryStatus
}

// Each calls fn with every event, oldest first: event i is of tenant i%4,
// of type (i/4)%20 (every tenant gets every type), and its deliveries are
// 1% failed, 0.5% pending, the rest delivered.
func (d *Data) Each(fn func(ev *Event) error) error {
	e := d.Events()
	step := Span / time.Duration(max(e, 1))
	ev := &Event{}
	k := 0
	for i := range e {
		t := i % Tenants
		at := d.Start.Add(time.Duration(i) * step)
		ev.ID, ev.Tenant, ev.Type, ev.CreatedAt = hookline.NewID(hookline.EventPrefix, at), Tenant(t), Types[(i/Tenants)%len(Types)], at
		ev.Deliveries = ev.Deliveries[:0]
		for j := range EndpointsPerTenant {
			st := hookline.StatusDelivered
			switch k % 199 { // 199: prime to the 5 endpoints and 4 tenants, so each gets its share
			case 7, 77:
				st = hookline.StatusFailed
			case 150:
				st = hookline.StatusPending
			}
			k++
			ev.Deliveries = append(ev.Deliveries, Delivery{
				ID: hookline.NewID(hookline.DeliveryPrefix, at), Endpoint: d.Endpoints[t*EndpointsPerTenant+j], Status: st,
			})
		}
		if err := fn(ev); err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
	}
	return nil
}

// Case is one query of the benchmark: a list or a count of deliveries, or
// a list of events.
type Case struct {
	Name       string
	Deliveries *hookline.DeliveryFilter
	Count      bool
	Events     *hookline.EventFilter
}

// Cases returns the queries, a page of 50 each (counts aside).
func (d *Data) Cases() []Case {
	ep := d.Endpoints[0].ID
	tenant := Tenant(0)
	day := d.Start.Add(Span / 2)
	dayEnd := day.Add(24 * time.Hour)
	hour := day.Add(time.Hour)
	df := func(f hookline.DeliveryFilter) *hookline.DeliveryFilter { f.Limit = 50; return &f }
	ef := func(f hookline.EventFilter) *hookline.EventFilter { f.Limit = 50; return &f }
	// A cursor in the middle of the endpoint's deliveries: a deep page.
	mid := hookline.MinID(hookline.DeliveryPrefix, day)
	return []Case{
		{Name: "deliveries/newest", Deliveries: df(hookline.DeliveryFilter{})},
		{Name: "deliveries/failed", Deliveries: df(hookline.DeliveryFilter{Status: hookline.StatusFailed})},
		{Name: "deliveries/pending", Deliveries: df(hookline.DeliveryFilter{Status: hookline.StatusPending})},
		{Name: "deliveries/endpoint", Deliveries: df(hookline.DeliveryFilter{EndpointID: ep})},
		{Name: "deliveries/endpoint+failed", Deliveries: df(hookline.DeliveryFilter{EndpointID: ep, Status: hookline.StatusFailed})},
		{Name: "deliveries/endpoint+deep-cursor", Deliveries: df(hookline.DeliveryFilter{EndpointID: ep, Cursor: mid})},
		{Name: "deliveries/type", Deliveries: df(hookline.DeliveryFilter{EventType: "invoice.paid"})},
		{Name: "deliveries/type+failed", Deliveries: df(hookline.DeliveryFilter{EventType: "invoice.paid", Status: hookline.StatusFailed})},
		{Name: "deliveries/pattern", Deliveries: df(hookline.DeliveryFilter{EventType: "invoice.*"})},
		{Name: "deliveries/pattern+failed", Deliveries: df(hookline.DeliveryFilter{EventType: "invoice.*", Status: hookline.StatusFailed})},
		{Name: "deliveries/day", Deliveries: df(hookline.DeliveryFilter{Since: day, Until: dayEnd})},
		{Name: "deliveries/day+failed", Deliveries: df(hookline.DeliveryFilter{Since: day, Until: dayEnd, Status: hookline.StatusFailed})},
		{Name: "deliveries/endpoint+day", Deliveries: df(hookline.DeliveryFilter{EndpointID: ep, Since: day, Until: dayEnd})},
		{Name: "deliveries/endpoint+type+day", Deliveries: df(hookline.DeliveryFilter{EndpointID: ep, EventType: "user.voided", Since: day, Until: dayEnd})},
		{Name: "deliveries/endpoint+type+failed+hour", Deliveries: df(hookline.DeliveryFilter{EndpointID: ep, EventType: "user.voided", Status: hookline.StatusFailed, Since: day, Until: hour})},
		{Name: "deliveries/type+delivered+day", Deliveries: df(hookline.DeliveryFilter{EventType: "order.paid", Status: hookline.StatusDelivered, Since: day, Until: dayEnd})},
		{Name: "deliveries/endpoint+absent-type", Deliveries: df(hookline.DeliveryFilter{EndpointID: ep, EventType: "nothing.here"})},
		{Name: "deliveries/endpoint+type", Deliveries: df(hookline.DeliveryFilter{EndpointID: ep, EventType: "user.voided"})},
		{Name: "deliveries/endpoint+pattern", Deliveries: df(hookline.DeliveryFilter{EndpointID: ep, EventType: "invoice.*"})},
		{Name: "deliveries/endpoint+absent-pattern", Deliveries: df(hookline.DeliveryFilter{EndpointID: ep, EventType: "nothing.*"})},
		{Name: "deliveries/endpoint+absent-type+failed", Deliveries: df(hookline.DeliveryFilter{EndpointID: ep, EventType: "nothing.here",
			Status: hookline.StatusFailed})},
		{Name: "count/endpoint+type", Deliveries: df(hookline.DeliveryFilter{EndpointID: ep, EventType: "user.voided"}), Count: true},
		{Name: "count/endpoint+failed", Deliveries: df(hookline.DeliveryFilter{EndpointID: ep, Status: hookline.StatusFailed}), Count: true},
		{Name: "count/type+failed", Deliveries: df(hookline.DeliveryFilter{EventType: "invoice.*", Status: hookline.StatusFailed}), Count: true},
		{Name: "count/failed+day", Deliveries: df(hookline.DeliveryFilter{Status: hookline.StatusFailed, Since: day, Until: dayEnd}), Count: true},
		{Name: "events/newest", Events: ef(hookline.EventFilter{})},
		{Name: "events/tenant", Events: ef(hookline.EventFilter{Tenant: &tenant})},
		{Name: "events/type", Events: ef(hookline.EventFilter{Type: "order.voided"})},
		{Name: "events/pattern", Events: ef(hookline.EventFilter{Type: "order.*"})},
		{Name: "events/tenant+type+day", Events: ef(hookline.EventFilter{Tenant: &tenant, Type: "payout.paid", Since: day, Until: dayEnd})},
		{Name: "events/day", Events: ef(hookline.EventFilter{Since: day, Until: dayEnd})},
	}
}

// Searcher is the part of a store the cases query.
type Searcher interface {
	FindDeliveries(ctx context.Context, f hookline.DeliveryFilter) ([]*hookline.Delivery, string, error)
	CountDeliveries(ctx context.Context, f hookline.DeliveryFilter) (int64, error)
	FindEvents(ctx context.Context, f hookline.EventFilter) ([]*hookline.Event, string, error)
}

// Run times each of cases against s, one sub-benchmark each, reporting the
// rows a query returned (or counted).
func Run(b *testing.B, s Searcher, cases []Case) {
	ctx := context.Background()
	for _, c := range cases {
		b.Run(c.Name, func(b *testing.B) {
			rows := 0
			for b.Loop() {
				var err error
				switch {
				case c.Count:
					var n int64
					n, err = s.CountDeliveries(ctx, *c.Deliveries)
					rows = int(n)
				case c.Deliveries != nil:
					var ds []*hookline.Delivery
					ds, _, err = s.FindDeliveries(ctx, *c.Deliveries)
					rows = len(ds)
				default:
					var evs []*hookline.Event
					evs, _, err = s.FindEvents(ctx, *c.Events)
					rows = len(evs)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rows), "rows")
		})
	}
}
