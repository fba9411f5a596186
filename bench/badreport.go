package bench

import (
	"fmt"
	"strings"
)

// The targets of bad-receivers for its healthy endpoints, with bad
// receivers beside them, against the all-healthy phase.
const (
	// BadDeliveriesTarget is the least ratio of deliveries/s.
	BadDeliveriesTarget = 0.9
	// BadP99Target is the largest ratio of end-to-end p99 latency.
	BadP99Target = 2.0
)

// BadReceiversReport is the result of bad-receivers: the healthy
// endpoints measured alone (all endpoints healthy) and beside bad ones,
// and what the bad ones got. The Report's own figures are those of the
// with-bad phase, except Receivers, which counts both phases.
type BadReceiversReport struct {
	// Healthy is how many endpoints, the first ones, are healthy in both
	// phases: the measured ones. PerKind is how many endpoints of each bad
	// kind follow them in the with-bad phase (in the all-healthy phase
	// those are healthy too, and not measured).
	Healthy int `json:"healthy_endpoints"`
	PerKind int `json:"endpoints_per_bad_kind"`
	// SlowAnswerSeconds is how long a BadSlow endpoint takes to answer.
	SlowAnswerSeconds float64 `json:"slow_answer_s"`

	AllHealthy BadPhase `json:"all_healthy"`
	WithBad    BadPhase `json:"with_bad"`

	// DeliveriesRatio is WithBad's healthy deliveries/s ÷ AllHealthy's;
	// DeliveriesMet says whether it is at least BadDeliveriesTarget.
	DeliveriesRatio float64 `json:"deliveries_ratio"`
	DeliveriesMet   bool    `json:"deliveries_met"`
	// P99Ratio is WithBad's end-to-end p99 ÷ AllHealthy's; P99Met says
	// whether it is at most BadP99Target.
	P99Ratio float64 `json:"p99_ratio"`
	P99Met   bool    `json:"p99_met"`

	// Kinds describes the bad endpoints by kind, in BadKinds order, at the
	// end of the with-bad phase.
	Kinds []BadKindReport `json:"bad_kinds"`
	// Circuits and Disabled are GET /v1/stats at the end of the with-bad
	// phase (the circuit states last saved, every endpoint).
	Circuits CircuitCounts `json:"circuits"`
	Disabled int64         `json:"endpoints_disabled"`
	// HealthyNotClosed counts the healthy endpoints whose circuit was not
	// closed (or that were disabled) at the end: 0 unless the bad ones hurt
	// them.
	HealthyNotClosed int `json:"healthy_not_closed"`
}

// BadPhase is one phase of bad-receivers. Deliveries count those to the
// healthy (measured) endpoints only; the drain waits for those only.
type BadPhase struct {
	// Name is "all-healthy" or "with-bad".
	Name string `json:"name"`
	// Seconds is the measured window, after the warm-up.
	Seconds    float64        `json:"duration_s"`
	Events     EventCounts    `json:"events"`
	Deliveries DeliveryCounts `json:"deliveries"`
	// Announced is the deliveries the 202 answers promised, to every
	// endpoint; Unmeasured counts those received by the healthy endpoints
	// that are not measured (all-healthy phase).
	Announced  int64 `json:"announced"`
	Unmeasured int64 `json:"unmeasured_received"`

	IngestLatency   Latency `json:"ingest_latency"`
	EndToEndLatency Latency `json:"end_to_end_latency"`
	SendLag         Latency `json:"send_lag"`

	// PeakRSS is the peak resident memory of the phase's server(s), in
	// bytes; CPUSeconds their CPU time during the load and the drain, and
	// BenchCPUSeconds the bench's own.
	PeakRSS         int64   `json:"peak_rss_bytes"`
	CPUSeconds      float64 `json:"cpu_s"`
	BenchCPUSeconds float64 `json:"bench_cpu_s"`
	// Stats is GET /v1/stats at the end of the phase.
	Stats    ServerStats `json:"stats"`
	Timeline []Sample    `json:"timeline"`
}

