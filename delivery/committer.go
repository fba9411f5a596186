package delivery

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/hookline/hookline"
)

// maxGroupEvents and maxGroupBytes bound how many events, and how many
// bytes of their data, one group commit writes (a group holds at least one
// request, whatever its size).
const (
	maxGroupEvents = 4096
	maxGroupBytes  = 32 << 20
)

// dataBytes returns the bytes of the events' data.
func dataBytes(events []*hookline.Event) int {
	n := 0
	for _, ev := range events {
		n += len(ev.Data)
	}
	return n
}

// aboveDefault reports whether an event has a priority above the default.
func aboveDefault(events []*hookline.Event) bool {
	for _, ev := range events {
		if ev.Priority > hookline.DefaultPriority {
			return true
		}
	}
	return false
}

// yieldDeliveries is the fewest deliveries of a group whose handover to
// the scheduler waits until the group's answers have been sent: a wide
// fan-out's is milliseconds of work.
const yieldDeliveries = 1000

// ingestJob is one API request waiting for its group commit.
type ingestJob struct {
	req  *hookline.IngestRequest
	done chan error
}

// committer is the group-commit writer of ingest. Requests that arrive while
// a transaction is being committed wait together and go in the next one, so
// under load many requests share one transaction and one fsync, and under no
// load a request is committed at once, without waiting for a batch to fill.
type committer struct {
	e      *Engine
	jobs   chan *ingestJob
	mu     sync.RWMutex // held for reading while sending on jobs
	closed bool
	done   chan struct{}
}

func newCommitter(e *Engine, queue int) *committer {
	return &committer{e: e, jobs: make(chan *ingestJob, queue), done: make(chan struct{})}
}

// submit queues req for the next group commit and waits for it.
func (c *committer) submit(ctx context.Context, req *hookline.IngestRequest) error {
	j := &ingestJob{req: req, done: make(chan error, 1)}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return hookline.Errorf(hookline.EUNAVAILABLE, "hookline is shutting down")
	}
	select {
	case c.jobs <- j:
		c.mu.RUnlock()
	case <-ctx.Done():
		c.mu.RUnlock()
		return hookline.Errorf(hookline.EUNAVAILABLE, "ingest queue is full; try again")
	}
	// Once queued, the job is committed or failed by the committer even if
	// the client goes away: the answer must match what was written.
	return <-j.done
}

// close refuses new jobs and waits until every queued one is committed.
func (c *committer) close() {
	c.mu.Lock()
	c.closed = true
	close(c.jobs)
	c.mu.Unlock()
	<-c.done
}

// run commits groups until jobs is closed and drained. It takes in every
// job that has arrived (up to as many again as the channel holds) and
// forms each group round-robin across tenants (tenantJobs).
func (c *committer) run() {
	defer close(c.done)
	var waiting tenantJobs
	var group []*ingestJob
	var reqs []*hookline.IngestRequest
	open := true
	for {
		if waiting.len() == 0 {
			j, ok := <-c.jobs
			if !ok {
				return
			}
			waiting.push(j)
		}
		open = c.takeArrived(&waiting, open)
		group = waiting.group(group[:0], maxGroupEvents, maxGroupBytes)
		reqs = requests(reqs[:0], group)
		c.commit(group, reqs)
		if !open && waiting.len() == 0 {
			return
		}
	}
}

// commitError returns what the requests of a failed group commit are
// answered: when the store says the COMMIT was sent and not confirmed, that
// the outcome is unknown and that a retry is safe only with the same
// Idempotency-Key; when the store knows it wrote nothing (a failure it
// reports as internal), that nothing was written; else err itself.
func commitError(err error) error {
	switch {
	case errors.Is(err, hookline.ErrCommitUnknown):
		return hookline.Errorf(hookline.EUNAVAILABLE, "the store did not confirm the commit, so the events may or may not "+
			"have been written; retrying with the same Idempotency-Key is safe (if they were written, the first answer "+
			"is returned and nothing is delivered twice), a retry without one may deliver them twice")
	case errors.Is(err, context.DeadlineExceeded):
		return hookline.Errorf(hookline.EUNAVAILABLE, "the store did not commit the events in time; nothing was written")
	case hookline.ErrorCode(err) == hookline.EINTERNAL:
		return hookline.Errorf(hookline.EUNAVAILABLE, "the store could not commit the events; nothing was written")
	}
	return err
}

