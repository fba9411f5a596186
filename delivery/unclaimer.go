package delivery

import (
	"time"

	"github.com/hookline/hookline"
)

// unclaimLinger is the longest the unclaimer waits to gather more.
const unclaimLinger = 5 * time.Millisecond

// unclaimer gives tasks back to the store in batches: the tasks a circuit
// that opened handed back, those memory had no room for. Many at once (ten
// endpoints opening their circuits in one second) share one transaction and
// one fsync instead of holding the store's writer ten times.
type unclaimer struct {
	e    *Engine
	ch   chan []*hookline.Task
	done chan struct{}
}

func newUnclaimer(e *Engine) *unclaimer {
	return &unclaimer{e: e, ch: make(chan []*hookline.Task, 256), done: make(chan struct{})}
}

// add queues tasks to give back; it blocks when the unclaimer is that far
// behind.
func (u *unclaimer) add(tasks []*hookline.Task) {
	if len(tasks) > 0 {
		u.ch <- tasks
	}
}

// run writes batches until ch is closed and drained.
func (u *unclaimer) run() {
	defer close(u.done)
	linger := time.NewTimer(0)
	<-linger.C
	for first := range u.ch {
		batch := append([]*hookline.Task(nil), first...)
		linger.Reset(unclaimLinger)
	fill:
		for len(batch) < 4096 {
			select {
			case more, ok := <-u.ch:
				if !ok {
					break fill
				}
				batch = append(batch, more...)
			case <-linger.C:
				break fill
			}
		}
		if !linger.Stop() {
			select {
			case <-linger.C:
			default:
			}
		}
		u.e.unclaim(batch)
	}
}