// BadKindReport describes the endpoints of one bad kind at the end of the
// with-bad phase.
type BadKindReport struct {
	// Kind is one of BadKinds.
	Kind string `json:"kind"`
	// Endpoints is how many there are, numbered from First.
	Endpoints int `json:"endpoints"`
	First     int `json:"first_endpoint"`
	// Due is the deliveries owed to them: accepted events × Endpoints.
	Due int64 `json:"deliveries_due"`
	// Requests counts the requests their receivers got over Seconds (from
	// the start of the phase's load until they were read); 0 for BadRefuse,
	// where nothing listens. RequestsMeasured counts those of the measured
	// window.
	Requests         int64   `json:"requests"`
	RequestsMeasured int64   `json:"requests_measured"`
	Seconds          float64 `json:"seconds"`
	// PerEndpoint is Requests ÷ Endpoints, and PerEndpointPerSecond that
	// over Seconds; MeasuredPerEndpointPerSecond is the rate per endpoint
	// over the measured window.
	PerEndpoint                  float64 `json:"requests_per_endpoint"`
	PerEndpointPerSecond         float64 `json:"requests_per_endpoint_per_second"`
	MeasuredPerEndpointPerSecond float64 `json:"measured_requests_per_endpoint_per_second"`
	// Attempts and Failures are the server's counts of attempts (GET
	// /v1/endpoints/{id}/stats, summed); for BadRefuse, connection attempts.
	// Pending and Failed are their deliveries still pending and failed
	// (dead letters).
	Attempts int64 `json:"attempts"`
	Failures int64 `json:"failures"`
	Pending  int64 `json:"pending"`
	Failed   int64 `json:"failed"`
	// Circuits counts them by circuit state (GET /v1/endpoints/{id});
	// Disabled those the server disabled.
	Circuits CircuitCounts `json:"circuits"`
	Disabled int           `json:"disabled"`
}

// compare computes the ratios and whether they meet the targets.
func (b *BadReceiversReport) compare() {
	if x := b.AllHealthy.Deliveries.PerSecond; x > 0 {
		b.DeliveriesRatio = b.WithBad.Deliveries.PerSecond / x
	}
	if x := b.AllHealthy.EndToEndLatency.P99; x > 0 {
		b.P99Ratio = b.WithBad.EndToEndLatency.P99 / x
	}
	b.DeliveriesMet = b.DeliveriesRatio >= BadDeliveriesTarget
	b.P99Met = b.P99Ratio > 0 && b.P99Ratio <= BadP99Target
}

// layout describes the endpoints in one line.
func (b *BadReceiversReport) layout() string {
	return fmt.Sprintf("%d healthy endpoints measured (0–%d); %d each hang, slow (200 after %.0fs), refuse, 500",
		b.Healthy, b.Healthy-1, b.PerKind, b.SlowAnswerSeconds)
}

