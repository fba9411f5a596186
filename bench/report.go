package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Report is the result of a run. Rates are per second; latencies are in
// milliseconds (see Latency); a zero figure was not measured.
type Report struct {
	Scenario    string    `json:"scenario"`
	Started     time.Time `json:"started"`
	CommandLine []string  `json:"command_line"`
	Machine     Machine   `json:"machine"`
	// Store is "sqlite", "postgres", or "target" for servers the bench did
	// not start.
	Store     string  `json:"store"`
	Nodes     int     `json:"nodes"`
	Endpoints int     `json:"endpoints"`
	Rate      float64 `json:"rate"` // events per second; 0 means as fast as possible
	Clients   int     `json:"clients"`
	Batch     int     `json:"batch"`
	// WarmupSeconds and Seconds are the warm-up and the measured window.
	WarmupSeconds float64  `json:"warmup_s"`
	Seconds       float64  `json:"duration_s"`
	Behavior      Behavior `json:"receiver_behavior"`
	// Settings are the other resolved settings of the run, by flag name.
	Settings map[string]string `json:"settings"`

	Events     EventCounts    `json:"events"`
	Deliveries DeliveryCounts `json:"deliveries"`

	// Ceiling is the raw net/http ceiling; nil when not measured.
	Ceiling *CeilingReport `json:"ceiling,omitempty"`
	// CeilingRatio is Deliveries.PerSecond ÷ Ceiling.PerSecond: the headline.
	CeilingRatio float64 `json:"ceiling_ratio"`

	// IngestLatency is from the time a request was due to its 202.
	IngestLatency Latency `json:"ingest_latency"`
	// EndToEndLatency is from the time an event was due to be sent to the
	// time a receiver got it.
	EndToEndLatency Latency `json:"end_to_end_latency"`
	// SendLag is how late the load generator sent requests after their due
	// time (open model only): if it is large, the generator was the limit.
	SendLag Latency `json:"send_lag"`

	// Errors counts errors by kind: http_<status> (answers other than 202),
	// transport, bad_answer, bad_signature, bad_payload, duplicate,
	// undelivered (expected but not received by the end of the drain) and
	// unexpected (received beyond the expected count).
	Errors map[string]int64 `json:"errors"`
	// Receivers counts what the receivers did besides answering 200.
	Receivers ReceiverCounts `json:"receivers"`
	Servers   []ServerReport `json:"servers"`
	// BenchCPUSeconds is the CPU time of the bench process itself (load
	// generator and receivers) during the scenario.
	BenchCPUSeconds float64 `json:"bench_cpu_s"`

	WideFanout   []FanoutRound       `json:"wide_fanout,omitempty"`
	Backlog      *BacklogReport      `json:"backlog,omitempty"`
	BadReceivers *BadReceiversReport `json:"bad_receivers,omitempty"`
	NoisyTenant  *NoisyTenantReport  `json:"noisy_tenant,omitempty"`
	Priority     *PriorityReport     `json:"priority,omitempty"`
	Timeline     []Sample            `json:"timeline"`
}

// EventCounts count events sent and their answers.
type EventCounts struct {
	Sent     int64 `json:"sent"`
	Accepted int64 `json:"accepted"`
	Rejected int64 `json:"rejected"`
	// SentPerSecond and AcceptedPerSecond are medians of per-second rates
	// over the measured window.
	SentPerSecond     float64 `json:"sent_per_second"`
	AcceptedPerSecond float64 `json:"accepted_per_second"`
}

// DeliveryCounts count deliveries.
type DeliveryCounts struct {
	// Expected is the sum of the deliveries the 202 answers announced.
	Expected int64 `json:"expected"`
	// Received counts unique deliveries answered 200 by the receivers.
	Received int64 `json:"received"`
	// PerSecond is the median of per-second delivery rates over the
	// measured window.
	PerSecond float64 `json:"per_second"`
	// DrainSeconds is how long the last deliveries took to arrive after the
	// load stopped; Drained is false if the drain timed out.
	DrainSeconds float64 `json:"drain_s"`
	Drained      bool    `json:"drained"`
	// RunPerSecond is Received over the whole run, from the first event
	// sent (warm-up included) to the last delivery; 0 if it did not drain.
	// The median rate judges the window; this one also counts the backlog a
	// closed loop leaves, which a faster ingest makes larger.
	RunPerSecond float64 `json:"run_per_second,omitempty"`
}

