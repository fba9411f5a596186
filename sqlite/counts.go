package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/hookline/hookline"
)

// counts are the numbers behind Stats, PendingCount and EndpointCounts,
// kept in memory and exact: only this store writes the file, and each
// writer applies its changes after its transaction commits.
type counts struct {
	mu         sync.Mutex
	total      hookline.StoreStats
	byEndpoint map[string]*endpointCounts  // endpoints that have had pending or failed deliveries
	circuits   map[string]hookline.Circuit // endpoints whose saved circuit is not closed
}

// endpointCounts are one endpoint's counts. They are kept at zero, so that
// a fan-out to endpoints whose deliveries have all been delivered does not
// make them again (an allocation and a map insert a delivery), until the
// endpoint is deleted.
type endpointCounts struct {
	hookline.EndpointCounts
	deleted bool
}

// countsDelta is a change to counts, built while a transaction runs and
// applied once it has committed.
type countsDelta struct {
	total hookline.StoreStats
	eps   map[string]hookline.EndpointCounts
}

// add counts n more deliveries of the stored status v to an endpoint (n may
// be negative).
func (d *countsDelta) add(endpointID string, v, n int64) {
	addStatus(&d.total, v, n)
	if v == statusDelivered {
		return
	}
	if d.eps == nil {
		d.eps = make(map[string]hookline.EndpointCounts)
	}
	c := d.eps[endpointID]
	if v == statusPending {
		c.Pending += n
	} else {
		c.Failed += n
	}
	d.eps[endpointID] = c
}

// loadCounts reads every count; Open calls it once. One scan of the
// deliveries gives both the totals and each endpoint's share.
func loadCounts(ctx context.Context, db *sql.DB) (*counts, error) {
	c := &counts{byEndpoint: make(map[string]*endpointCounts), circuits: make(map[string]hookline.Circuit)}
	var d countsDelta
	rows, err := db.QueryContext(ctx, "SELECT endpoint_id, status, count(*) FROM deliveries GROUP BY endpoint_id, status")
	if err != nil {
		return nil, fmt.Errorf("count deliveries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var status, n int64
		if err := rows.Scan(&id, &status, &n); err != nil {
			return nil, fmt.Errorf("count deliveries: %w", err)
		}
		d.add(id, status, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count deliveries: %w", err)
	}
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM events").Scan(&d.total.Events); err != nil {
		return nil, fmt.Errorf("count events: %w", err)
	}
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM endpoints WHERE deleted_at IS NULL").Scan(&d.total.Endpoints); err != nil {
		return nil, fmt.Errorf("count endpoints: %w", err)
	}
	c.apply(&d)
	hrows, err := db.QueryContext(ctx, "SELECT endpoint_id, circuit FROM endpoint_health WHERE circuit != 0")
	if err != nil {
		return nil, fmt.Errorf("count circuits: %w", err)
	}
	defer hrows.Close()
	for hrows.Next() {
		var id string
		var v int64
		if err := hrows.Scan(&id, &v); err != nil {
			return nil, fmt.Errorf("count circuits: %w", err)
		}
		c.circuits[id] = circuitOf(v)
	}
	return c, hrows.Err()
}

// apply adds a committed change.
func (c *counts) apply(d *countsDelta) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addTotal(d.total)
	for id, e := range d.eps {
		c.addEndpoint(id, e.Pending, e.Failed)
	}
}

// addTotal adds to the totals; the caller holds c.mu.
func (c *counts) addTotal(d hookline.StoreStats) {
	c.total.Pending += d.Pending
	c.total.Delivered += d.Delivered
	c.total.Failed += d.Failed
	c.total.Events += d.Events
	c.total.Endpoints += d.Endpoints
}

// addEndpoint adds to one endpoint's counts, dropping those of a deleted
// endpoint at zero; the caller holds c.mu.
func (c *counts) addEndpoint(id string, pending, failed int64) {
	e := c.byEndpoint[id]
	if e == nil {
		if pending == 0 && failed == 0 {
			return
		}
		e = &endpointCounts{}
		c.byEndpoint[id] = e
	}
	e.Pending += pending
	e.Failed += failed
	if e.deleted && e.Pending == 0 && e.Failed == 0 {
		delete(c.byEndpoint, id)
	}
}

// ingested counts the new pending deliveries of tasks, and events new
// events.
func (c *counts) ingested(tasks []*hookline.Task, events int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total.Pending += int64(len(tasks))
	c.total.Events += int64(events)
	for _, t := range tasks {
		c.addEndpoint(t.Endpoint.ID, 1, 0)
	}
}

// endpointDeleted drops an endpoint and its health. Its deliveries are
// counted until PurgeDeleted deletes them.
func (c *counts) endpointDeleted(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total.Endpoints--
	delete(c.circuits, id)
	if e := c.byEndpoint[id]; e != nil {
		if e.Pending == 0 && e.Failed == 0 {
			delete(c.byEndpoint, id)
		} else {
			e.deleted = true
		}
	}
}

// setCircuit records the saved circuit of an endpoint.
func (c *counts) setCircuit(id string, circuit hookline.Circuit) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if circuit == hookline.CircuitOpen || circuit == hookline.CircuitHalfOpen {
		c.circuits[id] = circuit
	} else {
		delete(c.circuits, id)
	}
}

// stats returns the totals with the circuit counts; disabled is the number
// of disabled endpoints.
func (c *counts) stats(disabled int) hookline.StoreStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.total
	for _, v := range c.circuits {
		if v == hookline.CircuitOpen {
			st.EndpointsByCircuit.Open++
		} else {
			st.EndpointsByCircuit.HalfOpen++
		}
	}
	st.EndpointsByCircuit.Closed = st.Endpoints - st.EndpointsByCircuit.Open - st.EndpointsByCircuit.HalfOpen
	st.EndpointsDisabled = int64(disabled)
	return st
}

// endpoint returns one endpoint's counts.
func (c *counts) endpoint(id string) hookline.EndpointCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.byEndpoint[id]; e != nil {
		return e.EndpointCounts
	}
	return hookline.EndpointCounts{}
}

// pending returns the number of pending deliveries.
func (c *counts) pending() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total.Pending
}