// takeArrived moves the jobs that wait in the channel to waiting, without
// blocking, while fewer than the channel's capacity wait there; it returns
// whether the channel is still open.
func (c *committer) takeArrived(waiting *tenantJobs, open bool) bool {
	for open && waiting.len() < cap(c.jobs) {
		select {
		case j, ok := <-c.jobs:
			if !ok {
				return false
			}
			waiting.push(j)
		default:
			return true
		}
	}
	return open
}

// ingest writes the requests of one group: with a store that can answer
// before it has made the tasks (hookline.EarlyIngester), finish makes them,
// and the store waits for it.
func (e *Engine) ingest(ctx context.Context, reqs []*hookline.IngestRequest) (finish func(), err error) {
	if ei, ok := e.store.(hookline.EarlyIngester); ok {
		return ei.IngestEarly(ctx, reqs, e.now())
	}
	return nil, e.store.Ingest(ctx, reqs, e.now())
}

// commit writes one group and hands its deliveries to the scheduler.
func (c *committer) commit(group []*ingestJob, reqs []*hookline.IngestRequest) {
	e := c.e
	// Claim only with room to spare: tasks that do not fit are unclaimed
	// again, a second write. Without room they stay in the store and the
	// poller pages them in as the queue drains. Nor are deliveries claimed
	// for endpoints that cannot take them (a full queue, an open circuit):
	// they wait in the store, where they cost nothing. A request with events
	// of a priority above the default may use the scheduler's reserve, past
	// a full memory queue and past its endpoints' caps, so that it need not
	// wait behind a backlog for the poller's next page; only an endpoint that
	// takes no work at all (an open circuit, a long pause) holds it.
	free := e.sched.free()
	claim := free >= e.cfg.MemoryQueue/8
	urgent := free > -e.sched.reserve()
	owned := e.ownedMask()
	hold, block := e.sched.holdSets()
	for _, r := range reqs {
		r.Claim, r.Owned, r.Hold = claim, owned, hold
		if urgent && aboveDefault(r.Events) {
			r.Claim, r.Hold = true, block
		}
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.CommitTimeout)
	finish, err := e.ingest(ctx, reqs)
	cancel()
	if finish != nil {
		defer func() {
			if finish != nil { // not called: a panic
				finish()
			}
		}()
	}
	e.metrics.ingestWrite.Observe(time.Since(start).Seconds())
	e.commits.record(err, time.Now())
	if err != nil {
		e.log.Error("ingest", "err", err, "requests", len(reqs), "took", time.Since(start).Round(time.Millisecond).String())
		err = commitError(err)
	}
	var events, deliveries int
	for _, r := range reqs {
		if err != nil || r.Err != nil {
			continue
		}
		for _, res := range r.Results {
			if !res.Duplicate {
				events++
				deliveries += res.Deliveries
			}
		}
	}
	e.pending.Add(int64(deliveries))
	e.metrics.ingested(events, len(reqs))
	// The group is durable: answer it before making its tasks (finish) and
	// handing them to the scheduler, which for a wide fan-out is
	// milliseconds of work the 202 need not wait for. The next group is committed only after they are
	// handed over (this goroutine), so the order of the events of one
	// ordering key, sent one after the other's 202, is kept.
	for _, j := range group {
		if err != nil {
			j.done <- err
		} else {
			j.done <- j.req.Err
		}
	}
	if deliveries >= yieldDeliveries {
		// The answered requests' goroutines wait in this P's run queue
		// (the last one woken in its runnext slot) until this goroutine
		// blocks or is preempted; the handover below would keep them for
		// milliseconds, on two busy cores often ten.
		runtime.Gosched()
	}
	if finish != nil {
		finish() // the tasks
		finish = nil
	}
	var rejected, stored []*hookline.Task
	now := e.now()
	for _, r := range reqs {
		if err != nil || r.Err != nil {
			continue
		}
		if !r.Claim {
			stored = append(stored, r.Tasks...)
			continue
		}
		claimed := r.Tasks
		for i, t := range r.Tasks {
			if !r.Claims(t.Endpoint, t.Partition) {
				// Some were left in the store (not owned, held, or ordered
				// by key): split the tasks.
				claimed = slices.Clone(r.Tasks[:i])
				for _, t := range r.Tasks[i:] {
					if r.Claims(t.Endpoint, t.Partition) {
						claimed = append(claimed, t)
					} else {
						stored = append(stored, t)
					}
				}
				break
			}
		}
		rejected = append(rejected, e.sched.admit(claimed)...)
	}
	e.markStored(stored, now) // those of other nodes' partitions are skipped
	if len(rejected) > 0 {
		e.unclaims.add(rejected)
	}
}
