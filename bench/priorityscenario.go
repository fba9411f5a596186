package bench

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The priorities of the priority scenario.
const (
	// HighPriority is the priority of the measured events.
	HighPriority = 9
	// LowPriority is the backlog's.
	LowPriority = 1
)

// queueClients is how many senders queue the priority backlog, as in the
// backlog scenario.
const queueClients = 4

// The names of the priority scenario's loads.
const (
	highLoad = "priority-9"
	lowLoad  = "priority-1"
)

// runPriority is priority. Phase 1 sends priority-9 events alone to a
// fresh server; phase 2, on another fresh server with the same endpoints,
// first queues the backlog of priority-1 deliveries through the batch API,
// as fast as it is accepted, while the receivers (up throughout) start
// draining it, then sends the same priority-9 load while it drains. The
// two loads have runs and sinks of their own: the receivers tell their
// deliveries apart.
func runPriority(ctx context.Context, e *env) error {
	c := &e.cfg
	pr := &PriorityReport{Endpoints: c.Endpoints, Rate: c.Rate, High: HighPriority, Low: LowPriority,
		ReceiverLatencyMS: ms(c.Behavior.Latency), Batch: c.Batch}
	e.report.Priority = pr
	progressf := func(format string, a ...any) {
		if c.Progress != nil {
			fmt.Fprintf(c.Progress, format, a...)
		}
	}

	progressf("phase 1 of 2: priority-%d events at %s/s to %d endpoints, alone\n", HighPriority, num(c.Rate), c.Endpoints)
	pr.Idle.Name = "idle"
	eventType := newEventType()
	if _, err := e.addEndpoints(ctx, eventType, "", c.Endpoints); err != nil {
		return err
	}
	high := e.priorityLoad(eventType)
	e.loads = []*namedLoad{high}
	e.begin(time.Now(), "idle warm-up")
	sp, err := e.runLoads(ctx, "idle ", e.loads)
	endErr := e.endLoadsPhase(ctx, &pr.Idle, sp, e.loads, false)
	e.account(high)
	if err := errors.Join(err, endErr); err != nil {
		return fmt.Errorf("idle phase: %w", err)
	}

	events := (c.BacklogSize + c.Endpoints - 1) / c.Endpoints
	progressf("phase 2 of 2: %d priority-%d deliveries queued, then the same priority-%d load while they drain\n",
		events*c.Endpoints, LowPriority, HighPriority)
	pr.Backlog.Name = "backlog"
	if err := e.freshServers(ctx); err != nil {
		return err
	}
	eventType = newEventType()
	if _, err := e.addEndpoints(ctx, eventType, "", c.Endpoints); err != nil {
		return err
	}
	low := e.newLoad(lowLoad, eventType, "", LowPriority, 0, c.Endpoints, c.Batch)
	low.clients = queueClients
	high = e.priorityLoad(eventType)
	e.loads = []*namedLoad{high, low}
	start := time.Now()
	e.begin(start, "queue")
	low.loader.recordFrom = start
	low.loader.runCount(ctx, queueClients, events)
	queued := e.prog.mark().at
	pr.QueueSeconds = queued.Sub(start).Seconds()
	pr.QueueEventsPerSecond = float64(low.loader.accepted.Load()) / pr.QueueSeconds
	pr.Queued = low.loader.expected.Load()
	if err := ctx.Err(); err != nil {
		return err
	}
	sp, err = e.runLoads(ctx, "backlog ", []*namedLoad{high})
	if err == nil {
		e.prog.setPhase("backlog drain")
		err = e.drainLoads(ctx, []*namedLoad{low}, sp.to)
	}
	endErr = e.endLoadsPhase(ctx, &pr.Backlog, sp, e.loads, true)
	e.account(low)
	pr.drain(start, queued, sp, low)
	e.ownFigures(pr.Backlog.load(highLoad), sp, high.drained && low.drained)
	pr.compare()
	if err := errors.Join(err, endErr); err != nil {
		return fmt.Errorf("backlog phase: %w", err)
	}
	return nil
}

// priorityLoad makes the measured load of priority-9 events, one per
// request at the run's rate, to every endpoint of the phase.
func (e *env) priorityLoad(eventType string) *namedLoad {
	high := e.newLoad(highLoad, eventType, "", HighPriority, 0, e.cfg.Endpoints, 1)
	high.rate = e.cfg.Rate
	e.measure(high)
	return high
}

// drain computes the backlog's figures: it was queued from start to
// queued, the priority-9 load's window was sp, and low is the backlog's
// load, drained (or not) by now.
func (pr *PriorityReport) drain(start, queued time.Time, sp span, low *namedLoad) {
	tl := pr.Backlog.Timeline
	pending := func(t time.Time) int64 {
		return sampleAt(tl, t).Loads[lowLoad].pending()
	}
	pr.PendingAtFrom, pr.PendingAtTo = pending(sp.from), pending(sp.to)
	end := time.Now()
	if low.drained {
		end = low.sink.last()
	}
	pr.Drained = low.drained
	pr.DrainSeconds = end.Sub(start).Seconds()
	pr.DrainedAfterQueue = end.Sub(queued).Seconds()
	pr.DrainAverage = float64(low.sink.received.Load()) / pr.DrainSeconds
	pr.DrainPerSecond = medianRate(tl, start, end, func(s Sample) int64 { return s.Loads[lowLoad].Delivered })
	window := sp.to.Sub(sp.from)
	pr.OverlapSeconds = min(max(end.Sub(sp.from), 0), window).Seconds()
}
