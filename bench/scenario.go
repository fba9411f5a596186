package bench

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Scenario is a named workload of `hookline bench`. Its numbers are the
// defaults of the Config fields left zero.
type Scenario struct {
	Name string
	// Doc says what the scenario does and reports, for --help.
	Doc           string
	Endpoints     int
	Clients       int
	Batch         int
	DrainTimeout  time.Duration
	RetrySchedule string
	// ServerArgs are flags the bench gives the servers it starts for this
	// scenario, before Config.ServerArgs.
	ServerArgs []string
	// Rate, Duration and DeliveryTimeout are the defaults of the Config
	// fields. A zero Rate means as fast as possible; a zero Duration 10 s;
	// a zero DeliveryTimeout the server's own default.
	Rate            float64
	Duration        time.Duration
	DeliveryTimeout time.Duration
	// NoCeiling skips the raw net/http ceiling: the scenario reports no
	// ratio to it.
	NoCeiling bool
	// BacklogSize is the default of Config.BacklogSize; zero means
	// 1,000,000. ReceiverLatency is the receivers' latency when
	// Config.Behavior.Latency is zero.
	BacklogSize     int
	ReceiverLatency time.Duration
	// measured returns how many endpoints, the first ones, the bench counts
	// deliveries of and waits for, out of n; nil means all n.
	measured func(n int) int
	// ownEndpoints: the scenario registers its endpoints and loads itself
	// (it runs several loads, or one per tenant); env.run only starts the
	// receivers and the first server.
	ownEndpoints bool
	run          func(ctx context.Context, e *env) error
}

// Scenarios lists the scenarios, the default first.
var Scenarios = []*Scenario{
	{
		Name: "throughput",
		Doc: `10 endpoints; events sent one by one (POST /v1/events) by --clients senders back to
back, or at --rate events/s (open model) for latency at a fixed load. Reports the sustained
deliveries/s (median of per-second rates over the measured window) as a ratio of the raw
net/http ceiling of the same receivers: the headline. Also ingest and end-to-end latency, and the
whole run's deliveries/s (first event to last delivery), which counts the backlog a closed loop leaves.`,
		Endpoints: 10, Clients: 64, Batch: 1, DrainTimeout: 2 * time.Minute, RetrySchedule: defaultRetrySchedule,
		run: runLoad,
	},
	{
		Name: "fanout-100",
		Doc: `100 endpoints all subscribed to one event type (the tutorial's load test), so every event
is 100 deliveries. Same load options as throughput. Reports events/s accepted and delivered
(deliveries/s ÷ 100). loadtest/fanout-100.js is the same load for k6.`,
		Endpoints: 100, Clients: 64, Batch: 1, DrainTimeout: 2 * time.Minute, RetrySchedule: defaultRetrySchedule,
		run: runLoad,
	},
	{
		Name: "wide-fanout",
		Doc: `One event to 10,000 endpoints (--endpoints), sent --repeat times (default 3), one after
the other finished: for each, the time to its 202 and the time until its last delivery arrived.`,
		Endpoints: 10_000, Clients: 1, Batch: 1, DrainTimeout: 2 * time.Minute, RetrySchedule: defaultRetrySchedule,
		run: runWideFanout,
	},
	{
		Name: "ingest",
		Doc: `Batches of 500 events (POST /v1/events/batch; --batch) from 8 clients as fast as possible
(or at --rate), one endpoint answering at once: events/s accepted, each 202 durable (fsync).
--batch 1 --clients 64 --endpoints 100 measures single POST /v1/events with 100 endpoints.`,
		Endpoints: 1, Clients: 8, Batch: 500, DrainTimeout: 2 * time.Minute, RetrySchedule: defaultRetrySchedule,
		run: runLoad,
	},
	{
		Name: "backlog",
		Doc: `Receivers down (--backlog-down closed: not listening; 503: answering 503) while
--backlog-size deliveries (default 1,000,000, over 10 endpoints) are queued through the batch
API. The first failed attempts open each endpoint's circuit; the rest wait in the store behind
it, without attempts (no retry storm: the report counts the requests the receivers saw while
down). Then the receivers come up; each endpoint's next probe succeeds, its circuit closes and
its backlog drains. A server the bench starts gets --breaker-cooldown 1s --breaker-max-cooldown
2s, so the drain starts within about 2 s; the report gives the time to the first delivery and
the drain rate, and the server's peak RSS.`,
		Endpoints: 10, Clients: 4, Batch: 1000, DrainTimeout: 10 * time.Minute, RetrySchedule: defaultRetrySchedule,
		ServerArgs: []string{"--breaker-cooldown", "1s", "--breaker-max-cooldown", "2s"},
		run:        runBacklog,
	},
	{
		Name: "bad-receivers",
		Doc: `100 endpoints (--endpoints; a tenth of them per bad kind), every event to all of them,
at --rate 40 events/s for --duration 20s after a 2 s warm-up, in two phases against a fresh
server each: all healthy, then 60 healthy beside 10 that hang (never answer), 10 that answer
200 after 2 s, 10 that refuse connections and 10 that answer 500. Only the 60 healthy
endpoints are measured and waited for: their deliveries/s and end-to-end p99 with the bad
ones beside them, as ratios of the all-healthy phase (targets ≥ 0.9 and ≤ 2×); the requests
the bad receivers got (breaker probes, not storms), their circuits, and each phase's peak RSS.
A server the bench starts gets --delivery-timeout 5s unless --delivery-timeout says otherwise.`,
		Endpoints: 100, Clients: 64, Batch: 1, DrainTimeout: 2 * time.Minute, RetrySchedule: defaultRetrySchedule,
		Rate: 40, Duration: 20 * time.Second, DeliveryTimeout: 5 * time.Second, NoCeiling: true,
		measured: healthyEndpoints,
		run:      runBadReceivers,
	},
	{
		Name: "noisy-tenant",
		Doc: `Two tenants with --endpoints (default 10) equally healthy endpoints each, all subscribed
to one event type; an event goes to its tenant's endpoints only. Tenant B sends --rate (default
20) events/s (open model) for --duration 20s after a 2 s warm-up, one per request, in two phases
against a fresh server each: A idle, then A sending --noisy-factor (default 20) times B's rate in
requests of --batch events from --clients senders (--noisy-factor max: back to back, a flood). Every
delivery of both is waited for. Reports B's end-to-end p50/p99 and deliveries/s in both phases
and the ratio of its p99 (target ≤ 2×), A's figures and the most it had pending, and each
phase's server CPU and peak RSS.`,
		Endpoints: 10, Clients: 64, Batch: 1, DrainTimeout: 5 * time.Minute, RetrySchedule: defaultRetrySchedule,
		Rate: 20, Duration: 20 * time.Second, NoCeiling: true,
		ownEndpoints: true,
		run:          runNoisyTenant,
	},
	{
		Name: "priority",
		Doc: `Priority-9 events at --rate (default 20) events/s (open model), one per request, to
--endpoints (default 10), for --duration 20s after a 2 s warm-up, in two phases against a fresh
server each: alone, then while a backlog of --backlog-size (default 200,000) priority-1
deliveries drains, queued just before through the batch API (--batch 1000, 4 senders). The
receivers answer after --receiver-latency (default 20ms), so that the backlog takes tens of
seconds at the endpoints' in-flight limits. Reports the priority-9 end-to-end p50/p99 in both
phases and the ratio of p99 (target ≤ 2×), the backlog's drain rate, and how much of the
window it overlapped.`,
		Endpoints: 10, Clients: 16, Batch: 1000, DrainTimeout: 5 * time.Minute, RetrySchedule: defaultRetrySchedule,
		Rate: 20, Duration: 20 * time.Second, NoCeiling: true,
		BacklogSize: 200_000, ReceiverLatency: 20 * time.Millisecond,
		ownEndpoints: true,
		run:          runPriority,
	},
}

