package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// env is one run: its configuration, receivers, servers and counters.
type env struct {
	cfg     Config
	sc      *Scenario
	report  *Report
	rs      *receivers
	servers []*server
	pids    []int // processes whose RSS and CPU are measured
	api     *apiClient
	eps     []endpoint
	sink    *sink
	loader  *loader
	errs    *errorCounts
	prog    *sampler
	dir     string        // temp dir of the started servers
	started int           // servers started so far, which names their data dirs
	bad     *badReceivers // bad-receivers' misbehaving receivers while they run
	// loads are the current phase's loads in the scenarios that run several
	// at once; the timeline then counts each. sink and loader are the
	// measured one's.
	loads []*namedLoad

	cpuStart    []time.Duration // per pid, when the scenario began
	benchCPU0   time.Duration
	machineCPU0 time.Duration
}

// Run runs one scenario as cfg says and writes the report to stdout, as
// text or (with cfg.JSON) JSON, and to cfg.Markdown if set. It returns the
// report even when the run failed part-way, with whatever was measured.
func Run(ctx context.Context, cfg Config, stdout io.Writer) (*Report, error) {
	sc, err := findScenario(cfg.Scenario)
	if err != nil {
		return nil, err
	}
	if cfg, err = cfg.resolve(sc); err != nil {
		return nil, err
	}
	e := &env{cfg: cfg, sc: sc, errs: newErrorCounts()}
	e.report = &Report{
		Scenario: sc.Name, Started: time.Now(), CommandLine: redactArgs(cfg.CommandLine), Machine: thisMachine(),
		Nodes: cfg.Nodes, Endpoints: cfg.Endpoints, Rate: cfg.Rate, Clients: cfg.Clients, Batch: cfg.Batch,
		WarmupSeconds: cfg.Warmup.Seconds(), Behavior: cfg.Behavior, Errors: map[string]int64{},
	}
	e.report.Settings = cfg.settings()
	if sc.Name == "wide-fanout" || sc.Name == "backlog" {
		e.report.WarmupSeconds = 0 // no warm-up: every delivery counts
	}
	runErr := e.run(ctx, sc)
	closeErr := e.close()
	e.finish()
	if err := errors.Join(runErr, closeErr); err != nil {
		return e.report, err
	}
	if cfg.JSON {
		err = e.report.WriteJSON(stdout)
	} else {
		err = e.report.WriteText(stdout)
	}
	if err == nil && cfg.Markdown != "" {
		err = writeMarkdown(cfg.Markdown, e.report)
	}
	return e.report, err
}

// run sets up, runs the scenario and collects the servers' figures.
func (e *env) run(ctx context.Context, sc *Scenario) error {
	c := &e.cfg
	var err error
	if e.rs, err = startReceivers(c.Receivers, c.Behavior); err != nil {
		return err
	}

	key, urls := c.APIKey, c.Target
	e.report.Store = "target"
	if len(c.Target) == 0 {
		if urls, key, err = e.startServers(ctx); err != nil {
			return err
		}
	} else if c.TargetPID > 0 {
		e.pids = []int{c.TargetPID}
	}
	if e.api, err = newAPIClient(urls, key, c.Clients+16); err != nil {
		return err
	}
	e.prog = newSampler(e.sample, c.Progress)

	if sc.ownEndpoints {
		err = sc.run(ctx, e)
		e.prog.end()
		return errors.Join(err, e.collect(ctx))
	}
	epURLs := make([]string, c.Endpoints)
	for i := range epURLs {
		epURLs[i] = e.rs.url(i)
	}
	eventType, keys, err := e.register(ctx, epURLs)
	if err != nil {
		return err
	}
	if c.CeilingDuration > 0 {
		if c.Progress != nil {
			fmt.Fprintf(c.Progress, "measuring the raw net/http ceiling for %s\n", c.CeilingDuration)
		}
		if err := e.ceiling(ctx, eventType, keys); err != nil {
			return err
		}
	}
	err = sc.run(ctx, e)
	e.prog.end()
	return errors.Join(err, e.collect(ctx))
}

