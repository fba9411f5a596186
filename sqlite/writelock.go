package sqlite

import (
	"sync"
	"sync/atomic"
)

// writeLock is the store's mutex (Store.mu): the file has one writer, and
// every write holds the lock from before its transaction begins until the
// in-memory state matches what it committed. It is a mutex with one
// addition: ingest goes first.
//
// Everything that waits for a 202 waits for Ingest, and Ingest waits for
// whatever write holds the lock: under a backlog that is an outcome
// transaction of hundreds of rows, tens of milliseconds, so a priority-9
// event queued behind it waits for the backlog's writes. So an Ingest call
// waiting for the lock is let in before the other waiters, and long writes
// (RecordOutcomes) ask wantsYield between chunks and commit what they have
// done to let it in. Ingest jumps the queue once in a row: when other writes
// wait too, the next one after an Ingest is theirs, so a flood of ingest
// never starves outcomes, claims or endpoint changes.
type writeLock struct {
	mu   sync.Mutex
	cond sync.Cond // on mu: the lock was released

	held       bool
	lastIngest bool         // the holder, or the last one, is an Ingest call
	others     int          // other callers waiting
	ingest     atomic.Int32 // Ingest calls waiting
}

// Lock takes the lock for any write but Ingest's.
func (l *writeLock) Lock() {
	l.mu.Lock()
	if l.cond.L == nil {
		l.cond.L = &l.mu
	}
	l.others++
	for l.held || l.ingest.Load() > 0 && !l.lastIngest {
		l.cond.Wait()
	}
	l.others--
	l.held, l.lastIngest = true, false
	l.mu.Unlock()
}

// lockIngest takes the lock for Ingest: before the other waiters, unless the
// last holder was an Ingest call too and others wait.
func (l *writeLock) lockIngest() {
	l.mu.Lock()
	if l.cond.L == nil {
		l.cond.L = &l.mu
	}
	l.ingest.Add(1)
	for l.held || l.lastIngest && l.others > 0 {
		l.cond.Wait()
	}
	l.ingest.Add(-1)
	l.held, l.lastIngest = true, true
	l.mu.Unlock()
}

// Unlock releases the lock.
func (l *writeLock) Unlock() {
	l.mu.Lock()
	if !l.held {
		l.mu.Unlock()
		panic("sqlite: unlock of an unlocked write lock")
	}
	l.held = false
	l.mu.Unlock()
	l.cond.Broadcast()
}

// wantsYield reports whether an Ingest call waits for the lock: a holder
// that can stop at a consistent point should commit, Unlock and Lock again.
func (l *writeLock) wantsYield() bool { return l.ingest.Load() > 0 }
