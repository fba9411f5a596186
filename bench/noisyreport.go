package bench

import "fmt"

// NoisyP99Target is noisy-tenant's target: the largest ratio of tenant B's
// end-to-end p99 with A noisy to that with A idle.
const NoisyP99Target = 2.0

// NoisyTenantReport is the result of noisy-tenant: tenant B measured with
// tenant A idle and with A noisy, each phase on a fresh server. The
// Report's own figures are B's in the noisy phase, except Receivers, which
// counts both phases and both tenants.
type NoisyTenantReport struct {
	// EndpointsPerTenant is how many endpoints each tenant has: B's are
	// the first ones, A's follow. TenantB and TenantA are their names.
	EndpointsPerTenant int    `json:"endpoints_per_tenant"`
	TenantB            string `json:"tenant_b"`
	TenantA            string `json:"tenant_a"`
	// RateB is B's events/s in both phases. Factor is A's rate in the
	// noisy phase as a multiple of RateB, and RateA that rate; a negative
	// Factor (RateA 0) means A sent as fast as its senders could (a
	// flood). BatchA is the events per request of A.
	RateB  float64 `json:"rate_b"`
	Factor float64 `json:"noisy_factor"`
	RateA  float64 `json:"rate_a"`
	BatchA int     `json:"batch_a"`

	// Quiet is the phase with A idle, Noisy the one with A at its rate
	// (or flooding); each has the loads "B" and "A", in that order.
	Quiet Phase `json:"a_idle"`
	Noisy Phase `json:"a_noisy"`

	// P99Ratio is B's end-to-end p99 with A noisy ÷ with A idle; P99Met
	// says whether it is at most NoisyP99Target. P50Ratio is the same for
	// the p50, and DeliveriesRatio for B's deliveries/s (1 when B is served
	// at the rate it sends).
	P99Ratio        float64 `json:"p99_ratio"`
	P99Met          bool    `json:"p99_met"`
	P50Ratio        float64 `json:"p50_ratio"`
	DeliveriesRatio float64 `json:"deliveries_ratio"`
	// PendingA and PendingB are the most deliveries of A and of B accepted
	// but not yet received at any sample of the noisy phase: the backlog
	// A built, and B's.
	PendingA int64 `json:"most_pending_a"`
	PendingB int64 `json:"most_pending_b"`
}

// compare computes the ratios and the noisy phase's backlogs.
func (n *NoisyTenantReport) compare() {
	q, w := n.Quiet.load("B"), n.Noisy.load("B")
	n.P99Ratio = ratio(w.EndToEndLatency.P99, q.EndToEndLatency.P99)
	n.P50Ratio = ratio(w.EndToEndLatency.P50, q.EndToEndLatency.P50)
	n.DeliveriesRatio = ratio(w.Deliveries.PerSecond, q.Deliveries.PerSecond)
	n.P99Met = n.P99Ratio > 0 && n.P99Ratio <= NoisyP99Target
	n.PendingA, n.PendingB = mostPending(n.Noisy.Timeline, "A"), mostPending(n.Noisy.Timeline, "B")
}

// ratio returns a ÷ b, or 0 when b is not positive.
func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// mostPending returns the most deliveries of load name accepted but not
// yet received at any sample of tl.
func mostPending(tl []Sample, name string) int64 {
	var most int64
	for _, s := range tl {
		most = max(most, s.Loads[name].pending())
	}
	return most
}

// aLoad describes what A does in a phase.
func (n *NoisyTenantReport) aLoad(noisy bool) string {
	switch {
	case !noisy:
		return "A idle"
	case n.Factor < 0:
		return fmt.Sprintf("A as fast as it can (closed loop, batch %d)", n.BatchA)
	}
	return fmt.Sprintf("A at %s events/s (%g× B, batch %d)", num(n.RateA), n.Factor, n.BatchA)
}

// layout describes the tenants and endpoints in one line.
func (n *NoisyTenantReport) layout() string {
	k := n.EndpointsPerTenant
	return fmt.Sprintf("%d endpoints per tenant, every event to all of its tenant's: B (%s) endpoints 0–%d, A (%s) %d–%d, all subscribed to one event type; B %s events/s (%s deliveries/s)",
		k, n.TenantB, k-1, n.TenantA, k, 2*k-1, num(n.RateB), num(n.RateB*float64(k)))
}

// writeText writes the scenario's figures for a person.
func (n *NoisyTenantReport) writeText(p *printer) {
	p.f("  layout       %s\n", n.layout())
	for i, ph := range []*Phase{&n.Quiet, &n.Noisy} {
		b, a := ph.load("B"), ph.load("A")
		p.f("  %-12s B: %s deliveries/s (median), %d/%d received, end-to-end p50 %.1f ms, p99 %.1f ms (ingest p99 %.1f ms, after the 202 p99 %.1f ms)",
			ph.Name, num(b.Deliveries.PerSecond), b.Deliveries.Received, b.Deliveries.Expected, b.EndToEndLatency.P50, b.EndToEndLatency.P99,
			b.IngestLatency.P99, b.AfterAccepted.P99)
		if i == 1 {
			p.f("; %s: %s deliveries/s (median), %d/%d received, end-to-end p50 %.1f ms, p99 %.1f ms, at most %d pending",
				n.aLoad(true), num(a.Deliveries.PerSecond), a.Deliveries.Received, a.Deliveries.Expected,
				a.EndToEndLatency.P50, a.EndToEndLatency.P99, n.PendingA)
		}
		p.f("; server %.2f cores in the window (other processes %.2f), CPU %.1fs, peak RSS %s\n", ph.WindowCores, ph.OtherWindowCores, ph.CPUSeconds, mib(ph.PeakRSS))
	}
	p.f("  ratios       B's p99 %.2f× (target ≤ %.0f×: %s); p50 %.2f×; deliveries/s %.3f\n",
		n.P99Ratio, NoisyP99Target, metOrMissed(n.P99Met), n.P50Ratio, n.DeliveriesRatio)
}