// register starts a run of load: a fresh event type, a sink routed to it,
// one endpoint per URL subscribed to it, and a loader of its events. Of the
// endpoints, the scenario's measured ones (all, for most) are counted and
// waited for. It returns the event type and the endpoints' signing keys.
func (e *env) register(ctx context.Context, urls []string) (string, [][]byte, error) {
	c := &e.cfg
	var b [4]byte
	_, _ = rand.Read(b[:])
	run := hex.EncodeToString(b[:])
	eventType := "bench." + run
	e.sink = newSink(len(urls))
	measured := len(urls)
	if e.sc.measured != nil {
		measured = e.sc.measured(len(urls))
		e.sink.measured = measured
	}
	e.rs.route(run, e.sink)

	progress := func(n int) {
		if c.Progress != nil && (n%1000 == 0 || n == len(urls)) {
			fmt.Fprintf(c.Progress, "registered %d/%d endpoints\n", n, len(urls))
		}
	}
	var err error
	e.eps, err = e.api.createEndpoints(ctx, urls, eventType, "", 16, progress)
	if err != nil {
		return "", nil, err
	}
	keys := make([][]byte, len(e.eps))
	for i, ep := range e.eps {
		keys[i] = ep.Key
	}
	e.rs.setKeys(keys)
	e.loader = newLoader(e.api, eventType, run, c.PayloadSize, c.Batch, e.errs)
	if measured < len(urls) {
		e.loader.perEvent = int64(measured)
	}
	return eventType, keys, nil
}

// startServers starts cfg.Nodes servers, each on a fresh data dir in the
// run's temp dir, and returns their URLs and API key.
func (e *env) startServers(ctx context.Context) ([]string, string, error) {
	c := &e.cfg
	if e.dir == "" {
		var err error
		if e.dir, err = os.MkdirTemp("", "hookline-bench-"); err != nil {
			return nil, "", err
		}
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	key := "bench_" + hex.EncodeToString(b[:])
	e.report.Store = "sqlite"
	if c.DatabaseURL != "" {
		e.report.Store = "postgres"
	}
	var urls []string
	for i := range c.Nodes {
		n := e.started
		e.started++
		dir := filepath.Join(e.dir, fmt.Sprintf("node%d", n))
		args := []string{"--addr", "127.0.0.1:0", "--data-dir", dir, "--api-key", key,
			"--allow-private-networks", "--retry-schedule", c.RetrySchedule}
		if c.DeliveryTimeout > 0 {
			args = append(args, "--delivery-timeout", c.DeliveryTimeout.String())
		}
		if c.DatabaseURL != "" {
			args = append(args, "--database-url", c.DatabaseURL, "--node-id", fmt.Sprintf("bench-%d", i))
		}
		args = append(args, e.sc.ServerArgs...)
		args = append(args, c.ServerArgs...)
		logf, err := os.Create(filepath.Join(e.dir, fmt.Sprintf("node%d.log", n)))
		if err != nil {
			return nil, "", err
		}
		s, err := startServer(ctx, c.Binary, args, logf)
		if err != nil {
			logf.Close()
			return nil, "", err
		}
		e.servers = append(e.servers, s)
		e.pids = append(e.pids, s.pid)
		urls = append(urls, s.url)
		if c.Progress != nil {
			fmt.Fprintf(c.Progress, "started hookline serve pid %d at %s (log: %s)\n", s.pid, s.url, logf.Name())
		}
	}
	return urls, key, nil
}

// ceiling measures the raw net/http ceiling against the receivers.
func (e *env) ceiling(ctx context.Context, eventType string, keys [][]byte) error {
	c := &e.cfg
	var b [4]byte
	_, _ = rand.Read(b[:])
	run := hex.EncodeToString(b[:])
	sk := newSink(c.Endpoints)
	sk.raw = true
	e.rs.route(run, sk)
	cl := &ceiling{rs: e.rs, sink: sk, run: run, eventType: eventType, pad: e.loader.pad,
		endpoints: c.Endpoints, clients: c.CeilingClients, duration: c.CeilingDuration}
	if c.Behavior.Verify {
		cl.keys = keys
	}
	r, err := cl.measure(ctx)
	e.report.Ceiling = r
	if err != nil {
		return err
	}
	if bad := sk.duplicates.Load(); bad > 0 {
		e.errs.add("ceiling_duplicate", bad)
	}
	return nil
}

// begin starts the scenario's clock: sampling, and CPU baselines.
func (e *env) begin(start time.Time, phase string) {
	e.prog.setPhase(phase)
	e.cpuStart = make([]time.Duration, len(e.pids))
	for i, pid := range e.pids {
		if u, err := readProc(pid); err == nil {
			e.cpuStart[i] = u.CPU
		}
	}
	e.benchCPU0 = selfCPU()
	e.machineCPU0 = machineCPU()
	e.prog.begin(start)
}

// wait waits until the receivers got n deliveries, for at most timeout.
func (e *env) wait(ctx context.Context, n int64, timeout time.Duration) error {
	return e.waitSink(ctx, e.sink, n, timeout)
}

// waitSink waits until sk got n deliveries, for at most timeout.
func (e *env) waitSink(ctx context.Context, sk *sink, n int64, timeout time.Duration) error {
	reached := sk.waitFor(n)
	select {
	case <-reached:
		return nil
	default:
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-reached:
			return nil
		case <-t.C:
			return fmt.Errorf("%d of %d deliveries received after %s", sk.received.Load(), n, timeout)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if err := e.alive(); err != nil {
				return err
			}
		}
	}
}