// ReceiverCounts count the receivers' answers other than 200.
type ReceiverCounts struct {
	Requests int64 `json:"requests"`
	// Failed and TimedOut are answers made to fail on purpose
	// (Behavior.FailRatio and TimeoutRatio): not errors.
	Failed   int64 `json:"failed"`
	TimedOut int64 `json:"timed_out"`
	// Refused counts requests answered 503 while the receivers were down.
	Refused int64 `json:"refused"`
}

// ServerReport describes one server process.
type ServerReport struct {
	URL string `json:"url"`
	PID int    `json:"pid,omitempty"`
	// PeakRSS is the peak resident memory (VmHWM), in bytes.
	PeakRSS int64 `json:"peak_rss_bytes,omitempty"`
	// CPUSeconds is the CPU time used during the scenario (load and drain).
	CPUSeconds float64 `json:"cpu_s,omitempty"`
	// Stats is GET /v1/stats after the run.
	Stats ServerStats `json:"stats"`
}

// FanoutRound is one event of wide-fanout.
type FanoutRound struct {
	Deliveries int64 `json:"deliveries"`
	Received   int64 `json:"received"`
	// Accepted is the time to the 202; Last the time to the last delivery,
	// both from the send, in milliseconds.
	Accepted float64 `json:"accepted_ms"`
	Last     float64 `json:"last_delivery_ms"`
}

// BacklogReport is the result of the backlog scenario.
type BacklogReport struct {
	// Deliveries is how many deliveries were queued.
	Deliveries int64 `json:"deliveries"`
	// Down is how the receivers were down: "closed" or "503".
	Down string `json:"down"`
	// QueueSeconds is how long ingest took, at EventsPerSecond.
	QueueSeconds    float64 `json:"queue_s"`
	EventsPerSecond float64 `json:"events_per_second"`
	// PeakRSSDown is the servers' peak RSS while the receivers were down.
	PeakRSSDown int64 `json:"peak_rss_down_bytes"`
	// OpenCircuits, FailedDown and RequestsDown are as the queueing ended:
	// endpoints whose circuit was open (or probing), deliveries failed (dead
	// letters), and requests the receivers saw (or refused) while down.
	OpenCircuits int64 `json:"open_circuits"`
	FailedDown   int64 `json:"failed_down"`
	RequestsDown int64 `json:"requests_down"`
	// FirstDeliverySeconds is from receivers up to the first delivery: the
	// wait for a probe.
	FirstDeliverySeconds float64 `json:"first_delivery_s"`
	// DrainSeconds is from receivers up to the last delivery.
	DrainSeconds float64 `json:"drain_s"`
	// DrainPerSecond is the median per-second delivery rate while draining;
	// DrainAverage is Deliveries ÷ DrainSeconds.
	DrainPerSecond float64 `json:"drain_per_second"`
	DrainAverage   float64 `json:"drain_average_per_second"`
}

// ErrorCount returns the total of Errors.
func (r *Report) ErrorCount() int64 {
	var n int64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(r)
}

