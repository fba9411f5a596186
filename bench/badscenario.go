package bench

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// runBadReceivers is bad-receivers. Phase 1 loads the server and the
// endpoints env.run set up, all healthy; then that server stops, and phase
// 2 loads a fresh one whose endpoints past the healthy ones are the bad
// receivers. Both phases measure and wait for the healthy endpoints only.
func runBadReceivers(ctx context.Context, e *env) error {
	c := &e.cfg
	healthy, per := healthyEndpoints(c.Endpoints), c.Endpoints/10
	br := &BadReceiversReport{Healthy: healthy, PerKind: per, SlowAnswerSeconds: slowAnswer.Seconds()}
	e.report.BadReceivers = br
	progressf := func(format string, a ...any) {
		if c.Progress != nil {
			fmt.Fprintf(c.Progress, format, a...)
		}
	}

	progressf("phase 1 of 2: all %d endpoints healthy, the first %d measured\n", c.Endpoints, healthy)
	e.sink.perSecond.Store(NewHistogram())
	sp, err := e.load(ctx, "healthy ")
	br.AllHealthy = e.phaseFigures("all-healthy", sp)
	if err != nil {
		return fmt.Errorf("all-healthy phase: %w", err)
	}
	if err := e.endPhase(ctx, &br.AllHealthy); err != nil {
		return fmt.Errorf("all-healthy phase: %w", err)
	}

	progressf("phase 2 of 2: %d healthy endpoints; %d each %v\n", healthy, per, BadKinds)
	bad, err := startBadReceivers(healthy, per)
	if err != nil {
		return err
	}
	defer bad.close()
	if err := e.freshServers(ctx); err != nil {
		return err
	}
	e.bad = bad
	epURLs := make([]string, 0, c.Endpoints)
	for i := range healthy {
		epURLs = append(epURLs, e.rs.url(i))
	}
	epURLs = append(epURLs, bad.urlsInOrder()...)
	if _, _, err := e.register(ctx, epURLs); err != nil {
		return err
	}
	e.sink.perSecond.Store(NewHistogram())
	sp, err = e.load(ctx, "bad ")
	br.WithBad = e.phaseFigures("with-bad", sp)
	readErr := e.readBad(ctx, br, bad, sp)
	br.compare()
	if err != nil {
		err = fmt.Errorf("with-bad phase: %w", err)
	}
	return errors.Join(err, readErr, bad.close())
}

// phaseFigures returns the figures of the phase that ran over sp, as far
// as the load and the sink know them.
func (e *env) phaseFigures(name string, sp span) BadPhase {
	r, l, s := e.report, e.loader, e.sink
	return BadPhase{
		Name:    name,
		Seconds: sp.to.Sub(sp.from).Seconds(),
		Events: EventCounts{Sent: l.sent.Load(), Accepted: l.accepted.Load(), Rejected: l.rejected.Load(),
			SentPerSecond: r.Events.SentPerSecond, AcceptedPerSecond: r.Events.AcceptedPerSecond},
		Deliveries: DeliveryCounts{Expected: l.expected.Load(), Received: s.received.Load(),
			PerSecond: r.Deliveries.PerSecond, DrainSeconds: r.Deliveries.DrainSeconds, Drained: r.Deliveries.Drained},
		Announced:       l.announced.Load(),
		Unmeasured:      s.unmeasured.Load(),
		IngestLatency:   l.ingest.Summary(),
		EndToEndLatency: s.e2e.Summary(),
		SendLag:         l.lag.Summary(),
	}
}

// endPhase ends the all-healthy phase: it reads the server's figures into
// ph, adds the phase's delivery errors to the run's, and stops the servers.
func (e *env) endPhase(ctx context.Context, ph *BadPhase) error {
	e.prog.end()
	ph.Timeline = e.prog.timeline()
	ph.BenchCPUSeconds = (selfCPU() - e.benchCPU0).Seconds()
	st, err := e.api.stats(ctx, 0)
	if err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	ph.Stats = st
	ph.PeakRSS, ph.CPUSeconds = e.usage()
	e.errs.add("duplicate", e.sink.duplicates.Load())
	if d := ph.Deliveries.Expected - ph.Deliveries.Received; d > 0 {
		e.errs.add("undelivered", d)
	} else if d < 0 {
		e.errs.add("unexpected", -d)
	}
	if e.cfg.DatabaseURL != "" {
		// The phases share the database: the next one starts without this
		// one's endpoints.
		e.api.deleteEndpoints(ctx, e.eps, 16)
	}
	peak, err := e.stopServers()
	ph.PeakRSS = max(ph.PeakRSS, peak)
	return err
}

// readBad reads, at the end of the with-bad phase that ran over sp, what
// the bad receivers got and what the server says of every endpoint.
func (e *env) readBad(ctx context.Context, br *BadReceiversReport, bad *badReceivers, sp span) error {
	now := time.Now()
	requests := bad.requests()
	tl := e.prog.timeline()
	from, to := sampleAt(tl, sp.from), sampleAt(tl, sp.to)
	accepted := e.loader.accepted.Load()
	var errs []error
	if st, err := e.api.stats(ctx, 0); err != nil {
		errs = append(errs, fmt.Errorf("stats: %w", err))
	} else {
		br.WithBad.Stats = st
		br.Circuits, br.Disabled = st.EndpointsByCircuit, st.EndpointsDisabled
	}
	for i := range br.Healthy {
		s, err := e.api.endpointState(ctx, 0, e.eps[i].ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("endpoint %d: %w", i, err))
			break
		}
		if s.Health.Circuit != "" && s.Health.Circuit != "closed" || s.Disabled {
			br.HealthyNotClosed++
		}
	}
	for k, kind := range BadKinds {
		kr := BadKindReport{Kind: kind, Endpoints: br.PerKind, First: br.Healthy + k*br.PerKind,
			Due: accepted * int64(br.PerKind), Requests: requests[kind], Seconds: now.Sub(sp.start).Seconds(),
			RequestsMeasured: to.BadRequests[kind] - from.BadRequests[kind]}
		if n := float64(kr.Endpoints); n > 0 {
			kr.PerEndpoint = float64(kr.Requests) / n
			kr.PerEndpointPerSecond = kr.PerEndpoint / kr.Seconds
			if w := to.at.Sub(from.at).Seconds(); w > 0 {
				kr.MeasuredPerEndpointPerSecond = float64(kr.RequestsMeasured) / n / w
			}
		}
		for i := range kr.Endpoints {
			s, err := e.api.endpointState(ctx, 0, e.eps[kr.First+i].ID)
			if err != nil {
				errs = append(errs, fmt.Errorf("endpoint %d: %w", kr.First+i, err))
				break
			}
			kr.Attempts += s.Stats.Attempts
			kr.Failures += s.Stats.Failures
			kr.Pending += s.Stats.Pending
			kr.Failed += s.Stats.Failed
			switch s.Health.Circuit {
			case "open":
				kr.Circuits.Open++
			case "half_open":
				kr.Circuits.HalfOpen++
			default:
				kr.Circuits.Closed++
			}
			if s.Disabled {
				kr.Disabled++
			}
		}
		br.Kinds = append(br.Kinds, kr)
	}
	return errors.Join(errs...)
}

// sampleAt returns the sample of tl taken nearest to t.
func sampleAt(tl []Sample, t time.Time) Sample {
	var best Sample
	bestD := time.Duration(-1)
	for _, s := range tl {
		d := s.at.Sub(t).Abs()
		if bestD < 0 || d < bestD {
			best, bestD = s, d
		}
	}
	return best
}
