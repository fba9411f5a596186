package delivery

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/poll"
)

// held is a run func for workers whose jobs with probe set wait for
// release; it counts the jobs run.
func held(release <-chan struct{}, ran *atomic.Int32) func(*job, *[]byte) {
	return func(j *job, _ *[]byte) {
		if j.probe {
			<-release
		}
		ran.Add(1)
	}
}

// TestWorkersReuseParkedGoroutine checks that a job started while a worker
// is parked goes to it, not to a new goroutine; that a job started while
// every worker is busy gets a goroutine of its own; that the worker parked
// last takes the next job; and that close retires the parked workers.
func TestWorkersReuseParkedGoroutine(t *testing.T) {
	release := make(chan struct{})
	var ran atomic.Int32
	w := newWorkers(held(release, &ran), time.Hour)
	w.start(&job{})
	poll.Until(t, "the first worker to park", func() bool { return w.idle() == 1 })
	w.start(&job{})
	poll.Until(t, "the second job to run", func() bool { return ran.Load() == 2 && w.idle() == 1 })
	if n := w.started.Load(); n != 1 {
		t.Fatalf("%d goroutines started for two jobs one after the other, want 1", n)
	}
	w.start(&job{probe: true}) // takes the parked worker, and holds it
	w.start(&job{})
	poll.Until(t, "the job beside the held one to run and its worker to park", func() bool { return ran.Load() == 3 && w.idle() == 1 })
	if n := w.started.Load(); n != 2 {
		t.Errorf("%d goroutines started with one busy, want 2", n)
	}
	w.mu.Lock()
	first := w.parked[0]
	w.mu.Unlock()
	close(release)
	poll.Until(t, "both workers to park", func() bool { return w.idle() == 2 })
	w.start(&job{})
	poll.Until(t, "the next job to run", func() bool { return ran.Load() == 5 && w.idle() == 2 })
	w.mu.Lock()
	if w.parked[0] != first {
		t.Error("the next job went to the worker parked first, not the one parked last")
	}
	w.mu.Unlock()
	w.close()
	poll.Until(t, "the parked workers to exit", func() bool { return w.alive.Load() == 0 })
	if w.park(&worker{jobs: make(chan *job, 1)}) {
		t.Error("a worker parked after close")
	}
}

// TestWorkersRetireIdle checks that a worker parked for longer than
// idleFor is retired when another parks.
func TestWorkersRetireIdle(t *testing.T) {
	release := make(chan struct{})
	var ran atomic.Int32
	w := newWorkers(held(release, &ran), 0)
	defer w.close()
	w.start(&job{probe: true})
	w.start(&job{probe: true})
	release <- struct{}{} // one finishes and parks
	poll.Until(t, "a worker to park", func() bool { return w.idle() == 1 })
	release <- struct{}{} // the other parks, and retires the first
	poll.Until(t, "the first worker to be retired", func() bool { return w.alive.Load() == 1 && w.idle() == 1 })
	if n := w.started.Load(); n != 2 {
		t.Errorf("%d goroutines started, want 2", n)
	}
}
