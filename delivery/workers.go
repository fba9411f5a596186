package delivery

import (
	"sync"
	"sync/atomic"
	"time"
)

// workerIdle is how long a goroutine that makes attempts stays parked,
// waiting for a job, once there is work again: a parked worker idle longer
// is retired when another parks.
const workerIdle = 2 * time.Second

// workers are the goroutines that make attempts. One that finds nothing
// more to do parks instead of exiting, and the next job goes to the worker
// parked last, so that the stack its attempts grew (and what its caches
// hold) serves the next ones: with a goroutine started for each job,
// growing and copying stacks took 5% of the server's CPU at 10,000
// deliveries/s (the HTTP client's call chain is deep). The workers parked
// are at most those of the busiest moment; those parked longer than idleFor
// are retired as others park, and every one at close.
type workers struct {
	run     func(j *job, sigbuf *[]byte) // makes j's attempt and those handed after it (Engine.run)
	idleFor time.Duration

	mu      sync.Mutex
	parked  []*worker // in the order they parked
	stopped bool

	started, alive atomic.Int32 // goroutines started, and not exited (for tests)
}

// worker is one parked goroutine's mailbox.
type worker struct {
	jobs  chan *job // room for one; nil: exit
	since time.Time // parked since
}

func newWorkers(run func(*job, *[]byte), idleFor time.Duration) *workers {
	return &workers{run: run, idleFor: idleFor}
}

// start hands j to the worker parked last, or starts one for it. It does
// not block: the scheduler calls it under its lock.
func (w *workers) start(j *job) {
	w.mu.Lock()
	if n := len(w.parked); n > 0 {
		wk := w.parked[n-1]
		w.parked[n-1] = nil
		w.parked = w.parked[:n-1]
		w.mu.Unlock()
		wk.jobs <- j
		return
	}
	w.mu.Unlock()
	w.started.Add(1)
	w.alive.Add(1)
	go w.work(&worker{jobs: make(chan *job, 1)}, j)
}

// work makes the attempt of j and of every job handed to it after, parking
// between, until it is retired or the workers close.
func (w *workers) work(wk *worker, j *job) {
	defer w.alive.Add(-1)
	sigbuf := make([]byte, 0, 192) // room for two v1a signatures
	for j != nil {
		w.run(j, &sigbuf)
		if !w.park(wk) {
			return
		}
		j = <-wk.jobs
	}
}

// park adds wk to the parked workers, and retires the one parked first if
// it has been for longer than idleFor. It reports false, parking nothing,
// once the workers are closed.
func (w *workers) park(wk *worker) bool {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return false
	}
	if len(w.parked) > 0 && now.Sub(w.parked[0].since) > w.idleFor {
		w.parked[0].jobs <- nil
		w.parked[0] = nil
		w.parked = w.parked[1:]
	}
	wk.since = now
	w.parked = append(w.parked, wk)
	return true
}

// idle returns how many workers are parked.
func (w *workers) idle() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.parked)
}

// close retires the parked workers, and those that park later; the caller
// has waited for every job started to finish.
func (w *workers) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	for _, wk := range w.parked {
		wk.jobs <- nil
	}
	w.parked = nil
}
