package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/hookline/hookline"
)

// An Ingest that comes while an outcome transaction holds the writer rides
// on that transaction: the outcome writer stops writing outcomes at its next
// look (every riderLook outcomes), writes the ingest's rows in a savepoint,
// and commits both with one fsync. Before, the ingest waited for the batch
// and its commit, then committed on its own: two fsyncs, and the ingest's
// answer behind both. The outcomes not yet written go in the next
// transaction, as when an outcome batch lets a waiting ingest go first
// (gate.go), but the ingest's commit is the one they share.
//
// A transaction carries at most one rider: a rider plans its rows from the
// store's state (the accepted order, the last fanouts ID), which it updates
// only once committed, so a second rider would plan the same. A rider whose
// rows fail is rolled back to its savepoint and told to write alone; the
// outcomes are committed without it.
type rider struct {
	// write writes the ingest's rows in tx; ctx does not end with the
	// ingest's caller (a cancelled statement would end the outcome
	// writer's transaction too).
	write func(ctx context.Context, tx *sql.Tx) error
	// after is the ingest's bookkeeping once committed, run under Store.mu
	// before anything else may write.
	after func()
	// done gets nil once the rider is committed, before after runs (the
	// ingest may answer then: Store.mu is held until after is done);
	// errNotCarried when nothing of it was written, or the commit's error.
	done chan error
	// built is closed once after has run, for IngestEarly's finish.
	built chan struct{}
	ok    bool // its rows were written (set by carry)
}

// errNotCarried tells a rider that nothing of it was written: it writes on
// its own.
var errNotCarried = errors.New("sqlite: ingest not carried by an outcome transaction")

// riderLook is how many outcomes an outcome transaction writes between
// looks for a rider.
const riderLook = 32

// rides is where an ingest boards the outcome transaction that holds the
// writer.
type rides struct {
	mu      sync.Mutex
	open    bool   // an outcome transaction takes a rider
	waiting *rider // the rider that boarded, until taken
	carried int    // riders committed (for tests)
}

// start opens boarding; the caller holds Store.mu.
func (r *rides) start() {
	r.mu.Lock()
	r.open = true
	r.mu.Unlock()
}

// board hands x to the open outcome transaction and reports whether it
// took it; false when none is open or one rider is aboard already.
func (r *rides) board(x *rider) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.open || r.waiting != nil {
		return false
	}
	r.waiting = x
	return true
}

// aboard reports whether a rider waits to be written.
func (r *rides) aboard() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.waiting != nil
}

// stop closes boarding and returns the rider that boarded, if any.
func (r *rides) stop() *rider {
	r.mu.Lock()
	defer r.mu.Unlock()
	x := r.waiting
	r.open, r.waiting = false, nil
	return x
}

// carry writes x's rows in tx, in a savepoint. A failure of x's rows rolls
// back to the savepoint (x.ok stays false); the error carry returns is the
// transaction's, when even that failed.
func carry(ctx context.Context, tx *sql.Tx, x *rider) error {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT rider"); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	if err := x.write(context.WithoutCancel(ctx), tx); err != nil {
		// A constraint violation of an OR ROLLBACK insert has ended the
		// whole transaction: then the rollback fails, and so does the
		// transaction.
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO rider"); rerr != nil {
			return fmt.Errorf("rider: %w; rollback to savepoint: %w", err, rerr)
		}
	} else {
		x.ok = true
	}
	if _, err := tx.ExecContext(ctx, "RELEASE rider"); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// land answers x once its transaction has ended with err: a committed rider
// is answered, then does its bookkeeping (the caller holds Store.mu, so that
// nothing reads the store in between); one that was not written,
// or was rolled back with the transaction, writes alone; one whose commit is
// in doubt gets the error.
func (r *rides) land(x *rider, err error) {
	switch {
	case x == nil:
		return
	case err == nil && x.ok:
		r.mu.Lock()
		r.carried++
		r.mu.Unlock()
		x.done <- nil
		x.after()
		close(x.built)
	case err != nil && errors.Is(err, hookline.ErrCommitUnknown):
		x.done <- err
	default:
		x.done <- errNotCarried
	}
}
