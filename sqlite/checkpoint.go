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
// that keeps growing makes every read slower. So a round makes passes
// beside the writer, up to besidePasses, until one finds that at most
// lockedTail frames were written during the one before it; then a last
// pass under the store's write lock copies the frames written since, so
// that the next write starts the WAL over. (A pass beside the writer that
// copied all it saw proves nothing: the writer may have appended frames
// meanwhile, and a write that began before the pass ended does not start
// the WAL over.) The write lock is taken as an outcome
// batch takes it, behind a waiting ingest, and held for that short tail
// only: a pass under it that had to copy a round of outcomes held ingests
// for up to 40 ms.

// checkpointEvery is how often, at most, the checkpointer copies the WAL
// while writes come: about as often as SQLite's own 1,000 pages are filled
// under load.
const checkpointEvery = 100 * time.Millisecond

// besidePasses is the most passes a round makes beside the writer, and
// lockedTail the frames written during one pass below which the next is
// the last, under the write lock.
const (
	besidePasses = 3
	lockedTail   = 256
)

// checkpointer copies the WAL into the database file beside the writer.
type checkpointer struct {
	db   *sql.DB     // one connection of its own
	lock sync.Locker // the store's write lock, held for a round's last pass
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
// takes lock (the store's write lock) for its passes under it.
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

// round copies the WAL into the database file (see above).
func (c *checkpointer) round(ctx context.Context) error {
	var before int64 = -1 // the WAL's frames at the pass before
	for range besidePasses {
		frames, err := c.pass(ctx)
		if err != nil {
			return err
		}
		// Fewer frames than before: the WAL was started over meanwhile.
		if before >= 0 && frames-before <= lockedTail {
			break
		}
		before = frames
	}
	c.lock.Lock()
	defer c.lock.Unlock()
	_, err := c.pass(ctx)
	return err
}

// pass runs one passive checkpoint, which copies what no reader still
// reads from the WAL and never waits for a lock, and returns the frames
// the WAL held when it began. A reader that still reads older frames
// leaves them for the next round.
func (c *checkpointer) pass(ctx context.Context) (frames int64, err error) {
	var busy, copied int64
	if err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
		return 0, fmt.Errorf("checkpoint: %w", err)
	}
	return frames, nil
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
