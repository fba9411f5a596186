package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookline/hookline"
)

// Leaser shares the partitions among the nodes of a cluster (ARCHITECTURE.md
// promise 7). Each node heartbeats, counts the live nodes, and keeps leases
// on its fair share of the partitions: it renews what it has, takes free or
// expired partitions while under its share, and hands back partitions over
// it so that a node that joins gets its share without a restart of the
// others. A node that dies stops renewing; its leases expire after the
// timeout given to NewLeaser and the others take them. A node that stops gracefully
// releases its leases at once.
//
// The owner of a partition is the only node dispatching its deliveries, which
// keeps per-endpoint ordering and limits correct without cross-node chatter.
// A node that cannot renew stops dispatching before its leases can expire,
// so two nodes never own a partition at once by the clock of either: no
// request starts past the deadline Renewed gives, and at that deadline a
// watchdog timer, which does not wait for the lease round (a database call
// may block it for as long as the round's timeout), tells the dispatcher
// that every lease is lost (Lost).
type Leaser struct {
	// HandoverDelay is the longest a node keeps a partition it hands back
	// to a node that joined: it renews the lease but no longer dispatches
	// from the partition, so that the deliveries it has in flight there
	// finish and their outcomes are written before the next owner resets
	// the partition's claims and sends what is still pending. The partition
	// is released as soon as none of its deliveries is claimed (from the
	// round after the hand-back on), or else on the first round after the
	// delay. Zero releases partitions at once, and the next owner may then
	// send a delivery again while the first attempt is under way. Set it
	// before Run. (Graceful shutdown waits for the engine instead, and
	// releases at once.)
	HandoverDelay time.Duration
	// Renewed, when set, is called after each round that renewed the
	// leases with the time until which they are surely ours by this node's
	// clock (the lease timeout from before the round, less two ticks). A
	// dispatcher stops starting requests past it, so that a node that
	// paused (GC, SIGSTOP, a frozen VM) past its leases sends nothing more
	// once it wakes, before it learns it lost them. Set it before Run.
	Renewed func(until time.Time)
	// Lost, when set, is called with partitions whose leases this node can
	// no longer count on, so that the dispatcher stops sending from them at
	// once and aborts the requests it has in flight there: by the watchdog,
	// with every partition leased, when no round renewed the leases by the
	// deadline given to Renewed, however long the database blocks the round
	// under way; and by a round, with those it found expired or taken by
	// another node (this one paused past them), and those it released. It
	// is called from the watchdog's goroutine or from Run's, and must not
	// block. Set it before Run.
	Lost func(parts []int)

	pool    *pgxpool.Pool
	nodeID  string
	timeout time.Duration
	tick    time.Duration
	log     *slog.Logger
	now     func() time.Time

	owned   []int
	applied bool             // owned has been given to set at least once
	handing map[int]handover // partitions being handed back

	mu       sync.Mutex  // guards what the watchdog reads
	validTil time.Time   // when our leases could expire, by our clock
	leased   []int       // every partition leased at the last round: owned, excess, handed back
	watch    *time.Timer // the watchdog, armed at each renewal
}

// handover is a partition being handed back: since when, and when it is
// released at the latest.
type handover struct{ since, by time.Time }

// NewLeaser returns a Leaser for nodeID with the given lease timeout. The
// store's schema has the lease tables.
func (s *Store) NewLeaser(nodeID string, timeout time.Duration, log *slog.Logger) *Leaser {
	return &Leaser{
		pool:    s.pool,
		nodeID:  nodeID,
		timeout: timeout,
		tick:    min(time.Second, timeout/5),
		log:     log,
		now:     time.Now,
		handing: make(map[int]handover),
	}
}

// Owned returns the partitions this node holds now.
func (l *Leaser) Owned() []int { return slices.Clone(l.owned) }

// Run keeps leases until ctx ends, calling set with the owned partitions
// each time they change (from Run's goroutine), then releases every lease.
func (l *Leaser) Run(ctx context.Context, set func(context.Context, []int) error) error {
	t := time.NewTicker(l.tick)
	defer t.Stop()
	l.watch = time.AfterFunc(time.Hour, l.watchdog)
	l.watch.Stop() // armed by the first renewal
	defer l.watch.Stop()
	for {
		l.step(ctx, set)
		select {
		case <-ctx.Done():
			return l.release(set)
		case <-t.C:
		}
	}
}