// drain waits for every expected delivery after the load stopped at from.
func (e *env) drain(ctx context.Context, from time.Time) error {
	err := e.wait(ctx, e.loader.expected.Load(), e.cfg.DrainTimeout)
	e.report.Deliveries.DrainSeconds = time.Since(from).Seconds()
	e.report.Deliveries.Drained = err == nil
	if err != nil && ctx.Err() == nil && e.alive() == nil {
		return nil // reported as undelivered
	}
	return err
}

// window computes the rates over the measured window [from, to].
func (e *env) window(from, to time.Time) {
	tl := e.prog.timeline()
	r := e.report
	r.Seconds = to.Sub(from).Seconds()
	r.Events.SentPerSecond = medianRate(tl, from, to, func(s Sample) int64 { return s.Sent })
	r.Events.AcceptedPerSecond = medianRate(tl, from, to, func(s Sample) int64 { return s.Accepted })
	r.Deliveries.PerSecond = medianRate(tl, from, to, func(s Sample) int64 { return s.Delivered })
}

// alive returns an error if a started server has exited.
func (e *env) alive() error {
	for _, s := range e.servers {
		if err := s.alive(); err != nil {
			return err
		}
	}
	return nil
}

// sample reads the counters for the timeline and progress line.
func (e *env) sample() Sample {
	s := Sample{Errors: e.errs.total() + e.rs.badSignature.Load() + e.rs.badPayload.Load()}
	switch {
	case len(e.loads) > 0:
		s.Loads = make(map[string]LoadSample, len(e.loads))
		for _, ld := range e.loads {
			x := ld.sample()
			s.Loads[ld.name] = x
			s.Sent, s.Accepted, s.Expected, s.Delivered = s.Sent+x.Sent, s.Accepted+x.Accepted, s.Expected+x.Expected, s.Delivered+x.Delivered
			s.Errors += ld.sink.duplicates.Load() + ld.sink.foreign.Load()
		}
	case e.sink != nil:
		s.Delivered = e.sink.received.Load()
		s.Errors += e.sink.duplicates.Load()
		if l := e.loader; l != nil {
			s.Sent, s.Accepted, s.Expected = l.sent.Load(), l.accepted.Load(), l.expected.Load()
		}
		if e.sink.perSecond.Load() != nil {
			s.P99 = ms(e.sink.perSecond.Swap(NewHistogram()).Quantile(0.99))
		}
	}
	if e.bad != nil {
		s.BadRequests = e.bad.requests()
	}
	for i, pid := range e.pids {
		if u, err := readProc(pid); err == nil {
			s.RSS += u.RSS
			if i < len(e.cpuStart) {
				s.CPU += (u.CPU - e.cpuStart[i]).Seconds()
			}
		}
	}
	s.BenchCPU = (selfCPU() - e.benchCPU0).Seconds()
	s.MachineCPU = (machineCPU() - e.machineCPU0).Seconds()
	return s
}

// peakRSS returns the sum of the measured processes' peak RSS so far.
func (e *env) peakRSS() int64 {
	var n int64
	for _, pid := range e.pids {
		if u, err := readProc(pid); err == nil {
			n += u.PeakRSS
		}
	}
	return n
}

