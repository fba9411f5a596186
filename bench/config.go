// Package bench is `hookline bench`: it starts Hookline as a child process
// (or targets running servers), starts loopback receivers, registers
// endpoints, drives load, waits for every delivery, measures the raw
// net/http ceiling of the same receivers, and reports.
//
// The load is an open model: with a Rate, each request is due at a fixed
// time and latency counts from that time, so a slow server or a load
// generator that falls behind shows up as latency instead of hiding it
// (no coordinated omission). With no Rate, Clients send back to back.
//
// End-to-end latency is measured at the receivers from the time each event
// was scheduled to be sent, which the bench writes into the event data
// ("sent_ns") and reads back with bytes.Index.
package bench

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is what Run needs. A zero field takes its default, which may
// depend on the scenario (see Scenarios).
type Config struct {
	// Scenario names the workload; see Scenarios. Empty means "throughput".
	Scenario string

	// Binary is the hookline executable started as the server with
	// `serve`. Required unless Target is set.
	Binary string
	// Target lists the base URLs of running servers to load instead of
	// starting any; APIKey is then required. Their RSS is not measured
	// unless TargetPID is set. The endpoints the bench registers there are
	// deleted when it ends.
	Target []string
	// APIKey is the API key of the Target servers.
	APIKey string
	// TargetPID is the process ID of the (single) Target server, for its
	// peak RSS and CPU time; 0 means not measured.
	TargetPID int
	// DatabaseURL, when set, makes the started servers use PostgreSQL.
	DatabaseURL string
	// Nodes is how many servers to start; more than one needs DatabaseURL.
	// Load is spread across them round-robin. Zero means 1.
	Nodes int
	// ServerArgs are extra flags for the started servers, after the bench's
	// own (so they win).
	ServerArgs []string
	// RetrySchedule is passed to started servers as --retry-schedule.
	// Empty means the scenario's: 0s,100ms,200ms,500ms,1s×6 (failed
	// deliveries retry within the drain), or 0s for backlog.
	RetrySchedule string
	// DeliveryTimeout is passed to started servers as --delivery-timeout.
	// Zero means the scenario's (5s for bad-receivers), else the server's
	// default, or 2s when TimeoutRatio is set.
	DeliveryTimeout time.Duration

	// Rate is the arrival rate in events per second (open model). Zero
	// means the scenario's: as fast as possible, or 40 for bad-receivers,
	// or 20 for noisy-tenant (tenant B's rate) and priority (the
	// priority-9 events'). Negative means as fast as possible: Clients
	// send back to back (closed loop).
	Rate float64
	// NoisyFactor is noisy-tenant's tenant A's rate as a multiple of Rate,
	// in its noisy phase. Zero means 20; negative means as fast as
	// possible: Clients senders back to back (closed loop), a flood.
	NoisyFactor float64
	// Clients is how many requests may be in flight at once. Zero: 64, or
	// 8 for ingest and 4 for backlog.
	Clients int
	// Duration is how long load is measured, after Warmup. Zero: 10s, or
	// 20s for bad-receivers.
	Duration time.Duration
	// Warmup is how long load runs before measuring. Zero: 2s; negative:
	// none.
	Warmup time.Duration
	// Batch sends events in batches of this size with POST
	// /v1/events/batch; 1 sends them one by one with POST /v1/events.
	// Zero: 1, or 500 for ingest and 1000 for backlog.
	Batch int
	// Endpoints is how many endpoints to register, all subscribed to the
	// run's event type. Zero: the scenario's.
	Endpoints int
	// PayloadSize is the size of each event's data in bytes. Zero: 256.
	PayloadSize int

	// Receivers is how many receiver servers share the endpoints. Zero: 4.
	Receivers int
	// Behavior is how the receivers answer. A zero Latency means the
	// scenario's (20ms for priority, else none); a negative one, none.
	Behavior Behavior

	// CeilingClients is the concurrency of the raw net/http ceiling. Zero:
	// 64, the server's default number of workers.
	CeilingClients int
	// CeilingDuration is how long the ceiling is measured. Zero: 3s;
	// negative: no ceiling. bad-receivers measures none.
	CeilingDuration time.Duration

	// DrainTimeout bounds the wait for the last deliveries after load stops.
	// Zero: 2m, or 10m for backlog.
	DrainTimeout time.Duration
	// Repeat is how many events wide-fanout sends, one after another. Zero: 3.
	Repeat int
	// BacklogSize is how many deliveries backlog queues up (of priority 1,
	// for priority). Zero: 1,000,000, or 200,000 for priority.
	BacklogSize int
	// BacklogDown is how receivers are down in backlog: "closed" (not
	// listening: connection refused) or "503". Empty means "closed".
	BacklogDown string

	// JSON makes Run print the Report as JSON instead of text.
	JSON bool
	// Markdown, when set, is a file Run writes a Markdown report to.
	Markdown string
	// CommandLine is recorded in the report, e.g. os.Args.
	CommandLine []string
	// Progress receives a progress line once a second; nil means none.
	Progress io.Writer
}

