package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/hookline/hookline"
)

// outcomeBatchSize is the most outcomes written in one transaction, and
// outcomeLinger the longest the writer waits for a batch to fill.
const (
	outcomeBatchSize = 512
	outcomeLinger    = 5 * time.Millisecond
)

// outcomeWriter writes attempt outcomes to the store in batches: whatever
// arrived while the previous batch was being written goes in the next one.
type outcomeWriter struct {
	e  *Engine
	ch chan hookline.Outcome
	// done is closed when the writer has written everything it was given.
	done chan struct{}
}

func newOutcomeWriter(e *Engine, capacity int) *outcomeWriter {
	return &outcomeWriter{e: e, ch: make(chan hookline.Outcome, capacity), done: make(chan struct{})}
}

// add queues an outcome; it blocks when the writer is that far behind, which
// holds the workers back rather than growing memory.
func (w *outcomeWriter) add(o hookline.Outcome) { w.ch <- o }

// run writes batches until ch is closed and drained.
func (w *outcomeWriter) run() {
	defer close(w.done)
	batch := make([]hookline.Outcome, 0, outcomeBatchSize)
	linger := time.NewTimer(0)
	<-linger.C
	for o := range w.ch {
		batch = append(batch[:0], o)
		// Outcomes are not on the path of any answer or delivery, so the
		// writer lingers a little to write fewer, larger transactions and
		// hold the store's single writer less often.
		linger.Reset(outcomeLinger)
	fill:
		for len(batch) < outcomeBatchSize {
			select {
			case o, ok := <-w.ch:
				if !ok {
					break fill
				}
				batch = append(batch, o)
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
		w.write(batch)
	}
}

// poison reports whether a store call's error may be of what it was given
// (a row the store refuses), rather than of the store (unavailable, or too
// slow: a deadline).
func poison(err error) bool {
	return hookline.ErrorCode(err) != hookline.EUNAVAILABLE &&
		!errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

// poisonTries is how many times one outcome that fails alone, for a reason
// other than an unavailable store, is tried before it is dropped.
const poisonTries = 3

// write records one batch, retrying while the store is unavailable: the
// outcomes of attempts already made must not be lost while the process runs.
// A batch that fails otherwise (a row the store refuses) is split in halves,
// each written on its own, so that one poison outcome cannot stall the
// writer and every worker behind it: alone, it is tried poisonTries times,
// then dropped, logged and counted (its delivery stays claimed, and is sent
// again after a restart).
func (w *outcomeWriter) write(batch []hookline.Outcome) {
	e := w.e
	backoff := 50 * time.Millisecond
	for try := 1; ; try++ {
		ctx, cancel := context.WithTimeout(e.storeCtx, 30*time.Second) // cut short when a stop gives up on the store
		start := time.Now()
		err := e.store.RecordOutcomes(ctx, batch, e.now())
		e.metrics.outcomeWrite.Observe(time.Since(start).Seconds())
		cancel()
		if err == nil {
			break
		}
		if poison(err) && e.storeCtx.Err() == nil {
			if len(batch) > 1 {
				e.log.Warn("record outcomes: the batch failed; writing its halves apart", "err", err, "batch", len(batch))
				w.write(batch[:len(batch)/2])
				w.write(batch[len(batch)/2:])
				return
			}
			if try >= poisonTries {
				o := &batch[0]
				e.log.Error("record outcomes: an outcome the store refuses was dropped; its delivery stays claimed",
					"delivery", o.Attempt.DeliveryID, "endpoint", o.EndpointID, "attempt", o.Attempt.Attempt, "tries", try, "err", err)
				e.metrics.poison.WithLabelValues("outcome").Inc()
				return
			}
		}
		e.log.Error("record outcomes", "err", err, "batch", len(batch))
		select {
		case <-time.After(backoff):
		case <-e.hardStop:
			return // the process is going down: the deliveries stay claimed and are resent after restart
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	e.metrics.outcomeBatch(len(batch))
	e.sched.settled(batch) // their claims are released, or the rescuer's to free
	for i := range batch {
		why := batch[i].Dropped
		if why == "" {
			continue
		}
		e.metrics.outcomesDropped.WithLabelValues(string(why)).Inc()
		if why != hookline.DropGone && why != hookline.DropSettled {
			// Another attempt's record stands: this node paused past its
			// lease or lost a database reply, and the delivery was sent
			// twice (the duplicate window of docs/architecture.md).
			e.log.Warn("attempt outcome dropped", "delivery", batch[i].Attempt.DeliveryID,
				"attempt", batch[i].Attempt.Attempt, "reason", string(why))
		}
	}
	// The retries scheduled are in the store now: tell the scheduler, one
	// mark per endpoint with its earliest retry. For a fifo endpoint, a
	// delivery settled makes the next of its key due: it is marked now.
	var settled int64
	var retries map[string]time.Time
	now := e.now()
	for i := range batch {
		o := &batch[i]
		if o.Dropped != "" {
			continue // not written: the record that stands is another's
		}
		due := o.NextAttemptAt
		if o.Status != hookline.StatusPending {
			settled++
			if !o.Ordered {
				continue
			}
			due = now
		}
		if retries == nil {
			retries = make(map[string]time.Time)
		}
		if at, ok := retries[o.EndpointID]; !ok || due.Before(at) {
			retries[o.EndpointID] = due
		}
	}
	e.pending.Add(-settled)
	for id, at := range retries {
		e.sched.markStored([]string{id}, at)
	}
}