// collect reads the servers' stats, peak RSS and CPU before they stop.
func (e *env) collect(ctx context.Context) error {
	if e.api == nil {
		return nil
	}
	e.report.BenchCPUSeconds = (selfCPU() - e.benchCPU0).Seconds()
	if e.report.Deliveries.Drained && e.report.BadReceivers == nil {
		// Outcomes are written after the receivers answer: give the last
		// ones a moment, so the stats show the final state. A target may
		// have other work pending: wait less. With bad receivers, deliveries
		// stay pending behind open circuits: no wait.
		wait := 10 * time.Second
		if len(e.servers) == 0 {
			wait = 2 * time.Second
		}
		deadline := time.Now().Add(wait)
		for time.Now().Before(deadline) {
			if st, err := e.api.stats(ctx, 0); err != nil || st.Pending == 0 {
				break
			}
			sleep(ctx, 20*time.Millisecond)
		}
	}
	var errs []error
	for i, u := range e.api.urls {
		sr := ServerReport{URL: u}
		st, err := e.api.stats(ctx, i)
		if err != nil {
			errs = append(errs, fmt.Errorf("stats: %w", err))
		}
		sr.Stats = st
		if i < len(e.pids) {
			sr.PID = e.pids[i]
			if pu, err := readProc(sr.PID); err == nil {
				sr.PeakRSS = pu.PeakRSS
				if i < len(e.cpuStart) {
					sr.CPUSeconds = (pu.CPU - e.cpuStart[i]).Seconds()
				}
			}
		}
		e.report.Servers = append(e.report.Servers, sr)
	}
	if len(e.cfg.Target) > 0 && len(e.eps) > 0 {
		e.api.deleteEndpoints(context.WithoutCancel(ctx), e.eps, 16)
	}
	return errors.Join(errs...)
}

// close stops the servers and receivers and removes the temp dir.
func (e *env) close() error {
	var errs []error
	for i, s := range e.servers {
		_, maxRSS, err := s.stop()
		errs = append(errs, err)
		if i < len(e.report.Servers) && maxRSS > e.report.Servers[i].PeakRSS {
			e.report.Servers[i].PeakRSS = maxRSS
		}
	}
	if e.rs != nil {
		e.rs.close()
	}
	if e.api != nil {
		e.api.hc.CloseIdleConnections()
	}
	if e.dir != "" {
		if err := errors.Join(errs...); err != nil {
			errs = append(errs, fmt.Errorf("server logs kept in %s", e.dir))
		} else {
			errs = append(errs, os.RemoveAll(e.dir))
		}
	}
	return errors.Join(errs...)
}

// finish fills the report's counts and errors from the counters.
func (e *env) finish() {
	r := e.report
	if e.prog != nil {
		r.Timeline = e.prog.timeline()
	}
	for k, v := range e.errs.snapshot() {
		r.Errors[k] += v
	}
	if e.rs != nil {
		r.Receivers = ReceiverCounts{Requests: e.rs.requests.Load(), Failed: e.rs.failed.Load(),
			TimedOut: e.rs.hung.Load(), Refused: e.rs.refused.Load()}
		r.Errors["bad_signature"] += e.rs.badSignature.Load()
		r.Errors["bad_payload"] += e.rs.badPayload.Load()
	}
	if e.sink != nil {
		r.Deliveries.Received = e.sink.received.Load()
		r.Errors["duplicate"] += e.sink.duplicates.Load()
		r.Errors["foreign"] += e.sink.foreign.Load()
		r.EndToEndLatency = e.sink.e2e.Summary()
	}
	if l := e.loader; l != nil {
		r.Events.Sent, r.Events.Accepted, r.Events.Rejected = l.sent.Load(), l.accepted.Load(), l.rejected.Load()
		r.Deliveries.Expected = l.expected.Load()
		r.IngestLatency = l.ingest.Summary()
		if e.cfg.Rate > 0 {
			r.SendLag = l.lag.Summary()
		}
	}
	if d := r.Deliveries.Expected - r.Deliveries.Received; d > 0 {
		r.Errors["undelivered"] += d
	} else if d < 0 {
		r.Errors["unexpected"] += -d
	}
	if c := r.Ceiling; c != nil && c.PerSecond > 0 {
		r.CeilingRatio = r.Deliveries.PerSecond / c.PerSecond
	}
	if b := r.BadReceivers; b != nil {
		b.WithBad.Timeline = r.Timeline
		b.WithBad.PeakRSS, b.WithBad.CPUSeconds = 0, 0
		for _, s := range r.Servers {
			b.WithBad.PeakRSS += s.PeakRSS
			b.WithBad.CPUSeconds += s.CPUSeconds
		}
		b.WithBad.BenchCPUSeconds = r.BenchCPUSeconds
	}
	for k, v := range r.Errors {
		if v == 0 {
			delete(r.Errors, k)
		}
	}
}

// writeMarkdown writes the Markdown report to path.
func writeMarkdown(path string, r *Report) error {
	var b strings.Builder
	if err := r.WriteMarkdown(&b); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// selfCPU returns the CPU time of this process.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
