package delivery

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/hookline/hookline"
)

// opEventsQueue bounds the operational events waiting to be ingested; past
// it they are dropped (and counted), so that a storm of failures cannot
// grow memory or hold the engine back.
const opEventsQueue = 4096

// opEvents raises Hookline's operational events: ordinary events of the
// tenant of the endpoint they are about, ingested through the same group
// commit and delivered, signed and retried, to the endpoints that subscribe
// to their types explicitly (Endpoint.Matches).
//
// They cannot loop: an endpoint that subscribes to any operational type
// raises none about itself, so the failures of the endpoints that receive
// them raise nothing. They do not storm: hookline.endpoint.failing is
// raised once per opening of a circuit, recovered once per closing,
// disabled once; hookline.delivery.failed once per dead-lettered delivery
// (which may be many when an endpoint's backlog exhausts its retries, but
// never for deliveries failed because their endpoint is disabled).
type opEvents struct {
	e      *Engine
	mu     sync.Mutex
	closed bool
	ch     chan *hookline.Event
	done   chan struct{}
}

func newOpEvents(e *Engine) *opEvents {
	return &opEvents{e: e, ch: make(chan *hookline.Event, opEventsQueue), done: make(chan struct{})}
}

// endpointEvent is the data of the hookline.endpoint.* events.
type endpointEvent struct {
	EndpointID string `json:"endpoint_id"`
	URL        string `json:"url"`
	Reason     string `json:"reason"`
	LastError  string `json:"last_error,omitempty"`
}

// deliveryFailedEvent is the data of hookline.delivery.failed.
type deliveryFailedEvent struct {
	EndpointID     string `json:"endpoint_id"`
	URL            string `json:"url"`
	Reason         string `json:"reason"`
	DeliveryID     string `json:"delivery_id"`
	EventID        string `json:"event_id"`
	Attempts       int    `json:"attempts"`
	LastStatusCode int    `json:"last_status_code"`
	LastError      string `json:"last_error"`
}

// endpoint raises a hookline.endpoint.* event about ep.
func (o *opEvents) endpoint(ep *hookline.Endpoint, typ, reason, lastErr string) {
	if ep.Operational() {
		return
	}
	o.raise(ep.Tenant, typ, endpointEvent{EndpointID: ep.ID, URL: ep.URL, Reason: reason, LastError: lastErr})
}

// deliveryFailed raises hookline.delivery.failed for a delivery of t that
// reached the dead-letter state with outcome out, for reason.
func (o *opEvents) deliveryFailed(ep *hookline.Endpoint, t *hookline.Task, out *hookline.Outcome, reason string) {
	if ep.Operational() {
		return
	}
	o.raise(ep.Tenant, hookline.EventDeliveryFailed, deliveryFailedEvent{
		EndpointID: ep.ID, URL: ep.URL, Reason: reason, DeliveryID: t.DeliveryID, EventID: t.EventID,
		Attempts: out.Attempt.Attempt, LastStatusCode: out.Attempt.StatusCode, LastError: out.Attempt.Error,
	})
}

func (o *opEvents) raise(tenant, typ string, data any) {
	b, err := json.Marshal(data)
	if err != nil {
		o.e.log.Error("operational event", "type", typ, "err", err)
		return
	}
	ev := &hookline.Event{Tenant: tenant, Type: typ, Data: b, Priority: hookline.DefaultPriority}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	select {
	case o.ch <- ev:
		o.e.metrics.opEvents.WithLabelValues(typ).Inc()
	default:
		o.e.metrics.opEventsDropped.Inc()
	}
}

// run ingests the events raised, in batches, until close.
func (o *opEvents) run() {
	defer close(o.done)
	for ev := range o.ch {
		batch := []*hookline.Event{ev}
	fill:
		for len(batch) < 256 {
			select {
			case ev, ok := <-o.ch:
				if !ok {
					break fill
				}
				batch = append(batch, ev)
			default:
				break fill
			}
		}
		o.ingest(batch)
	}
}

// ingest writes a batch of events, trying a few times while the store is
// unavailable; events still not written are logged and dropped.
func (o *opEvents) ingest(batch []*hookline.Event) {
	e := o.e
	backoff := 100 * time.Millisecond
	for try := 1; ; try++ {
		now := e.now()
		for _, ev := range batch {
			ev.ID = hookline.NewID(hookline.EventPrefix, now)
			ev.CreatedAt = now
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := e.committer.submit(ctx, &hookline.IngestRequest{Events: batch})
		cancel()
		if err == nil || try == 5 {
			if err != nil {
				e.log.Error("operational events lost", "events", len(batch), "err", err)
				e.metrics.opEventsDropped.Add(float64(len(batch)))
			}
			return
		}
		select {
		case <-time.After(backoff):
		case <-e.stopping:
			e.log.Warn("operational events lost at shutdown", "events", len(batch), "err", err)
			return
		}
		backoff *= 2
	}
}

// close stops raising and waits until what was raised is ingested.
func (o *opEvents) close() {
	o.mu.Lock()
	if !o.closed {
		o.closed = true
		close(o.ch)
	}
	o.mu.Unlock()
	<-o.done
}
