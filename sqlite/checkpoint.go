package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// Checkpoints beside the writer.
//
// SQLite's automatic checkpoint runs in the commit that takes the WAL past
// 1,000 pages, on the committing connection: that commit, whichever it is
// (often an ingest), returns only once the WAL's pages are copied into the
// database file and it is fsync'd, 10-20 ms on this machine where the
// commit itself takes 1-2 ms. The write connection has them off
// (writeDSN), and the checkpointer does the copying on a connection of its
// own, which WAL lets run while the writer writes.
//
// A checkpoint that runs while the writer writes leaves the frames written
// meanwhile, and SQLite starts the WAL over only at a write that finds all
// of it copied: under a steady load that moment may never come, and a WAL
// that keeps growing makes every read slower. So each round has two
// passes: the first, beside the writer, copies almost everything; the
// second, under the store's write lock, copies the few frames written
// during the first, so that the next write starts the WAL over.

// checkpointEvery is how often, at most, the checkpointer copies the WAL
// while writes come: about as often as SQLite's own 1,000 pages are filled
// under load.
const checkpointEvery = 100 * time.Millisecond

// checkpointer copies the WAL into the database file beside the writer.
type checkpointer struct {
	db   *sql.DB     // one connection of its own
	lock sync.Locker // the store's write lock, held for a round's second pass
	kick chan struct{}
	stop chan struct{}
	done chan struct{}

	closeOnce sync.Once
	closeErr  error

	// err is the error of the last round, nil once one succeeds; rounds
	// counts those that succeeded. Under mu.
	mu     sync.Mutex
	err    error
	rounds int64
}

// newCheckpointer starts a checkpointer on the database file at path, which
// takes lock (the store's write lock) for its second passes.
func newCheckpointer(path string, lock sync.Locker) (*checkpointer, error) {
	db, err := sql.Open(driverName, checkpointDSN(path))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	c := &checkpointer{db: db, lock: lock, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c, nil
}

// wrote tells the checkpointer that a write committed. It never blocks; on
// nil (Open, before the checkpointer starts) it does nothing.
func (c *checkpointer) wrote() {
	if c == nil {
		return
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// run makes a round after writes, at most one every checkpointEvery, until
// close.
func (c *checkpointer) run() {
	defer close(c.done)
	var last time.Time
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		}
		if wait := checkpointEvery - time.Since(last); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-c.stop:
				t.Stop()
				return
			case <-t.C:
			}
		}
		last = time.Now()
		err := c.round(context.Background())
		c.mu.Lock()
		c.err = err
		if err == nil {
			c.rounds++
		}
		c.mu.Unlock()
		// A failed round (a full disk) is tried again after the next
		// write, as SQLite's own checkpoint would be; the WAL keeps every
		// commit meanwhile.
	}
}

// round copies the WAL into the database file, in two passes (see above).
func (c *checkpointer) round(ctx context.Context) error {
	if err := c.pass(ctx); err != nil {
		return err
	}
	c.lock.Lock()
	defer c.lock.Unlock()
	return c.pass(ctx)
}

// pass runs one passive checkpoint, which copies what no reader still
// reads from the WAL and never waits for a lock. A reader that still reads
// older frames leaves them for the next round.
func (c *checkpointer) pass(ctx context.Context) error {
	var busy, frames, copied int64
	if err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// stats returns how many rounds have succeeded and the error of the last
// one (nil when it succeeded).
func (c *checkpointer) stats() (rounds int64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rounds, c.err
}

// close stops the checkpointer, waiting for a round under way, and closes
// its connection. The last connection to close checkpoints what is left.
// Only the first call does anything (Store.Close may be called twice).
func (c *checkpointer) close() error {
	c.closeOnce.Do(func() {
		close(c.stop)
		<-c.done
		c.closeErr = c.db.Close()
	})
	return c.closeErr
}