// ScenarioHelp returns the scenarios' documentation, for --help.
func ScenarioHelp() string {
	var b strings.Builder
	for _, s := range Scenarios {
		fmt.Fprintf(&b, "  %s\n", s.Name)
		for line := range strings.Lines(s.Doc) {
			fmt.Fprintf(&b, "      %s", line)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func findScenario(name string) (*Scenario, error) {
	if name == "" {
		return Scenarios[0], nil
	}
	var names []string
	for _, s := range Scenarios {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return nil, fmt.Errorf("unknown scenario %q; want one of %s", name, strings.Join(names, ", "))
}

// runLoad is throughput, fanout-100 and ingest: warm-up, then load for the
// measured window, then the drain; and the whole run's rate.
func runLoad(ctx context.Context, e *env) error {
	sp, err := e.load(ctx, "")
	if d := &e.report.Deliveries; d.Drained {
		if last := e.sink.last(); last.After(sp.start) {
			d.RunPerSecond = float64(e.sink.received.Load()) / last.Sub(sp.start).Seconds()
		}
	}
	return err
}

// span is when a run of load started and its measured window.
type span struct{ start, from, to time.Time }

// load runs the warm-up, then load for the measured window, then the
// drain, and computes the window's rates. Its progress phases are named
// after prefix.
func (e *env) load(ctx context.Context, prefix string) (span, error) {
	c, l, p := &e.cfg, e.loader, e.prog
	start := time.Now()
	warmEnd := start.Add(c.Warmup)
	end := warmEnd.Add(c.Duration)
	l.recordFrom = warmEnd
	e.sink.e2eFromNS.Store(warmEnd.UnixNano())
	e.begin(start, prefix+"warm-up")
	t := time.AfterFunc(c.Warmup, func() { p.mark(); p.setPhase(prefix + "load") })
	defer t.Stop()
	if c.Rate > 0 {
		l.runOpen(ctx, c.Rate, c.Clients, start, end)
	} else {
		l.runClosed(ctx, c.Clients, end)
	}
	loadEnd := time.Now()
	p.mark()
	p.setPhase(prefix + "drain")
	err := e.drain(ctx, loadEnd)
	e.window(warmEnd, loadEnd)
	return span{start: start, from: warmEnd, to: loadEnd}, err
}

// runWideFanout sends one event at a time to every endpoint and waits for
// all its deliveries.
func runWideFanout(ctx context.Context, e *env) error {
	c, l := &e.cfg, e.loader
	start := time.Now()
	l.recordFrom = start
	e.sink.e2eFromNS.Store(start.UnixNano())
	e.begin(start, "fan-out")
	var buf sendBuf
	for i := range c.Repeat {
		e.prog.setPhase(fmt.Sprintf("round %d", i+1))
		before := e.sink.received.Load()
		sent := time.Now()
		r := l.send(ctx, &buf, sent, 1)
		if !r.accepted {
			return fmt.Errorf("wide-fanout round %d: event not accepted: %s", i+1, errorList(e.errs.snapshot()))
		}
		want := l.expected.Load()
		err := e.wait(ctx, want, c.DrainTimeout)
		round := FanoutRound{
			Deliveries: want - before,
			Received:   e.sink.received.Load() - before,
			Accepted:   ms(r.latency),
			Last:       ms(e.sink.last().Sub(sent)),
		}
		e.report.WideFanout = append(e.report.WideFanout, round)
		if err != nil {
			return fmt.Errorf("wide-fanout round %d: %w", i+1, err)
		}
	}
	end := time.Now()
	e.report.Deliveries.Drained = true
	e.window(start, end)
	return nil
}

// runBacklog queues deliveries while the receivers are down, brings them
// up and measures the drain. Nothing is recovered by hand: the deliveries
// wait behind open circuits, unattempted, and flow once a probe succeeds.
func runBacklog(ctx context.Context, e *env) error {
	c, l := &e.cfg, e.loader
	br := &BacklogReport{Down: c.BacklogDown}
	e.report.Backlog = br
	if c.BacklogDown == "closed" {
		e.rs.close()
	} else {
		e.rs.down.Store(true)
	}
	e.sink.e2eFromNS.Store(noE2E) // latency from the send includes the outage
	requests0 := e.rs.requests.Load() + e.rs.refused.Load()
	start := time.Now()
	l.recordFrom = start
	e.begin(start, "queue")
	events := (c.BacklogSize + c.Endpoints - 1) / c.Endpoints
	l.runCount(ctx, c.Clients, events)
	queued := e.prog.mark().at
	br.Deliveries = l.expected.Load()
	br.QueueSeconds = queued.Sub(start).Seconds()
	br.EventsPerSecond = float64(l.accepted.Load()) / br.QueueSeconds
	if err := ctx.Err(); err != nil {
		return err
	}
	// The outage goes on until every endpoint's circuit has opened (or for
	// at most a minute), and 3 s more, so that probes fail too.
	e.prog.setPhase("down")
	deadline := time.Now().Add(time.Minute)
	var st ServerStats
	for {
		var err error
		if st, err = e.api.stats(ctx, 0); err != nil {
			return err
		}
		if st.EndpointsByCircuit.Open+st.EndpointsByCircuit.HalfOpen >= int64(c.Endpoints) || time.Now().After(deadline) {
			break
		}
		if err := e.alive(); err != nil {
			return err
		}
		sleep(ctx, 100*time.Millisecond)
	}
	sleep(ctx, 3*time.Second)
	if st, err := e.api.stats(ctx, 0); err == nil {
		br.OpenCircuits = st.EndpointsByCircuit.Open + st.EndpointsByCircuit.HalfOpen
		br.FailedDown = st.Failed
	}
	br.RequestsDown = e.rs.requests.Load() + e.rs.refused.Load() - requests0
	br.PeakRSSDown = e.peakRSS()

	e.prog.setPhase("drain")
	up := time.Now()
	e.prog.mark()
	if c.BacklogDown == "closed" {
		if err := e.rs.listen(); err != nil {
			return err
		}
	} else {
		e.rs.down.Store(false)
	}
	err := e.drain(ctx, up)
	if t := e.sink.firstAt(); !t.IsZero() {
		br.FirstDeliverySeconds = t.Sub(up).Seconds()
	}
	drained := e.prog.mark().at
	br.DrainSeconds = drained.Sub(up).Seconds()
	br.DrainAverage = float64(e.sink.received.Load()) / br.DrainSeconds
	br.DrainPerSecond = medianRate(e.prog.timeline(), up, drained, func(s Sample) int64 { return s.Delivered })
	e.window(start, queued)
	e.report.Deliveries.PerSecond = br.DrainPerSecond
	return err
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