// watchdog tells the dispatcher that every lease is lost when no round
// renewed them by the dispatch deadline; a round that renews them re-arms
// it.
func (l *Leaser) watchdog() {
	l.mu.Lock()
	stop := l.validTil.Add(-2 * l.tick)
	if d := stop.Sub(l.now()); d > 0 {
		l.watch.Reset(d) // renewed meanwhile
		l.mu.Unlock()
		return
	}
	parts := slices.Clone(l.leased)
	l.mu.Unlock()
	l.log.Warn("partition leases not renewed in time; stopping dispatch", "partitions", len(parts))
	l.lost(parts)
}

// lost calls Lost with parts, if there are any.
func (l *Leaser) lost(parts []int) {
	if len(parts) > 0 && l.Lost != nil {
		l.Lost(parts)
	}
}

// step makes one round: heartbeat, renew, rebalance.
func (l *Leaser) step(ctx context.Context, set func(context.Context, []int) error) {
	start := l.now()
	owned, excess, leased, err := l.balance(ctx)
	if err != nil {
		if ctx.Err() == nil {
			l.log.Error("partition leases", "err", err)
		}
		// Stop dispatching before the leases we could not renew expire:
		// another node may take them then. (The watchdog has stopped the
		// dispatcher already, without waiting for this round.)
		l.mu.Lock()
		late := l.now().After(l.validTil.Add(-2 * l.tick))
		l.mu.Unlock()
		if len(l.owned) > 0 && late {
			l.log.Warn("partition leases could not be renewed; stopping dispatch", "partitions", len(l.owned))
			l.apply(ctx, nil, set)
		}
		return
	}
	l.mu.Lock()
	gone := without(l.leased, leased) // expired, or taken while we paused
	l.validTil, l.leased = start.Add(l.timeout), leased
	until := l.validTil.Add(-2 * l.tick)
	l.watch.Reset(max(until.Sub(l.now()), 0))
	l.mu.Unlock()
	l.lost(gone)
	l.apply(ctx, owned, set)
	if l.Renewed != nil {
		l.Renewed(until)
	}
	// Release the excess once the deliveries in flight there are done: it
	// is no longer dispatched from (apply), but still leased (balance).
	for _, p := range excess {
		l.handing[p] = handover{since: start, by: start.Add(l.HandoverDelay)}
	}
	due, err := l.handedOver(ctx)
	if err != nil {
		if ctx.Err() == nil {
			l.log.Error("release excess leases", "err", err)
		}
		return
	}
	if len(due) > 0 {
		if _, err := l.pool.Exec(ctx, `
			UPDATE partition_leases SET node_id = NULL, expires_at = now()
			WHERE node_id = $1 AND partition = ANY($2)`, l.nodeID, due); err != nil {
			if ctx.Err() == nil {
				l.log.Error("release excess leases", "err", err)
			}
			return
		}
		for _, p := range due {
			delete(l.handing, p)
		}
		l.mu.Lock()
		l.leased = without(l.leased, due)
		l.mu.Unlock()
		l.lost(due) // nothing should be in flight there by now: abort what is
	}
}

// without returns the partitions of a that are not in b.
func without(a, b []int) []int {
	var out []int
	for _, p := range a {
		if !slices.Contains(b, p) {
			out = append(out, p)
		}
	}
	return out
}

// handedOver returns the partitions being handed back that can be released
// now: those past their delay, and those none of whose deliveries is
// claimed any more, looked at from the round after the hand-back on, when
// ingests and claims that started before it have ended.
func (l *Leaser) handedOver(ctx context.Context) ([]int, error) {
	now := l.now()
	var due, check []int
	for p, h := range l.handing {
		switch {
		case !now.Before(h.by):
			due = append(due, p)
		case !now.Before(h.since.Add(l.tick)):
			check = append(check, p)
		}
	}
	if len(check) == 0 {
		return due, nil
	}
	idle, err := collect(l.pool.Query(ctx, `
		SELECT p FROM unnest($1::int[]) AS p
		WHERE NOT EXISTS (SELECT 1 FROM deliveries WHERE claimed AND partition = p)`, check))
	if err != nil {
		return nil, fmt.Errorf("look for claimed deliveries: %w", err)
	}
	return append(due, idle...), nil
}