// WriteText writes the report for a person.
func (r *Report) WriteText(w io.Writer) error {
	p := &printer{w: w}
	p.f("hookline bench: %s — %s\n", r.Scenario, r.setup())
	p.f("  machine      %s, %d cores, %s, Linux %s, commit %s\n",
		r.Machine.CPU, r.Machine.Cores, mib(r.Machine.MemoryBytes), r.Machine.Kernel, short(r.Machine.Commit))
	e, d := r.Events, r.Deliveries
	if r.steady() {
		p.f("  events       sent %d, accepted %d, rejected %d; %s/s sent, %s/s accepted (median)\n",
			e.Sent, e.Accepted, e.Rejected, num(e.SentPerSecond), num(e.AcceptedPerSecond))
		drain := fmt.Sprintf("drained in %.2fs", d.DrainSeconds)
		if !d.Drained {
			drain = fmt.Sprintf("NOT drained after %.0fs", d.DrainSeconds)
		}
		p.f("  deliveries   expected %d, received %d, %s; %s/s (median)\n", d.Expected, d.Received, drain, num(d.PerSecond))
		if d.RunPerSecond > 0 {
			p.f("  whole run    %s deliveries/s from the first event sent to the last delivery\n", num(d.RunPerSecond))
		}
		if r.Scenario == "fanout-100" && r.Endpoints > 0 {
			p.f("  fan-out      %s events/s delivered to all %d endpoints (median)\n", num(d.PerSecond/float64(r.Endpoints)), r.Endpoints)
		}
	} else {
		p.f("  events       sent %d, accepted %d, rejected %d\n", e.Sent, e.Accepted, e.Rejected)
		p.f("  deliveries   expected %d, received %d\n", d.Expected, d.Received)
	}
	if c := r.Ceiling; c != nil {
		p.f("  ceiling      %s/s raw net/http, %d clients (p50 %.3f ms, p99 %.3f ms)\n", num(c.PerSecond), c.Clients, c.Latency.P50, c.Latency.P99)
		if r.steady() {
			at := ""
			if r.Rate > 0 {
				at = " (at the fixed --rate: not a maximum)"
			}
			p.f("  ratio        %.3f of the ceiling%s\n", r.CeilingRatio, at)
		}
	}
	p.latency("ingest", r.IngestLatency)
	p.latency("end-to-end", r.EndToEndLatency)
	if r.Rate > 0 {
		p.latency("send lag", r.SendLag)
	}
	for i, f := range r.WideFanout {
		p.f("  round %d      202 in %.1f ms, last of %d/%d deliveries at %.1f ms\n", i+1, f.Accepted, f.Received, f.Deliveries, f.Last)
	}
	if b := r.Backlog; b != nil {
		p.f("  backlog      %d deliveries queued in %.1fs (%s events/s) with receivers %s; %d circuits open, %d requests while down, %d failed; peak RSS %s\n",
			b.Deliveries, b.QueueSeconds, num(b.EventsPerSecond), b.Down, b.OpenCircuits, b.RequestsDown, b.FailedDown, mib(b.PeakRSSDown))
		p.f("  drain        first delivery %.2fs after the receivers came up; drained in %.1fs: %s/s median, %s/s average\n",
			b.FirstDeliverySeconds, b.DrainSeconds, num(b.DrainPerSecond), num(b.DrainAverage))
	}
	if b := r.BadReceivers; b != nil {
		b.writeText(p)
	}
	if n := r.NoisyTenant; n != nil {
		n.writeText(p)
	}
	if pr := r.Priority; pr != nil {
		pr.writeText(p)
	}
	for _, s := range r.Servers {
		p.f("  server       %s", s.URL)
		if s.PID > 0 {
			p.f(" pid %d: peak RSS %s, CPU %.1fs", s.PID, mib(s.PeakRSS), s.CPUSeconds)
		}
		p.f("; pending %d, delivered %d, failed %d\n", s.Stats.Pending, s.Stats.Delivered, s.Stats.Failed)
	}
	p.f("  bench        CPU %.1fs (load generator and receivers)\n", r.BenchCPUSeconds)
	if rc := r.Receivers; rc.Failed+rc.TimedOut+rc.Refused > 0 {
		p.f("  receivers    %d requests: %d failed and %d timed out on purpose, %d refused while down\n",
			rc.Requests, rc.Failed, rc.TimedOut, rc.Refused)
	}
	p.f("  errors       %s\n", errorList(r.Errors))
	return p.err
}