func metOrMissed(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

// writeText writes the scenario's figures for a person.
func (b *BadReceiversReport) writeText(p *printer) {
	p.f("  layout       %s\n", b.layout())
	for _, ph := range []*BadPhase{&b.AllHealthy, &b.WithBad} {
		l := ph.EndToEndLatency
		p.f("  %-12s %s deliveries/s to the healthy endpoints (median), %d/%d received; end-to-end p50 %.1f ms, p99 %.1f ms; peak RSS %s, CPU %.1fs\n",
			ph.Name, num(ph.Deliveries.PerSecond), ph.Deliveries.Received, ph.Deliveries.Expected, l.P50, l.P99, mib(ph.PeakRSS), ph.CPUSeconds)
	}
	p.f("  ratios       deliveries/s %.3f (target ≥ %.1f: %s); p99 %.2f× (target ≤ %.0f×: %s)\n",
		b.DeliveriesRatio, BadDeliveriesTarget, metOrMissed(b.DeliveriesMet), b.P99Ratio, BadP99Target, metOrMissed(b.P99Met))
	for _, k := range b.Kinds {
		p.f("  %-12s %d endpoints: %d requests received for %d deliveries due (%.1f per endpoint, %.2f/s; %.2f/s in the measured window); server: %d attempts, %d pending, %d failed; circuits %d open, %d half-open, %d closed\n",
			k.Kind, k.Endpoints, k.Requests, k.Due, k.PerEndpoint, k.PerEndpointPerSecond, k.MeasuredPerEndpointPerSecond,
			k.Attempts, k.Pending, k.Failed, k.Circuits.Open, k.Circuits.HalfOpen, k.Circuits.Closed)
	}
	p.f("  circuits     %d open, %d half-open, %d closed (GET /v1/stats); %d disabled; healthy endpoints not closed: %d\n",
		b.Circuits.Open, b.Circuits.HalfOpen, b.Circuits.Closed, b.Disabled, b.HealthyNotClosed)
}

// writeMarkdown writes the scenario's section and the two phases'
// timelines.
func (b *BadReceiversReport) writeMarkdown(p *printer) {
	a, w := &b.AllHealthy, &b.WithBad
	p.f("\n## Bad receivers\n\n%s. Only the healthy endpoints are measured and waited for.\n\n", b.layout())
	p.f("| healthy endpoints | all healthy | with bad receivers | ratio | target | |\n|---|---|---|---|---|---|\n")
	p.f("| deliveries/s (median) | %s | %s | %.3f | ≥ %.1f | %s |\n", num(a.Deliveries.PerSecond), num(w.Deliveries.PerSecond),
		b.DeliveriesRatio, BadDeliveriesTarget, metOrMissed(b.DeliveriesMet))
	p.f("| end-to-end p99 (ms) | %.1f | %.1f | %.2f× | ≤ %.0f× | %s |\n", a.EndToEndLatency.P99, w.EndToEndLatency.P99,
		b.P99Ratio, BadP99Target, metOrMissed(b.P99Met))
	p.f("| end-to-end p50 (ms) | %.1f | %.1f | | | |\n", a.EndToEndLatency.P50, w.EndToEndLatency.P50)
	p.f("| ingest p99 (ms) | %.1f | %.1f | | | |\n", a.IngestLatency.P99, w.IngestLatency.P99)
	p.f("| send lag p99 (ms): the load generator late, e.g. for want of CPU | %.1f | %.1f | | | |\n", a.SendLag.P99, w.SendLag.P99)
	p.f("| deliveries expected / received | %d / %d | %d / %d | | | |\n",
		a.Deliveries.Expected, a.Deliveries.Received, w.Deliveries.Expected, w.Deliveries.Received)
	p.f("| drain after load | %.2fs | %.2fs | | | |\n", a.Deliveries.DrainSeconds, w.Deliveries.DrainSeconds)
	p.f("| events accepted / sent | %d / %d | %d / %d | | | |\n", a.Events.Accepted, a.Events.Sent, w.Events.Accepted, w.Events.Sent)
	p.f("| server peak RSS | %s | %s | | | |\n", mib(a.PeakRSS), mib(w.PeakRSS))
	p.f("| server CPU / bench CPU | %.1fs / %.1fs | %.1fs / %.1fs | | | |\n", a.CPUSeconds, a.BenchCPUSeconds, w.CPUSeconds, w.BenchCPUSeconds)
	p.f("| circuits open / half-open / closed (GET /v1/stats) | %d / %d / %d | %d / %d / %d | | | |\n",
		a.Stats.EndpointsByCircuit.Open, a.Stats.EndpointsByCircuit.HalfOpen, a.Stats.EndpointsByCircuit.Closed,
		b.Circuits.Open, b.Circuits.HalfOpen, b.Circuits.Closed)
	p.f("\nHealthy endpoints whose circuit was not closed at the end: %d; endpoints disabled: %d.\n\n", b.HealthyNotClosed, b.Disabled)

	p.f("| bad kind | endpoints | deliveries due | requests received | per endpoint | per endpoint per second (whole phase / measured window) | server attempts | pending / dead letters | circuits open / half-open / closed |\n")
	p.f("|---|---|---|---|---|---|---|---|---|\n")
	for _, k := range b.Kinds {
		p.f("| %s | %d (%d–%d) | %d | %d | %.1f | %.2f / %.2f | %d | %d / %d | %d / %d / %d |\n",
			k.Kind, k.Endpoints, k.First, k.First+k.Endpoints-1, k.Due, k.Requests, k.PerEndpoint,
			k.PerEndpointPerSecond, k.MeasuredPerEndpointPerSecond, k.Attempts, k.Pending, k.Failed,
			k.Circuits.Open, k.Circuits.HalfOpen, k.Circuits.Closed)
	}
	for _, ph := range []*BadPhase{a, w} {
		p.f("\n## Timeline: %s\n\n| t (s) | sent | accepted | expected | delivered | e2e p99 (ms) | errors | RSS |", ph.Name)
		for _, k := range BadKinds {
			p.f(" %s requests |", k)
		}
		p.f("\n|---|---|---|---|---|---|---|---|%s\n", strings.Repeat("---|", len(BadKinds)))
		for _, s := range ph.Timeline {
			p.f("| %.1f | %d | %d | %d | %d | %.1f | %d | %s |", s.T, s.Sent, s.Accepted, s.Expected, s.Delivered, s.P99, s.Errors, mib(s.RSS))
			for _, k := range BadKinds {
				p.f(" %d |", s.BadRequests[k])
			}
			p.f("\n")
		}
	}
}
