package bench

import "fmt"

// PriorityP99Target is the priority scenario's target: the largest ratio
// of the priority-9 events' end-to-end p99 while the backlog drains to
// that on an idle server.
const PriorityP99Target = 2.0

// PriorityReport is the result of the priority scenario: priority-9
// deliveries measured alone and while a backlog of priority-1 ones drains,
// each phase on a fresh server. The Report's own figures are the
// priority-9 load's in the backlog phase, except Receivers, which counts
// both phases and both loads.
type PriorityReport struct {
	// Endpoints is how many endpoints every event goes to, in both loads.
	Endpoints int `json:"endpoints"`
	// Rate is the priority-9 events' rate (open model), one per request;
	// High and Low are the two loads' priorities.
	Rate float64 `json:"rate"`
	High int     `json:"high_priority"`
	Low  int     `json:"low_priority"`
	// ReceiverLatencyMS is how long the receivers take to answer, in
	// milliseconds: it bounds the drain at the endpoints' in-flight limits.
	ReceiverLatencyMS float64 `json:"receiver_latency_ms"`
	// Batch is the events per request of the backlog's queueing.
	Batch int `json:"batch"`

	// Idle is the phase of priority-9 events alone (the load
	// "priority-9"); Backlog the one beside the backlog (the loads
	// "priority-9" and "priority-1").
	Idle    Phase `json:"idle"`
	Backlog Phase `json:"backlog"`

	// Queued is the priority-1 deliveries queued, in QueueSeconds (at
	// QueueEventsPerSecond), before the priority-9 load started.
	Queued               int64   `json:"queued"`
	QueueSeconds         float64 `json:"queue_s"`
	QueueEventsPerSecond float64 `json:"queue_events_per_second"`
	// PendingAtFrom and PendingAtTo are the backlog's deliveries not yet
	// received at the start and the end of the priority-9 load's measured
	// window.
	PendingAtFrom int64 `json:"pending_at_window_start"`
	PendingAtTo   int64 `json:"pending_at_window_end"`
	// Drained says whether the whole backlog was delivered. DrainSeconds
	// is from the start of its queueing (the receivers are up throughout)
	// to its last delivery, and DrainedAfterQueue from the end of the
	// queueing. DrainPerSecond is the median per-second rate of its
	// deliveries over DrainSeconds; DrainAverage its average.
	Drained           bool    `json:"drained"`
	DrainSeconds      float64 `json:"drain_s"`
	DrainedAfterQueue float64 `json:"drained_after_queue_s"`
	DrainPerSecond    float64 `json:"drain_per_second"`
	DrainAverage      float64 `json:"drain_average_per_second"`
	// OverlapSeconds is how much of the priority-9 load's measured window
	// the backlog was still draining: all of it (the Backlog phase's
	// Seconds) unless the backlog ran out first, which weakens the
	// comparison.
	OverlapSeconds float64 `json:"overlap_s"`

	// P99Ratio is the priority-9 end-to-end p99 with the backlog ÷ idle;
	// P99Met says whether it is at most PriorityP99Target. P50Ratio is the
	// same for the p50.
	P99Ratio float64 `json:"p99_ratio"`
	P99Met   bool    `json:"p99_met"`
	P50Ratio float64 `json:"p50_ratio"`
}

// compare computes the ratios.
func (r *PriorityReport) compare() {
	i, b := r.Idle.load(highLoad), r.Backlog.load(highLoad)
	r.P99Ratio = ratio(b.EndToEndLatency.P99, i.EndToEndLatency.P99)
	r.P50Ratio = ratio(b.EndToEndLatency.P50, i.EndToEndLatency.P50)
	r.P99Met = r.P99Ratio > 0 && r.P99Ratio <= PriorityP99Target
}

// layout describes the loads in one line.
func (r *PriorityReport) layout() string {
	return fmt.Sprintf("%d endpoints; priority-%d events at %s/s (%s deliveries/s), one per request; receivers answer after %.0f ms",
		r.Endpoints, r.High, num(r.Rate), num(r.Rate*float64(r.Endpoints)), r.ReceiverLatencyMS)
}

// writeText writes the scenario's figures for a person.
func (r *PriorityReport) writeText(p *printer) {
	p.f("  layout       %s\n", r.layout())
	for _, ph := range []*Phase{&r.Idle, &r.Backlog} {
		h := ph.load(highLoad)
		p.f("  %-12s priority-%d: %s deliveries/s (median), %d/%d received, end-to-end p50 %.1f ms, p99 %.1f ms (ingest p99 %.1f ms, after the 202 p99 %.1f ms); server %.2f cores in the window (other processes %.2f), CPU %.1fs, peak RSS %s\n",
			ph.Name, r.High, num(h.Deliveries.PerSecond), h.Deliveries.Received, h.Deliveries.Expected,
			h.EndToEndLatency.P50, h.EndToEndLatency.P99, h.IngestLatency.P99, h.AfterAccepted.P99, ph.WindowCores, ph.OtherWindowCores, ph.CPUSeconds, mib(ph.PeakRSS))
	}
	l := r.Backlog.load(lowLoad)
	drained := "drained"
	if !r.Drained {
		drained = "NOT drained"
	}
	p.f("  backlog      %d priority-%d deliveries queued in %.1fs (%s events/s); %d pending as the window began, %d as it ended; %s %.1fs after the queueing began (%.1fs after it ended): %s/s median, %s/s average, %s/s in the window; overlap %.1fs of %.1fs; %d/%d received\n",
		r.Queued, r.Low, r.QueueSeconds, num(r.QueueEventsPerSecond), r.PendingAtFrom, r.PendingAtTo, drained,
		r.DrainSeconds, r.DrainedAfterQueue, num(r.DrainPerSecond), num(r.DrainAverage), num(l.Deliveries.PerSecond),
		r.OverlapSeconds, r.Backlog.Seconds, l.Deliveries.Received, l.Deliveries.Expected)
	p.f("  ratios       priority-%d p99 %.2f× (target ≤ %.0f×: %s); p50 %.2f×\n", r.High, r.P99Ratio, PriorityP99Target, metOrMissed(r.P99Met), r.P50Ratio)
}

