package delivery

import (
	"sync"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/signature"
)

// dispatcher holds the deliveries this node has in memory: one FIFO queue per
// endpoint, and a ring of endpoints that have work and a free in-flight slot.
// Workers take one task at a time from the endpoint at the head of the ring
// and put the endpoint back at its tail, so every endpoint is served in turn
// and a slow endpoint holds only its own slots.
type dispatcher struct {
	mu          sync.Mutex
	cond        sync.Cond
	queues      map[string]*endpointQueue
	ready       ring[*endpointQueue]
	held        map[string]struct{} // delivery IDs queued or in flight
	capacity    int                 // most tasks held at once
	perEndpoint int                 // most requests in flight to one endpoint
	inFlight    int
	closed      bool
	// lowWater is called (without the lock) when a task completes while the
	// poller waits for room, at most once per wait.
	lowWater  func()
	wantsRoom bool
}

// endpointQueue is the in-memory state of one endpoint.
type endpointQueue struct {
	ep       *hookline.Endpoint
	signer   *signature.Signer // nil when the secret does not parse
	secret   string            // the secret signer was made from
	tasks    ring[*hookline.Task]
	inFlight int
	inReady  bool
}

func newDispatcher(capacity, perEndpoint int, lowWater func()) *dispatcher {
	d := &dispatcher{
		queues:      make(map[string]*endpointQueue),
		held:        make(map[string]struct{}),
		capacity:    capacity,
		perEndpoint: perEndpoint,
		lowWater:    lowWater,
	}
	d.cond.L = &d.mu
	return d
}

// free returns how many more tasks fit.
func (d *dispatcher) free() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.capacity - len(d.held)
}

// admit queues tasks, up to capacity, skipping those already held. It
// returns the tasks that did not fit, which stay in the store.
func (d *dispatcher) admit(tasks []*hookline.Task) (rejected []*hookline.Task) {
	if len(tasks) == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, t := range tasks {
		if _, ok := d.held[t.DeliveryID]; ok {
			continue
		}
		if d.closed || len(d.held) >= d.capacity {
			return tasks[i:]
		}
		d.held[t.DeliveryID] = struct{}{}
		q := d.queueFor(t.Endpoint)
		q.tasks.push(t)
		d.markReady(q)
	}
	return nil
}

// queueFor returns the queue of an endpoint, made on first use, and keeps
// its snapshot the newest seen.
func (d *dispatcher) queueFor(ep *hookline.Endpoint) *endpointQueue {
	q := d.queues[ep.ID]
	if q == nil {
		q = &endpointQueue{}
		d.queues[ep.ID] = q
		q.setEndpoint(ep)
	} else if ep != q.ep && !ep.UpdatedAt.Before(q.ep.UpdatedAt) {
		q.setEndpoint(ep)
	}
	return q
}

func (q *endpointQueue) setEndpoint(ep *hookline.Endpoint) {
	q.ep = ep
	if q.signer == nil || q.secret != ep.Secret {
		q.signer, _ = signature.NewSigner(ep.Secret)
		q.secret = ep.Secret
	}
}

// markReady puts q in the ring if it has work and a free slot.
func (d *dispatcher) markReady(q *endpointQueue) {
	if !q.inReady && q.tasks.len() > 0 && q.inFlight < d.perEndpoint {
		q.inReady = true
		d.ready.push(q)
		d.cond.Signal()
	}
}

// next blocks until a task can be sent and returns it with its queue, or
// returns nil when the dispatcher is closed.
func (d *dispatcher) next() (*hookline.Task, *endpointQueue) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.ready.len() == 0 && !d.closed {
		d.cond.Wait()
	}
	if d.closed {
		return nil, nil
	}
	q := d.ready.pop()
	q.inReady = false
	for q.tasks.len() == 0 || q.inFlight >= d.perEndpoint {
		// Emptied by drop or updateEndpoint since it was marked ready.
		for d.ready.len() == 0 && !d.closed {
			d.cond.Wait()
		}
		if d.closed {
			return nil, nil
		}
		q = d.ready.pop()
		q.inReady = false
	}
	t := q.tasks.pop()
	q.inFlight++
	d.inFlight++
	d.markReady(q)
	return t, q
}

// done releases the slot of a task that was sent.
func (d *dispatcher) done(t *hookline.Task, q *endpointQueue) {
	d.mu.Lock()
	q.inFlight--
	d.inFlight--
	delete(d.held, t.DeliveryID)
	d.markReady(q)
	d.forget(q)
	wake := d.wantsRoom && len(d.held) <= d.capacity/2
	if wake {
		d.wantsRoom = false
	}
	d.mu.Unlock()
	if wake && d.lowWater != nil {
		d.lowWater()
	}
}

// waitForRoom asks for lowWater to be called once half the capacity is free.
// It reports false when that is already the case.
func (d *dispatcher) waitForRoom() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.held) <= d.capacity/2 {
		return false
	}
	d.wantsRoom = true
	return true
}

// updateEndpoint replaces the snapshot of a queued endpoint; a nil ep (the
// endpoint was deleted) drops its queued tasks, which the store deleted.
func (d *dispatcher) updateEndpoint(id string, ep *hookline.Endpoint) {
	d.mu.Lock()
	defer d.mu.Unlock()
	q := d.queues[id]
	if q == nil {
		return
	}
	if ep != nil {
		q.setEndpoint(ep)
		return
	}
	for q.tasks.len() > 0 {
		delete(d.held, q.tasks.pop().DeliveryID)
	}
	d.forget(q)
}

// forget removes an idle, empty queue from the map.
func (d *dispatcher) forget(q *endpointQueue) {
	if q.inFlight == 0 && q.tasks.len() == 0 && d.queues[q.ep.ID] == q {
		delete(d.queues, q.ep.ID)
	}
}

// drop removes the queued (not in-flight) tasks for which keep is false and
// returns them.
func (d *dispatcher) drop(keep func(*hookline.Task) bool) []*hookline.Task {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*hookline.Task
	for _, q := range d.queues {
		n := q.tasks.len()
		for range n {
			t := q.tasks.pop()
			if keep(t) {
				q.tasks.push(t)
				continue
			}
			delete(d.held, t.DeliveryID)
			out = append(out, t)
		}
		d.forget(q)
	}
	return out
}

// close wakes every worker and makes next return nil. Queued tasks stay; the
// caller takes them with drop.
func (d *dispatcher) close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.cond.Broadcast()
}

// counts returns how many tasks are held and how many are in flight.
func (d *dispatcher) counts() (held, inFlight int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.held), d.inFlight
}

// ring is a growable FIFO queue.
type ring[T any] struct {
	buf        []T
	head, size int
}

func (r *ring[T]) len() int { return r.size }

func (r *ring[T]) push(v T) {
	if r.size == len(r.buf) {
		n := make([]T, max(8, 2*len(r.buf)))
		for i := range r.size {
			n[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = n, 0
	}
	r.buf[(r.head+r.size)%len(r.buf)] = v
	r.size++
}

func (r *ring[T]) pop() T {
	var zero T
	v := r.buf[r.head]
	r.buf[r.head] = zero
	r.head = (r.head + 1) % len(r.buf)
	r.size--
	if r.size == 0 && len(r.buf) > 64 {
		r.buf, r.head = nil, 0 // give back the memory of a burst
	}
	return v
}
