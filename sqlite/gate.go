package sqlite

import (
	"context"
	"sync"
	"time"
)

// ingestGate lets Ingest take the store's one writer (Store.mu) ahead of
// RecordOutcomes. An ingest holds a client's answer; an outcome batch holds
// nothing anyone waits on (the outcome writer lingers to fill it), and each
// batch holds the writer for tens of milliseconds. With a plain mutex, an
// ingest that came while the outcome writer was busy waited for the batch
// being written and often for the next one, which the outcome writer,
// already running, locked first.
//
// An ingest is waiting from before it asks for mu until it has it. While one
// is, RecordOutcomes does not start to wait for mu: it waits for the gate
// instead, at most maxOutcomeWait. Once the ingest holds mu, the outcome
// waits for mu as before, so a stream of ingests cannot starve outcomes:
// each ingest makes an outcome wait for at most one other ingest. And an
// outcome transaction that finds an ingest waiting, once it has written
// outcomeYield outcomes or a multiple of it, commits what it has and lets
// the ingest go before it writes the rest: an ingest waits for about 128
// outcomes (a few milliseconds), not for a batch of 512. Only then do
// outcomes cost more commits: smaller ones, while ingests wait.
type ingestGate struct {
	mu       sync.Mutex
	waiting  int           // ingests waiting for Store.mu
	free     chan struct{} // closed when waiting falls to 0; nil while it is 0
	outcomes int           // outcome batches waiting at the gate (for tests)
}

// maxOutcomeWait bounds how long an outcome batch waits at the gate, should
// an ingest wait for the writer that long (a store stalled on its disk).
const maxOutcomeWait = 100 * time.Millisecond

// enter marks an ingest as waiting for the writer.
func (g *ingestGate) enter() {
	g.mu.Lock()
	g.waiting++
	if g.free == nil {
		g.free = make(chan struct{})
	}
	g.mu.Unlock()
}

// leave marks an ingest as holding the writer (or as no longer asking).
func (g *ingestGate) leave() {
	g.mu.Lock()
	if g.waiting--; g.waiting == 0 {
		close(g.free)
		g.free = nil
	}
	g.mu.Unlock()
}

// wait returns once no ingest is waiting for the writer, after
// maxOutcomeWait, or when ctx is done.
func (g *ingestGate) wait(ctx context.Context) {
	g.mu.Lock()
	free := g.free
	if free != nil {
		g.outcomes++
	}
	g.mu.Unlock()
	if free == nil {
		return
	}
	t := time.NewTimer(maxOutcomeWait)
	select {
	case <-free:
	case <-t.C:
	case <-ctx.Done():
	}
	t.Stop()
	g.mu.Lock()
	g.outcomes--
	g.mu.Unlock()
}

// waitingOutcomes returns how many outcome batches wait at the gate.
func (g *ingestGate) waitingOutcomes() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.outcomes
}

// ingestWaiting reports whether an ingest waits for the writer.
func (g *ingestGate) ingestWaiting() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting > 0
}

// outcomeLock is the store's write lock taken as RecordOutcomes takes it:
// after the ingests waiting at the gate, for a writer that holds no one's
// answer (the checkpointer).
type outcomeLock struct{ s *Store }

// Lock waits at the gate, then locks the store's mu.
func (l outcomeLock) Lock() {
	l.s.gate.wait(context.Background())
	l.s.mu.Lock()
}

// Unlock unlocks the store's mu.
func (l outcomeLock) Unlock() { l.s.mu.Unlock() }