func (l *Leaser) apply(ctx context.Context, owned []int, set func(context.Context, []int) error) {
	slices.Sort(owned)
	if l.applied && slices.Equal(owned, l.owned) {
		return
	}
	if err := set(ctx, owned); err != nil {
		l.log.Error("apply partition ownership", "err", err)
		return
	}
	if len(owned) != len(l.owned) {
		l.log.Info("partition ownership changed", "node", l.nodeID, "partitions", len(owned))
	}
	l.owned, l.applied = owned, true
}

// balance heartbeats, renews our leases, and takes or hands back partitions
// to reach our fair share, in one transaction. It returns what we own, what
// we hand back now, and every partition leased to us after it.
func (l *Leaser) balance(ctx context.Context) (owned, excess, leased []int, err error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout/2)
	defer cancel()
	tx, err := l.pool.Begin(ctx)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.Background())
	ttl := l.timeout.Seconds()

	if _, err := tx.Exec(ctx, `
		INSERT INTO nodes (node_id, heartbeat_at) VALUES ($1, now())
		ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = now()`, l.nodeID); err != nil {
		return nil, nil, nil, fmt.Errorf("heartbeat: %w", err)
	}
	var live int
	if err := tx.QueryRow(ctx, `
		SELECT count(*) FROM nodes WHERE heartbeat_at > now() - make_interval(secs => $1)`, ttl).Scan(&live); err != nil {
		return nil, nil, nil, fmt.Errorf("count nodes: %w", err)
	}
	share := (hookline.Partitions + max(live, 1) - 1) / max(live, 1)

	renewed, err := collect(tx.Query(ctx, `
		UPDATE partition_leases SET expires_at = now() + make_interval(secs => $2)
		WHERE node_id = $1 AND expires_at > now()
		RETURNING partition`, l.nodeID, ttl))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("renew leases: %w", err)
	}
	leased = slices.Clone(renewed)
	// Partitions being handed back are renewed, but neither dispatched nor
	// counted in our share.
	for _, p := range renewed {
		if _, ok := l.handing[p]; !ok {
			owned = append(owned, p)
		}
	}
	switch {
	case len(owned) > share:
		// Hand back the excess, highest first, so that a node that joined
		// gets its share: step stops dispatching it at once and releases
		// it once its attempts in flight are done (handedOver).
		slices.Sort(owned)
		excess = slices.Clone(owned[share:])
		owned = owned[:share]
	case len(owned) < share:
		got, err := collect(tx.Query(ctx, `
			UPDATE partition_leases SET node_id = $1, expires_at = now() + make_interval(secs => $2),
				epoch = epoch + 1
			WHERE partition IN (
				SELECT partition FROM partition_leases
				WHERE node_id IS NULL OR expires_at <= now()
				ORDER BY partition LIMIT $3 FOR UPDATE SKIP LOCKED)
			RETURNING partition`, l.nodeID, ttl, share-len(owned)))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("acquire leases: %w", err)
		}
		owned = append(owned, got...)
		leased = append(leased, got...)
	}
	if _, err := tx.Exec(ctx, `
		DELETE FROM nodes WHERE heartbeat_at < now() - make_interval(secs => $1)`, 10*ttl); err != nil {
		return nil, nil, nil, fmt.Errorf("forget dead nodes: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, nil, nil, fmt.Errorf("commit: %w", err)
	}
	return owned, excess, leased, nil
}

// release stops dispatching and hands every lease back at once, so other
// nodes take the partitions on their next round instead of after a timeout.
// The engine has already finished or handed back its deliveries.
func (l *Leaser) release(set func(context.Context, []int) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l.apply(ctx, []int{}, set)
	_, err := l.pool.Exec(ctx, `
		UPDATE partition_leases SET node_id = NULL, expires_at = now() WHERE node_id = $1`, l.nodeID)
	if err == nil {
		_, err = l.pool.Exec(ctx, `DELETE FROM nodes WHERE node_id = $1`, l.nodeID)
	}
	if err != nil {
		return fmt.Errorf("release leases: %w", err)
	}
	return nil
}

// collect reads the one integer column of the rows a query returned.
func collect(rows pgx.Rows, err error) ([]int, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int])
}