// defaultRetrySchedule lets deliveries failed by the receiver behaviours
// retry within the drain.
const defaultRetrySchedule = "0s,100ms,200ms,500ms,1s,1s,1s,1s,1s,1s"

// resolve returns c with its defaults filled in for scenario s, or an error
// for invalid settings.
func (c Config) resolve(s *Scenario) (Config, error) {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	defd := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	c.Scenario = s.Name
	def(&c.Nodes, 1)
	def(&c.Clients, s.Clients)
	def(&c.Batch, s.Batch)
	def(&c.Endpoints, s.Endpoints)
	def(&c.PayloadSize, 256)
	def(&c.Receivers, 4)
	def(&c.CeilingClients, 64)
	def(&c.Repeat, 3)
	def(&c.BacklogSize, cmp.Or(s.BacklogSize, 1_000_000))
	defd(&c.Duration, cmp.Or(s.Duration, 10*time.Second))
	defd(&c.Warmup, 2*time.Second)
	defd(&c.CeilingDuration, 3*time.Second)
	defd(&c.DrainTimeout, s.DrainTimeout)
	if c.Warmup < 0 {
		c.Warmup = 0
	}
	if c.RetrySchedule == "" {
		c.RetrySchedule = s.RetrySchedule
	}
	switch {
	case c.Rate == 0:
		c.Rate = s.Rate
	case c.Rate < 0:
		c.Rate = 0 // as fast as possible
	}
	if s.NoCeiling {
		c.CeilingDuration = -1
	}
	defd(&c.DeliveryTimeout, s.DeliveryTimeout)
	if c.DeliveryTimeout == 0 && c.Behavior.TimeoutRatio > 0 {
		c.DeliveryTimeout = 2 * time.Second
	}
	if c.BacklogDown == "" {
		c.BacklogDown = "closed"
	}
	if c.NoisyFactor == 0 {
		c.NoisyFactor = defaultNoisyFactor
	}
	switch {
	case c.Behavior.Latency == 0:
		c.Behavior.Latency = s.ReceiverLatency
	case c.Behavior.Latency < 0:
		c.Behavior.Latency = 0
	}

	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if len(c.Target) == 0 && c.Binary == "" {
		bad("a binary to start, or --target")
	}
	if len(c.Target) > 0 {
		if c.APIKey == "" {
			bad("--target needs --api-key")
		}
		if c.DatabaseURL != "" || c.Nodes > 1 && c.Nodes != len(c.Target) {
			bad("--target runs against the given servers: --database-url and --nodes do not apply")
		}
		c.Nodes = len(c.Target)
		for i, t := range c.Target {
			c.Target[i] = strings.TrimRight(t, "/")
		}
	}
	if c.Nodes > 1 && c.DatabaseURL == "" && len(c.Target) == 0 {
		bad("--nodes %d needs --database-url: SQLite serves one node", c.Nodes)
	}
	if s.Name == "bad-receivers" {
		if len(c.Target) > 0 {
			bad("bad-receivers starts a fresh server for each phase: --target does not apply")
		}
		if c.Rate == 0 {
			bad("bad-receivers needs an open-model --rate: it compares latency at a fixed load")
		}
		if c.Endpoints < 10 {
			bad("bad-receivers needs at least 10 endpoints: a tenth of them per bad kind")
		}
	}
	if s.Name == "noisy-tenant" || s.Name == "priority" {
		if len(c.Target) > 0 {
			bad("%s starts a fresh server for each phase: --target does not apply", s.Name)
		}
		if c.Rate == 0 {
			bad("%s needs an open-model --rate: it compares latency at a fixed load", s.Name)
		}
	}
	if c.Batch < 1 || c.Batch > 1000 {
		bad("--batch must be 1 to 1000")
	}
	if c.Clients < 1 || c.Endpoints < 1 || c.Receivers < 1 || c.CeilingClients < 1 || c.Repeat < 1 || c.BacklogSize < 1 {
		bad("counts must be positive")
	}
	if c.PayloadSize < 64 {
		bad("--payload-size must be at least 64 bytes")
	}
	b := c.Behavior
	if b.FailRatio < 0 || b.TimeoutRatio < 0 || b.FailRatio+b.TimeoutRatio > 1 {
		bad("--receiver-fail-ratio and --receiver-timeout-ratio must be in [0, 1] and add up to at most 1")
	}
	if b.Latency < 0 || b.Jitter < 0 || b.Jitter > b.Latency {
		bad("--receiver-latency: the jitter must not exceed the latency")
	}
	if c.BacklogDown != "closed" && c.BacklogDown != "503" {
		bad("--backlog-down must be closed or 503")
	}
	return c, errors.Join(errs...)
}