// writeMarkdown writes the scenario's section and both phases' timelines.
func (r *PriorityReport) writeMarkdown(p *printer) {
	i, b := r.Idle.load(highLoad), r.Backlog.load(highLoad)
	l := r.Backlog.load(lowLoad)
	p.f("\n## Priorities\n\n%s. Phase 1: nothing else. Phase 2: first %d priority-%d deliveries queued through the batch API (%d events per request), then the same priority-%d load while they drain. A fresh server for each phase.\n\n",
		r.layout(), r.Queued, r.Low, r.Batch, r.High)
	p.f("| priority-%d | idle | beside the backlog | ratio | target | |\n|---|---|---|---|---|---|\n", r.High)
	p.f("| deliveries/s (median) | %s | %s | %.3f | | |\n", num(i.Deliveries.PerSecond), num(b.Deliveries.PerSecond), ratio(b.Deliveries.PerSecond, i.Deliveries.PerSecond))
	p.f("| **end-to-end p99 (ms)** | %.1f | %.1f | **%.2f×** | ≤ %.0f× | %s |\n", i.EndToEndLatency.P99, b.EndToEndLatency.P99,
		r.P99Ratio, PriorityP99Target, metOrMissed(r.P99Met))
	p.f("| end-to-end p50 (ms) | %.1f | %.1f | %.2f× | | |\n", i.EndToEndLatency.P50, b.EndToEndLatency.P50, r.P50Ratio)
	p.f("| end-to-end max (ms) | %.1f | %.1f | | | |\n", i.EndToEndLatency.Max, b.EndToEndLatency.Max)
	p.f("| ingest p50 / p99 (ms): due → 202 | %.1f / %.1f | %.1f / %.1f | | | |\n", i.IngestLatency.P50, i.IngestLatency.P99, b.IngestLatency.P50, b.IngestLatency.P99)
	p.f("| after the 202, p50 / p99 (ms): the engine's part | %.1f / %.1f | %.1f / %.1f | %.2f× (p99) | | |\n",
		i.AfterAccepted.P50, i.AfterAccepted.P99, b.AfterAccepted.P50, b.AfterAccepted.P99, ratio(b.AfterAccepted.P99, i.AfterAccepted.P99))
	p.f("| send lag p99 (ms): the load generator late | %.1f | %.1f | | | |\n", i.SendLag.P99, b.SendLag.P99)
	p.f("| deliveries expected / received | %d / %d | %d / %d | | | |\n", i.Deliveries.Expected, i.Deliveries.Received, b.Deliveries.Expected, b.Deliveries.Received)
	p.f("| cores busy in the window: server / bench / other processes | %.2f / %.2f / %.2f | %.2f / %.2f / %.2f | | | |\n",
		r.Idle.WindowCores, r.Idle.BenchWindowCores, r.Idle.OtherWindowCores, r.Backlog.WindowCores, r.Backlog.BenchWindowCores, r.Backlog.OtherWindowCores)
	p.f("| server CPU, whole phase | %.1fs | %.1fs | | | |\n", r.Idle.CPUSeconds, r.Backlog.CPUSeconds)
	p.f("| server peak RSS | %s | %s | | | |\n", mib(r.Idle.PeakRSS), mib(r.Backlog.PeakRSS))

	p.f("\n| priority-%d backlog | |\n|---|---|\n", r.Low)
	p.f("| queued | %d deliveries in %.1fs (%s events/s) |\n", r.Queued, r.QueueSeconds, num(r.QueueEventsPerSecond))
	p.f("| pending as the priority-%d window began / ended | %d / %d |\n", r.High, r.PendingAtFrom, r.PendingAtTo)
	p.f("| drained | %v: %.1fs after the queueing began, %.1fs after it ended |\n", r.Drained, r.DrainSeconds, r.DrainedAfterQueue)
	p.f("| drain rate | %s/s median, %s/s average; %s/s median in the priority-%d window |\n",
		num(r.DrainPerSecond), num(r.DrainAverage), num(l.Deliveries.PerSecond), r.High)
	p.f("| window overlapped by the drain | %.1fs of %.1fs |\n", r.OverlapSeconds, r.Backlog.Seconds)
	p.f("| backlog end-to-end p50 / p99 (queued → received) | %.0f / %.0f ms |\n", l.EndToEndLatency.P50, l.EndToEndLatency.P99)
	p.f("| received | %d / %d |\n", l.Deliveries.Received, l.Deliveries.Expected)
	for _, ph := range []*Phase{&r.Idle, &r.Backlog} {
		writeTimeline(p, ph)
	}
}