// WriteMarkdown writes the report as a Markdown document: machine, commit,
// date, command line, results and the per-second timeline.
func (r *Report) WriteMarkdown(w io.Writer) error {
	p := &printer{w: w}
	m := r.Machine
	p.f("# hookline bench: %s\n\n", r.Scenario)
	p.f("| | |\n|---|---|\n")
	p.f("| date | %s |\n", r.Started.UTC().Format(time.RFC3339))
	p.f("| version, commit | %s, `%s` |\n", m.Version, m.Commit)
	p.f("| machine | %s, %d cores, %s memory, Linux %s, %s |\n", m.CPU, m.Cores, mib(m.MemoryBytes), m.Kernel, m.GoVersion)
	p.f("| command | `%s` |\n", strings.Join(r.CommandLine, " "))
	p.f("| setup | %s |\n", r.setup())
	for _, k := range slices.Sorted(maps.Keys(r.Settings)) {
		p.f("| --%s | `%s` |\n", k, r.Settings[k])
	}
	p.f("\n")

	p.f("## Results\n\n")
	switch {
	case r.BadReceivers != nil:
		p.f("The with-bad-receivers phase; deliveries and latency are the healthy endpoints' (both phases under [Bad receivers](#bad-receivers)).\n\n")
	case r.NoisyTenant != nil:
		p.f("Tenant B in the A-noisy phase (both phases and both tenants under [Noisy tenant](#noisy-tenant)).\n\n")
	case r.Priority != nil:
		p.f("The priority-9 events beside the backlog (both phases and the backlog under [Priorities](#priorities)).\n\n")
	}
	p.f("| figure | value |\n|---|---|\n")
	p.f("| events sent / accepted / rejected | %d / %d / %d |\n", r.Events.Sent, r.Events.Accepted, r.Events.Rejected)
	p.f("| events accepted/s (median) | %s |\n", num(r.Events.AcceptedPerSecond))
	p.f("| deliveries expected / received | %d / %d |\n", r.Deliveries.Expected, r.Deliveries.Received)
	p.f("| deliveries/s (median) | %s |\n", num(r.Deliveries.PerSecond))
	if r.Deliveries.RunPerSecond > 0 {
		p.f("| deliveries/s, whole run (first event to last delivery) | %s |\n", num(r.Deliveries.RunPerSecond))
	}
	p.f("| drain after load | %.2fs (complete: %v) |\n", r.Deliveries.DrainSeconds, r.Deliveries.Drained)
	if c := r.Ceiling; c != nil {
		p.f("| raw net/http ceiling, %d clients | %s/s |\n", c.Clients, num(c.PerSecond))
		p.f("| **ratio to ceiling** | **%.3f** |\n", r.CeilingRatio)
	}
	for _, s := range r.Servers {
		if s.PID > 0 {
			p.f("| server pid %d peak RSS / CPU | %s / %.1fs |\n", s.PID, mib(s.PeakRSS), s.CPUSeconds)
		}
	}
	p.f("| bench CPU | %.1fs |\n", r.BenchCPUSeconds)
	p.f("| errors | %s |\n\n", errorList(r.Errors))

	p.f("## Latency (ms)\n\n| | count | mean | p50 | p95 | p99 | max |\n|---|---|---|---|---|---|---|\n")
	for _, l := range []struct {
		name string
		l    Latency
	}{{"ingest (due → 202)", r.IngestLatency}, {"end-to-end (due → received)", r.EndToEndLatency}, {"send lag", r.SendLag}} {
		if l.l.Count > 0 {
			p.f("| %s | %d | %.3f | %.3f | %.3f | %.3f | %.3f |\n", l.name, l.l.Count, l.l.Mean, l.l.P50, l.l.P95, l.l.P99, l.l.Max)
		}
	}
	if c := r.Ceiling; c != nil && c.Latency.Count > 0 {
		l := c.Latency
		p.f("| ceiling request | %d | %.3f | %.3f | %.3f | %.3f | %.3f |\n", l.Count, l.Mean, l.P50, l.P95, l.P99, l.Max)
	}
	if len(r.WideFanout) > 0 {
		p.f("\n## Wide fan-out\n\n| round | deliveries | 202 (ms) | last delivery (ms) |\n|---|---|---|---|\n")
		for i, f := range r.WideFanout {
			p.f("| %d | %d/%d | %.1f | %.1f |\n", i+1, f.Received, f.Deliveries, f.Accepted, f.Last)
		}
	}
	if b := r.Backlog; b != nil {
		p.f("\n## Backlog\n\n| figure | value |\n|---|---|\n")
		p.f("| deliveries queued (receivers %s) | %d in %.1fs, %s events/s |\n", b.Down, b.Deliveries, b.QueueSeconds, num(b.EventsPerSecond))
		p.f("| while down | %d circuits open, %d requests to the receivers, %d dead letters |\n", b.OpenCircuits, b.RequestsDown, b.FailedDown)
		p.f("| peak RSS while down | %s |\n", mib(b.PeakRSSDown))
		p.f("| first delivery after the receivers came up | %.2fs |\n", b.FirstDeliverySeconds)
		p.f("| drain | %.1fs: %s/s median, %s/s average |\n", b.DrainSeconds, num(b.DrainPerSecond), num(b.DrainAverage))
	}
	if b := r.BadReceivers; b != nil {
		b.writeMarkdown(p) // with the phases' timelines
		return p.err
	}
	if n := r.NoisyTenant; n != nil {
		n.writeMarkdown(p)
		return p.err
	}
	if pr := r.Priority; pr != nil {
		pr.writeMarkdown(p)
		return p.err
	}
	p.f("\n## Timeline\n\n| t (s) | sent | accepted | expected | delivered | errors | RSS | server cores | bench cores | other cores |\n|---|---|---|---|---|---|---|---|---|---|\n")
	var prev Sample
	for i, s := range r.Timeline {
		cores, bench, other := coresSince(&prev, s, i == 0)
		p.f("| %.1f | %d | %d | %d | %d | %d | %s | %s | %s | %s |\n", s.T, s.Sent, s.Accepted, s.Expected, s.Delivered, s.Errors, mib(s.RSS), cores, bench, other)
	}
	return p.err
}

