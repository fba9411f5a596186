package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookline/hookline"
)

// notifier tells the other nodes through LISTEN/NOTIFY that deliveries they
// may own became due, so that their pollers look at once instead of at their
// next poll: after an ingest or replay that wrote deliveries unclaimed, a
// retry, or a recovery. (The node that wrote them pokes its own poller.)
//
// Notifications are hints: one may be lost (a listener reconnecting), and the
// pollers' interval is the backstop. They are sent after the write commits,
// coalesced and from a goroutine of their own, so that ingest never waits for
// them and its commits are not serialised on the notification queue's lock.
type notifier struct {
	s       *Store
	channel string // the schema's channel
	self    string // the payload of this store's notifications, which it ignores

	kick     chan struct{} // a notification is owed
	signal   chan struct{} // DueSignal
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
	n.signal = make(chan struct{}, 1)
	n.ctx, n.cancel = context.WithCancel(context.Background())
}

// close stops the goroutines and waits for them.
func (n *notifier) close() {
	n.cancel()
	n.wg.Wait()
}

// due asks for a notification to be sent soon. It does not block.
func (n *notifier) due() {
	n.sendOnce.Do(func() {
		n.wg.Add(1)
		go n.send()
	})
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// send sends a notification for each kick; kicks that come while one is
// being sent make one more.
func (n *notifier) send() {
	defer n.wg.Done()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-n.kick:
		}
		ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
		// A notification needs no fsync: it is a hint.
		_ = pgx.BeginFunc(ctx, n.s.pool, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			b.Queue("SET LOCAL synchronous_commit = off")
			b.Queue("SELECT pg_notify($1, $2)", n.channel, n.self)
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
	n := &s.notify
	n.listOnce.Do(func() {
		n.wg.Add(1)
		go n.listen()
	})
	return n.signal
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
	n.poke()
	for {
		note, err := conn.WaitForNotification(n.ctx)
		if err != nil {
			return err
		}
		if note.Payload != n.self {
			n.poke()
		}
	}
}

func (n *notifier) poke() {
	select {
	case n.signal <- struct{}{}:
	default:
	}
}