// settings returns the resolved settings a report records, by flag name.
func (c Config) settings() map[string]string {
	b := c.Behavior
	m := map[string]string{
		"payload-size":     strconv.Itoa(c.PayloadSize),
		"receivers":        strconv.Itoa(c.Receivers),
		"verify":           strconv.FormatBool(b.Verify),
		"receiver-latency": b.Latency.String(),
		"drain-timeout":    c.DrainTimeout.String(),
	}
	if b.Jitter > 0 {
		m["receiver-latency"] += "±" + b.Jitter.String()
	}
	if b.FailRatio > 0 || b.TimeoutRatio > 0 {
		m["receiver-fail-ratio"] = strconv.FormatFloat(b.FailRatio, 'g', -1, 64)
		m["receiver-timeout-ratio"] = strconv.FormatFloat(b.TimeoutRatio, 'g', -1, 64)
	}
	if c.CeilingDuration > 0 {
		m["ceiling-clients"] = strconv.Itoa(c.CeilingClients)
		m["ceiling-duration"] = c.CeilingDuration.String()
	}
	if len(c.Target) == 0 {
		m["retry-schedule"] = c.RetrySchedule
		if c.DeliveryTimeout > 0 {
			m["delivery-timeout"] = c.DeliveryTimeout.String()
		}
		if len(c.ServerArgs) > 0 {
			m["server-arg"] = strings.Join(c.ServerArgs, " ")
		}
		if c.DatabaseURL != "" {
			m["database-url"] = c.DatabaseURL
			if u, err := url.Parse(c.DatabaseURL); err == nil {
				m["database-url"] = u.Redacted()
			}
		}
	} else {
		m["target"] = strings.Join(c.Target, ",")
	}
	switch c.Scenario {
	case "wide-fanout":
		m["repeat"] = strconv.Itoa(c.Repeat)
	case "backlog":
		m["backlog-size"] = strconv.Itoa(c.BacklogSize)
		m["backlog-down"] = c.BacklogDown
	case "noisy-tenant":
		m["noisy-factor"] = "max (closed loop)"
		if c.NoisyFactor > 0 {
			m["noisy-factor"] = strconv.FormatFloat(c.NoisyFactor, 'g', -1, 64)
		}
	case "priority":
		m["backlog-size"] = strconv.Itoa(c.BacklogSize)
	case "bad-receivers":
		n := c.Endpoints / 10
		m["bad-endpoints"] = fmt.Sprintf("%d healthy (measured); %d each hang, slow (200 after %s), refuse, 500",
			c.Endpoints-4*n, n, slowAnswer)
	}
	return m
}

// redactArgs returns args with the passwords of URLs (such as
// --database-url postgres://user:password@host/db) replaced by "xxxxx".
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		prefix, raw := "", a
		if k, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(k, "-") {
			prefix, raw = k+"=", v
		}
		if strings.Contains(raw, "://") {
			if u, err := url.Parse(raw); err == nil && u.User != nil {
				out[i] = prefix + u.Redacted()
			}
		}
	}
	return out
}

// ParseLatency parses a receiver latency: a duration such as "5ms", or a
// duration and a jitter, "5ms±2ms" (or "5ms+-2ms"), for a latency uniform
// in [3ms, 7ms].
func ParseLatency(s string) (latency, jitter time.Duration, err error) {
	base, j, ok := strings.Cut(s, "±")
	if !ok {
		base, j, ok = strings.Cut(s, "+-")
	}
	if latency, err = time.ParseDuration(strings.TrimSpace(base)); err != nil {
		return 0, 0, fmt.Errorf("latency %q: %w", s, err)
	}
	if ok {
		if jitter, err = time.ParseDuration(strings.TrimSpace(j)); err != nil {
			return 0, 0, fmt.Errorf("latency %q: jitter: %w", s, err)
		}
	}
	if latency < 0 || jitter < 0 || jitter > latency {
		return 0, 0, fmt.Errorf("latency %q: want d or d±j with 0 ≤ j ≤ d", s)
	}
	return latency, jitter, nil
}
