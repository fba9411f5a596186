package web

import (
	"sync"
	"sync/atomic"
)

// StreamBuffer is how many updates a tab's stream holds before it drops
// them. Each update is the whole latest state, so a dropped one is made up
// for by the next.
const StreamBuffer = 4

// Update is one sample as the live streams send it: Version changes whenever
// the store's counts change (so lists know to refresh), and Data is the JSON
// of the sample, encoded once for every stream.
type Update struct {
	Version uint64
	Data    []byte
}

// Hub is the one registry of live streams: one subscriber per browser tab,
// each with a buffer of StreamBuffer updates. Publish never blocks: a tab
// whose buffer is full drops its oldest update, and only it.
type Hub struct {
	mu      sync.Mutex
	subs    map[*Subscriber]struct{}
	max     int
	closed  bool
	dropped atomic.Int64
}

// Subscriber is one live stream's end of the Hub.
type Subscriber struct {
	// C receives updates; it is closed when the Hub closes.
	C       chan Update
	dropped atomic.Int64
}

// Dropped returns how many updates this subscriber missed because its
// buffer was full.
func (s *Subscriber) Dropped() int64 { return s.dropped.Load() }

// NewHub returns a Hub that holds at most max subscribers.
func NewHub(max int) *Hub { return &Hub{subs: make(map[*Subscriber]struct{}), max: max} }

// Subscribe adds a subscriber, or returns nil when the Hub is full or
// closed.
func (h *Hub) Subscribe() *Subscriber {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || len(h.subs) >= h.max {
		return nil
	}
	s := &Subscriber{C: make(chan Update, StreamBuffer)}
	h.subs[s] = struct{}{}
	return s
}

// Unsubscribe removes s. It is safe after Close.
func (h *Hub) Unsubscribe(s *Subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
}

// Publish offers u to every subscriber without waiting on any. A
// subscriber whose buffer is full drops its oldest update to make room, so
// that the newest state always reaches it.
func (h *Hub) Publish(u Update) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.C <- u:
			continue
		default:
		}
		select {
		case <-s.C: // the oldest
		default:
		}
		s.dropped.Add(1)
		h.dropped.Add(1)
		select {
		case s.C <- u:
		default: // only Publish sends, under h.mu: cannot happen
		}
	}
}

// Len returns how many subscribers there are.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Dropped returns how many updates were dropped in all, over every
// subscriber.
func (h *Hub) Dropped() int64 { return h.dropped.Load() }

// Close closes every subscriber's channel and refuses new ones.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for s := range h.subs {
		close(s.C)
		delete(h.subs, s)
	}
}
