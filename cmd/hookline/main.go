// Command hookline is the Hookline webhook delivery service: `hookline serve`
// runs it; see `hookline help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/hookline/hookline"
)

const usage = `Hookline delivers webhooks: signed, retried, durable.

Usage:
  hookline serve [flags]     run the API and the delivery engine (--help for flags)
  hookline migrate [flags]   apply the PostgreSQL schema migrations and exit
  hookline bench [flags]     measure throughput and latency (--help for scenarios)
  hookline version           print the version
  hookline help              print this help

` + cliUsage

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	if err != nil && !errors.Is(err, errUsage) {
		fmt.Fprintln(os.Stderr, "hookline:", err)
	}
	if err != nil {
		os.Exit(exitCode(err))
	}
}

// errUsage reports a command line that was wrong; what was wrong was
// printed. It exits 2.
var errUsage = errors.New("usage")

// run dispatches a subcommand. It is main without the process, for tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "serve":
		m := NewMain()
		m.Stdout, m.Stderr = stdout, stderr
		if err := m.Config.parse("serve", args[1:], getenv); err != nil {
			return flagError("serve", err, stdout, stderr, m.Config.usage)
		}
		if err := m.Run(ctx); err != nil {
			return err
		}
		<-ctx.Done()
		return m.Close()
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], stdout, stderr, getenv)
	case "endpoints", "events", "deliveries", "recover", "keys", "stats", "listen":
		return runAPICommand(ctx, args, stdout, stderr, getenv)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "hookline", hookline.Version)
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "hookline: unknown command %q\n\n%s", args[0], usage)
		return errUsage
	}
}

// flagError handles an error of parsing the flags of a command: --help
// prints its usage to stdout; anything else is printed once, with where to
// read the usage.
func flagError(name string, err error, stdout, stderr io.Writer, usage func(w io.Writer, name string)) error {
	if errors.Is(err, flagErrHelp) {
		usage(stdout, name)
		return nil
	}
	return usageError(stderr, name, err)
}