// steady reports whether the scenario measures a steady window of load.
func (r *Report) steady() bool {
	return r.Scenario != "wide-fanout" && r.Scenario != "backlog"
}

// setup describes the load in one line.
func (r *Report) setup() string {
	nodes := fmt.Sprintf("%d endpoints, %d node(s) (%s)", r.Endpoints, r.Nodes, r.Store)
	switch r.Scenario {
	case "wide-fanout":
		return fmt.Sprintf("%s, %d events one after another", nodes, len(r.WideFanout))
	case "backlog":
		return fmt.Sprintf("%s, batch %d, %d clients", nodes, r.Batch, r.Clients)
	case "bad-receivers":
		nodes += ", two phases (all healthy, then with bad receivers) on a fresh server each"
	case "noisy-tenant":
		nodes = fmt.Sprintf("%d endpoints per tenant (B and A), %d node(s) (%s), two phases (A idle, then A noisy) on a fresh server each", r.Endpoints, r.Nodes, r.Store)
	case "priority":
		nodes += ", two phases (alone, then beside a priority-1 backlog) on a fresh server each"
	}
	load := "max rate (closed loop)"
	if r.Rate > 0 {
		load = num(r.Rate) + " events/s (open model)"
	}
	switch {
	case r.NoisyTenant != nil:
		load = "B " + load + ", " + r.NoisyTenant.aLoad(true)
	case r.Priority != nil:
		load = fmt.Sprintf("priority-%d %s", r.Priority.High, load)
	}
	return fmt.Sprintf("%s, %s, %d clients, batch %d, %.0fs after %.0fs warm-up", nodes, load, r.Clients, r.Batch, r.Seconds, r.WarmupSeconds)
}

// printer writes formatted text and keeps the first error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, a ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, a...)
	}
}

func (p *printer) latency(name string, l Latency) {
	if l.Count == 0 {
		return
	}
	p.f("  %-12s p50 %.3f ms  p95 %.3f ms  p99 %.3f ms  max %.3f ms  (mean %.3f ms, n=%d)\n",
		name, l.P50, l.P95, l.P99, l.Max, l.Mean, l.Count)
}

// num formats a rate with no decimals above 100.
func num(x float64) string {
	if x >= 100 {
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.1f", x)
}

// short abbreviates a commit to 12 characters, keeping "+dirty".
func short(commit string) string {
	rev, dirty, _ := strings.Cut(commit, "+")
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty != "" {
		return rev + "+" + dirty
	}
	return rev
}

func errorList(m map[string]int64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
