package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline/bench"
)

const benchUsage = `Usage:
  hookline bench [flags]                      run a scenario and print a report
  hookline bench receive --addr HOST:PORT     run counting receivers for other load tools (k6)

hookline bench starts hookline serve as a child process of this binary on a temp data dir (or
loads --target), starts loopback receivers, registers endpoints, drives load, waits for every
delivery, measures the raw net/http ceiling of the same receivers, and prints a report.
Latency counts from the time each request was due (open model, no coordinated omission).

Scenarios (--scenario):
`

// runBench is `hookline bench`.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "receive" {
		return runReceive(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c bench.Config
	var (
		rate, latency, target string
		noisyFactor           string
		warmup, ceilingDur    time.Duration
		quiet                 bool
	)
	fs.StringVar(&c.Scenario, "scenario", "throughput", "workload: throughput, fanout-100, wide-fanout, ingest, backlog, bad-receivers, noisy-tenant or priority (see above)")
	fs.StringVar(&c.Binary, "binary", "", "hookline binary to start as the server (default: this executable)")
	fs.StringVar(&target, "target", "", "base URL(s), comma-separated, of running servers to load instead of starting one; the endpoints the bench creates there are deleted at the end")
	fs.StringVar(&c.APIKey, "api-key", "", "API key of the --target servers")
	fs.IntVar(&c.TargetPID, "target-pid", 0, "process ID of the --target server, to measure its RSS and CPU")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "postgres://… for the started servers (default: SQLite)")
	fs.IntVar(&c.Nodes, "nodes", 1, "servers to start against --database-url; load is spread round-robin")
	fs.Func("server-arg", "extra flag for the started servers, e.g. --server-arg=--workers=128 (repeatable)", func(v string) error {
		c.ServerArgs = append(c.ServerArgs, v)
		return nil
	})
	fs.StringVar(&c.RetrySchedule, "retry-schedule", "", "--retry-schedule of the started servers (default 0s,100ms,200ms,500ms,1s×6; backlog: 0s)")
	fs.DurationVar(&c.DeliveryTimeout, "delivery-timeout", 0, "--delivery-timeout of the started servers (default: the server's; 2s with --receiver-timeout-ratio; bad-receivers 5s)")
	fs.StringVar(&rate, "rate", "", "events per second (open model), or max: --clients senders back to back (default max; bad-receivers 40; noisy-tenant: tenant B's, 20; priority: the priority-9 events', 20)")
	fs.StringVar(&noisyFactor, "noisy-factor", "", "noisy-tenant: tenant A's rate as a multiple of B's, or max: --clients senders back to back, a flood (default 20)")
	fs.IntVar(&c.Clients, "clients", 0, "requests in flight at most (default 64; ingest 8, backlog 4, priority 16)")
	fs.DurationVar(&c.Duration, "duration", 0, "measured window (default 10s; bad-receivers, noisy-tenant and priority 20s)")
	fs.DurationVar(&warmup, "warmup", 2*time.Second, "load before the measured window, excluded from results")
	fs.IntVar(&c.Batch, "batch", 0, "events per request; >1 uses POST /v1/events/batch (default 1; ingest 500, backlog 1000; noisy-tenant: tenant A's requests; priority: the backlog's, 1000)")
	fs.IntVar(&c.Endpoints, "endpoints", 0, "endpoints, all subscribed to the run's event type (default: the scenario's)")
	fs.IntVar(&c.PayloadSize, "payload-size", 256, "bytes of data per event")
	fs.IntVar(&c.Receivers, "receivers", 4, "receiver servers the endpoints are spread over")
	fs.BoolVar(&c.Behavior.Verify, "verify", false, "receivers verify every signature (Standard Webhooks) and webhook-id")
	fs.StringVar(&latency, "receiver-latency", "", "receiver answer latency: 5ms, or 5ms±2ms (also 5ms+-2ms) for uniform jitter (default none; priority 20ms)")
	fs.Float64Var(&c.Behavior.FailRatio, "receiver-fail-ratio", 0, "share of deliveries the receivers answer 500")
	fs.Float64Var(&c.Behavior.TimeoutRatio, "receiver-timeout-ratio", 0, "share of deliveries the receivers leave unanswered past the server's delivery timeout")
	fs.IntVar(&c.CeilingClients, "ceiling-clients", 64, "concurrency of the raw net/http ceiling (the server's workers)")
	fs.DurationVar(&ceilingDur, "ceiling-duration", 3*time.Second, "how long the ceiling is measured; 0 skips it")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", 0, "wait for the last deliveries after load stops (default 2m; backlog 10m; noisy-tenant and priority 5m)")
	fs.IntVar(&c.Repeat, "repeat", 3, "wide-fanout: events sent one after another")
	fs.IntVar(&c.BacklogSize, "backlog-size", 0, "backlog: deliveries queued while the receivers are down (default 1000000); priority: priority-1 deliveries queued (default 200000)")
	fs.StringVar(&c.BacklogDown, "backlog-down", "closed", "backlog: receivers down as closed (not listening) or 503")
	fs.BoolVar(&c.JSON, "json", false, "print the report as JSON")
	fs.StringVar(&c.Markdown, "markdown", "", "also write a Markdown report (machine, commit, date, flags, results) to this file")
	fs.BoolVar(&quiet, "quiet", false, "no progress line on stderr")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), benchUsage, bench.ScenarioHelp(), "\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hookline bench: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}

	var err error
	switch rate {
	case "": // the scenario's
	case "max":
		c.Rate = -1
	default:
		if c.Rate, err = strconv.ParseFloat(rate, 64); err != nil || c.Rate <= 0 {
			return fmt.Errorf("--rate: want a positive number of events per second or max")
		}
	}
	switch noisyFactor {
	case "": // 20
	case "max":
		c.NoisyFactor = -1
	default:
		if c.NoisyFactor, err = strconv.ParseFloat(noisyFactor, 64); err != nil || c.NoisyFactor <= 0 {
			return fmt.Errorf("--noisy-factor: want a positive multiple of --rate or max")
		}
	}
	if latency != "" {
		if c.Behavior.Latency, c.Behavior.Jitter, err = bench.ParseLatency(latency); err != nil {
			return fmt.Errorf("--receiver-latency: %w", err)
		}
		if c.Behavior.Latency == 0 {
			c.Behavior.Latency = -1 // none, whatever the scenario's
		}
	}
	c.Warmup = warmup
	if warmup == 0 {
		c.Warmup = -1 // none
	}
	c.CeilingDuration = ceilingDur
	if ceilingDur == 0 {
		c.CeilingDuration = -1 // skipped
	}
	if target != "" {
		c.Target = strings.Split(target, ",")
		if c.Nodes == 1 {
			c.Nodes = 0
		}
	} else if c.Binary == "" {
		if c.Binary, err = os.Executable(); err != nil {
			return fmt.Errorf("find this executable: %w", err)
		}
	}
	if !quiet {
		c.Progress = stderr
	}
	c.CommandLine = append([]string{"hookline", "bench"}, args...)
	rep, err := bench.Run(ctx, c, stdout)
	if err != nil {
		return err
	}
	if n := rep.ErrorCount(); n > 0 {
		return fmt.Errorf("bench: %d errors", n)
	}
	return nil
}

// runReceive is `hookline bench receive`.
func runReceive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench receive", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c bench.ReceiveConfig
	var latency string
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:9100", "address to listen on")
	fs.StringVar(&latency, "receiver-latency", "0s", "answer latency: 5ms, or 5ms±2ms for uniform jitter")
	fs.Float64Var(&c.Behavior.FailRatio, "receiver-fail-ratio", 0, "share of deliveries answered 500")
	fs.Float64Var(&c.Behavior.TimeoutRatio, "receiver-timeout-ratio", 0, "share of deliveries left unanswered until the sender gives up")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: hookline bench receive [flags]

Runs a receiver that answers 200 to every POST on any path (endpoints may use /r/0, /r/1, …)
and prints the deliveries received each second, with their end-to-end latency when the event
data holds "sent_ns" (Unix nanoseconds). For load tools other than hookline bench, such as
loadtest/fanout-100.js. Stops on Ctrl-C or SIGTERM.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	var err error
	if c.Behavior.Latency, c.Behavior.Jitter, err = bench.ParseLatency(latency); err != nil {
		return fmt.Errorf("--receiver-latency: %w", err)
	}
	return bench.Receive(ctx, c, stdout)
}
