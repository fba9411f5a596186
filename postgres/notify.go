package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookline/hookline"
)

// notifier tells the other nodes through LISTEN/NOTIFY, on one channel per
// schema, that deliveries they may own became due, so that their pollers look
// at once instead of at their next poll: after an ingest or replay that wrote
// deliveries unclaimed, a retry, or a recovery (the node that wrote them pokes
// its own poller); and that endpoints changed, so that they read
// EndpointChanges at once.
//
// Notifications are hints: one may be lost (a listener reconnecting, a node
// that dies between a commit and its notification), and the readers' own
// intervals are the backstop; every (re)connection of the listener signals
// both, for what it may have missed. They are sent after the write commits,
// coalesced and from a goroutine of their own, so that ingest never waits for
// them and its commits are not serialised on the notification queue's lock.
type notifier struct {
	s       *Store
	channel string // the schema's channel
	self    string // the payload of this store's due notifications, which it ignores

	kick     chan struct{} // a due notification is owed
	kickEps  chan struct{} // an endpoints notification is owed
	signal   chan struct{} // DueSignal
	epSignal chan struct{} // EndpointSignal
	sendOnce sync.Once
	listOnce sync.Once

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (n *notifier) init(s *Store) {
	n.s = s
	n.channel = fmt.Sprintf("hookline_due_%016x", uint64(lockKey(s.schema)))
	n.self = hookline.NewID("store_", time.Now())
	n.kick = make(chan struct{}, 1)
	n.kickEps = make(chan struct{}, 1)
	n.signal = make(chan struct{}, 1)
	n.epSignal = make(chan struct{}, 1)
	n.ctx, n.cancel = context.WithCancel(context.Background())
}

// close stops the goroutines and waits for them.
func (n *notifier) close() {
	n.cancel()
	n.wg.Wait()
}

// endpointsPayload is the payload of an endpoints notification.
const endpointsPayload = "endpoints"

// due asks for a due notification to be sent soon. It does not block.
func (n *notifier) due() { n.owe(n.kick) }

// endpoints asks for an endpoints notification to be sent soon, once an
// endpoint write committed. It does not block.
func (n *notifier) endpoints() { n.owe(n.kickEps) }

func (n *notifier) owe(kick chan struct{}) {
	n.sendOnce.Do(func() {
		n.wg.Add(1)
		go n.send()
	})
	select {
	case kick <- struct{}{}:
	default:
	}
}

// send sends a notification for each kick; kicks that come while one is
// being sent make one more.
func (n *notifier) send() {
	defer n.wg.Done()
	for {
		payload := n.self
		select {
		case <-n.ctx.Done():
			return
		case <-n.kick:
		case <-n.kickEps:
			payload = endpointsPayload
		}
		ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
		// A notification needs no fsync: it is a hint.
		_ = pgx.BeginFunc(ctx, n.s.pool, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			b.Queue("SET LOCAL synchronous_commit = off")
			b.Queue("SELECT pg_notify($1, $2)", n.channel, payload)
			return tx.SendBatch(ctx, b).Close()
		})
		cancel()
	}
}

// DueSignal returns a channel that receives a value when another node made
// deliveries due (package delivery's poller looks at the store then). The
// first call starts listening, on a connection of its own outside the pool,
// which is reopened when it breaks; every (re)connection signals once, for
// what may have been missed.
func (s *Store) DueSignal() <-chan struct{} {
	s.notify.start()
	return s.notify.signal
}

// EndpointSignal returns a channel that receives a value when an endpoint
// was written, by any node (this one included), so that EndpointChanges
// has something new; and at every (re)connection of the listener, as
// DueSignal.
func (s *Store) EndpointSignal() <-chan struct{} {
	s.notify.start()
	return s.notify.epSignal
}

// start starts listening, once.
func (n *notifier) start() {
	n.listOnce.Do(func() {
		n.wg.Add(1)
		go n.listen()
	})
}

func (n *notifier) listen() {
	defer n.wg.Done()
	backoff := 100 * time.Millisecond
	for n.ctx.Err() == nil {
		err := n.listenOnce()
		if n.ctx.Err() != nil {
			return
		}
		if err == nil {
			backoff = 100 * time.Millisecond
		}
		select {
		case <-n.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// listenOnce connects, listens and signals until the connection breaks or
// the store closes.
func (n *notifier) listenOnce() error {
	conn, err := pgx.ConnectConfig(n.ctx, n.s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(n.ctx, "LISTEN "+pgx.Identifier{n.channel}.Sanitize()); err != nil {
		return err
	}
	poke(n.signal)
	poke(n.epSignal)
	for {
		note, err := conn.WaitForNotification(n.ctx)
		if err != nil {
			return err
		}
		switch note.Payload {
		case endpointsPayload:
			poke(n.epSignal)
		case n.self:
		default:
			poke(n.signal)
		}
	}
}

func poke(signal chan struct{}) {
	select {
	case signal <- struct{}{}:
	default:
	}
}