// writeMarkdown writes the scenario's section and both phases' timelines.
func (n *NoisyTenantReport) writeMarkdown(p *printer) {
	q, w := &n.Quiet, &n.Noisy
	qb, wb, wa := q.load("B"), w.load("B"), w.load("A")
	p.f("\n## Noisy tenant\n\n%s. A is idle, then %s; a fresh server for each phase.\n\n", n.layout(), n.aLoad(true))
	p.f("| | A idle | A noisy | ratio | target | |\n|---|---|---|---|---|---|\n")
	p.f("| B deliveries/s (median) | %s | %s | %.3f | | |\n", num(qb.Deliveries.PerSecond), num(wb.Deliveries.PerSecond), n.DeliveriesRatio)
	p.f("| **B end-to-end p99 (ms)** | %.1f | %.1f | **%.2f×** | ≤ %.0f× | %s |\n", qb.EndToEndLatency.P99, wb.EndToEndLatency.P99,
		n.P99Ratio, NoisyP99Target, metOrMissed(n.P99Met))
	p.f("| B end-to-end p50 (ms) | %.1f | %.1f | %.2f× | | |\n", qb.EndToEndLatency.P50, wb.EndToEndLatency.P50, n.P50Ratio)
	p.f("| B ingest p50 / p99 (ms): due → 202 | %.1f / %.1f | %.1f / %.1f | | | |\n", qb.IngestLatency.P50, qb.IngestLatency.P99, wb.IngestLatency.P50, wb.IngestLatency.P99)
	p.f("| B after its 202, p50 / p99 (ms): the engine's part | %.1f / %.1f | %.1f / %.1f | %.2f× (p99) | | |\n",
		qb.AfterAccepted.P50, qb.AfterAccepted.P99, wb.AfterAccepted.P50, wb.AfterAccepted.P99, ratio(wb.AfterAccepted.P99, qb.AfterAccepted.P99))
	p.f("| B send lag p99 (ms): the load generator late | %.1f | %.1f | | | |\n", qb.SendLag.P99, wb.SendLag.P99)
	p.f("| B deliveries expected / received | %d / %d | %d / %d | | | |\n", qb.Deliveries.Expected, qb.Deliveries.Received, wb.Deliveries.Expected, wb.Deliveries.Received)
	p.f("| B drain after load | %.2fs | %.2fs | | | |\n", qb.Deliveries.DrainSeconds, wb.Deliveries.DrainSeconds)
	p.f("| A events/s sent / accepted (median) | idle | %s / %s | | | |\n", num(wa.Events.SentPerSecond), num(wa.Events.AcceptedPerSecond))
	p.f("| A deliveries/s (median) | | %s | | | |\n", num(wa.Deliveries.PerSecond))
	p.f("| A end-to-end p50 / p99 (ms) | | %.1f / %.1f | | | |\n", wa.EndToEndLatency.P50, wa.EndToEndLatency.P99)
	p.f("| A ingest p50 / p99 (ms) | | %.1f / %.1f | | | |\n", wa.IngestLatency.P50, wa.IngestLatency.P99)
	p.f("| A deliveries expected / received | | %d / %d | | | |\n", wa.Deliveries.Expected, wa.Deliveries.Received)
	p.f("| most deliveries pending at a sample, A / B | | %d / %d | | | |\n", n.PendingA, n.PendingB)
	p.f("| A drain after load | | %.2fs | | | |\n", wa.Deliveries.DrainSeconds)
	p.f("| deliveries per accepted event (202s), B / A | %s / | %s / %s | | | |\n", perEvent(qb), perEvent(wb), perEvent(wa))
	p.f("| deliveries to the other tenant's endpoints | %d | %d | | | |\n", qb.Foreign+q.load("A").Foreign, wb.Foreign+wa.Foreign)
	p.f("| cores busy in the window: server / bench / other processes | %.2f / %.2f / %.2f | %.2f / %.2f / %.2f | | | |\n",
		q.WindowCores, q.BenchWindowCores, q.OtherWindowCores, w.WindowCores, w.BenchWindowCores, w.OtherWindowCores)
	p.f("| server CPU, load and drain | %.1fs | %.1fs | | | |\n", q.CPUSeconds, w.CPUSeconds)
	p.f("| server peak RSS | %s | %s | | | |\n", mib(q.PeakRSS), mib(w.PeakRSS))
	for _, ph := range []*Phase{q, w} {
		writeTimeline(p, ph)
	}
}

// perEvent returns the deliveries the 202s announced per accepted event.
func perEvent(f LoadFigures) string {
	if f.Events.Accepted == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f", float64(f.Announced)/float64(f.Events.Accepted))
}
