package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Phase is one phase of noisy-tenant or priority: a run of loads against a
// server of its own, started fresh for it.
type Phase struct {
	// Name names the phase, such as "A idle" or "backlog".
	Name string `json:"name"`
	// Seconds is the measured window, after the warm-up.
	Seconds float64 `json:"duration_s"`
	// Loads are the phase's loads, the measured one first.
	Loads []LoadFigures `json:"loads"`

	// PeakRSS is the peak resident memory of the phase's server(s), in
	// bytes; CPUSeconds their CPU time over the whole phase (load and
	// drain), and BenchCPUSeconds the bench's own.
	PeakRSS         int64   `json:"peak_rss_bytes"`
	CPUSeconds      float64 `json:"cpu_s"`
	BenchCPUSeconds float64 `json:"bench_cpu_s"`
	// WindowCores is the servers' CPU time over the measured window ÷ its
	// length: how many of the machine's cores they kept busy.
	// BenchWindowCores is the same for the bench (load generator and
	// receivers).
	// OtherWindowCores is what the rest of the machine's processes took
	// (the machine's busy time less the servers' and the bench's): other
	// work sharing the cores, the noise in the figures.
	WindowCores      float64 `json:"window_cores"`
	BenchWindowCores float64 `json:"bench_window_cores"`
	OtherWindowCores float64 `json:"other_window_cores"`
	// Stats is GET /v1/stats at the end of the phase.
	Stats    ServerStats `json:"stats"`
	Timeline []Sample    `json:"timeline"`
}

// load returns the figures of the load named name; the zero value if there
// is none.
func (p *Phase) load(name string) LoadFigures {
	for _, l := range p.Loads {
		if l.Name == name {
			return l
		}
	}
	return LoadFigures{}
}

// endLoadsPhase ends a phase of loads that ran over the window sp: it fills
// ph with the loads' and the servers' figures, and, unless it is the last
// phase, stops the servers (the last one's stay up for env.collect).
func (e *env) endLoadsPhase(ctx context.Context, ph *Phase, sp span, loads []*namedLoad, last bool) error {
	ph.Seconds = sp.to.Sub(sp.from).Seconds()
	for _, ld := range loads {
		ph.Loads = append(ph.Loads, e.figures(ld, sp))
	}
	e.prog.end()
	ph.Timeline = e.prog.timeline()
	from, to := sampleAt(ph.Timeline, sp.from), sampleAt(ph.Timeline, sp.to)
	if w := to.at.Sub(from.at).Seconds(); w > 0 {
		ph.WindowCores = (to.CPU - from.CPU) / w
		ph.BenchWindowCores = (to.BenchCPU - from.BenchCPU) / w
		ph.OtherWindowCores = max(0, (to.MachineCPU-from.MachineCPU)/w-ph.WindowCores-ph.BenchWindowCores)
	}
	ph.BenchCPUSeconds = (selfCPU() - e.benchCPU0).Seconds()
	ph.PeakRSS, ph.CPUSeconds = e.usage()
	st, err := e.api.stats(ctx, 0)
	if err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	ph.Stats = st
	if last {
		return nil
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

// ownFigures sets the run's own rates and drain, in a scenario of phases,
// from the measured load of the last phase, f, which ran over sp; drained
// says whether every load of the phase drained.
func (e *env) ownFigures(f LoadFigures, sp span, drained bool) {
	r := e.report
	r.Seconds = sp.to.Sub(sp.from).Seconds()
	r.Events.SentPerSecond, r.Events.AcceptedPerSecond = f.Events.SentPerSecond, f.Events.AcceptedPerSecond
	r.Deliveries.PerSecond, r.Deliveries.DrainSeconds = f.Deliveries.PerSecond, f.Deliveries.DrainSeconds
	r.Deliveries.Drained = drained
}

// usage returns the started servers' peak RSS so far and their CPU time
// since the phase began.
func (e *env) usage() (peakRSS int64, cpuSeconds float64) {
	for i, pid := range e.pids {
		if u, err := readProc(pid); err == nil {
			peakRSS += u.PeakRSS
			if i < len(e.cpuStart) {
				cpuSeconds += (u.CPU - e.cpuStart[i]).Seconds()
			}
		}
	}
	return peakRSS, cpuSeconds
}

// stopServers stops the started servers and returns the sum of their peak
// RSS, from their resource usage.
func (e *env) stopServers() (peakRSS int64, err error) {
	var errs []error
	for _, s := range e.servers {
		_, maxRSS, err := s.stop()
		errs = append(errs, err)
		peakRSS += maxRSS
	}
	e.servers, e.pids = nil, nil
	e.api.hc.CloseIdleConnections()
	return peakRSS, errors.Join(errs...)
}

// freshServers starts the next phase's servers, on fresh data dirs, with a
// new API client and sampler and no endpoints yet.
func (e *env) freshServers(ctx context.Context) error {
	urls, key, err := e.startServers(ctx)
	if err != nil {
		return err
	}
	if e.api, err = newAPIClient(urls, key, e.cfg.Clients+16); err != nil {
		return err
	}
	e.prog = newSampler(e.sample, e.cfg.Progress)
	e.eps, e.loads = nil, nil
	return nil
}

// waitDeadline returns the time left until deadline, at least a
// millisecond.
func waitDeadline(deadline time.Time) time.Duration {
	return max(time.Until(deadline), time.Millisecond)
}

// writeTimeline writes a phase's timeline: for each load, events sent,
// deliveries received, deliveries pending (LoadSample.pending) and
// the end-to-end p99 of the interval; then the cores the servers, the bench
// and the machine's other processes kept busy over the interval, errors and
// the servers' RSS.
func writeTimeline(p *printer, ph *Phase) {
	p.f("\n## Timeline: %s\n\n| t (s) |", ph.Name)
	for _, l := range ph.Loads {
		n := l.Name
		p.f(" %s sent | %s delivered | %s pending | %s e2e p99 (ms) |", n, n, n, n)
	}
	p.f(" server cores | bench cores | other cores | errors | RSS |\n|---|%s\n", strings.Repeat("---|", 4*len(ph.Loads)+5))
	var prev Sample
	for i, s := range ph.Timeline {
		p.f("| %.1f |", s.T)
		for _, l := range ph.Loads {
			x := s.Loads[l.Name]
			p.f(" %d | %d | %d | %.1f |", x.Sent, x.Delivered, x.pending(), x.P99)
		}
		cores, bench, other := coresSince(&prev, s, i == 0)
		p.f(" %s | %s | %s | %d | %s |\n", cores, bench, other, s.Errors, mib(s.RSS))
	}
}

// coresSince returns the cores the servers, the bench and the machine's
// other processes kept busy between *prev and s, formatted, and makes s
// the next *prev; empty when s is the first sample or less than half a
// second after *prev (CPU times tick in hundredths of a second: rates over
// marks a moment apart would be noise).
func coresSince(prev *Sample, s Sample, first bool) (cores, bench, other string) {
	dt := s.T - prev.T
	if first {
		*prev = s
		return "", "", ""
	}
	if dt < 0.5 {
		return "", "", ""
	}
	c, b := (s.CPU-prev.CPU)/dt, (s.BenchCPU-prev.BenchCPU)/dt
	o := max(0, (s.MachineCPU-prev.MachineCPU)/dt-c-b)
	*prev = s
	return fmt.Sprintf("%.2f", c), fmt.Sprintf("%.2f", b), fmt.Sprintf("%.2f", o)
}
