package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/client"
)

// The exit codes of the commands over the API, documented in cliUsage.
const (
	exitFailure     = 1 // the API refused the request, or another failure
	exitUsage       = 2 // a wrong command line: nothing was sent
	exitNotFound    = 3 // the API answered 404
	exitAuth        = 4 // no API key, or the API refused it (401, 403)
	exitUnavailable = 5 // the server could not be reached, or is busy (429, 503)
)

// exitError is an error with the exit code it ends the process with.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode returns the exit code of the error of a command.
func exitCode(err error) int {
	var e *exitError
	switch {
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.As(err, &e):
		return e.code
	}
	return exitFailure
}

const cliUsage = `Commands over the API (of hookline serve at --url, default http://127.0.0.1:8080):
  hookline endpoints list|create|get|update|delete|secret|rotate-secret|stats
  hookline events send|get|replay
  hookline deliveries list|get|attempts|retry
  hookline recover ENDPOINT [--since 2h]   every dead letter of an endpoint back to pending
  hookline keys create|list|delete          API keys of one tenant (operator key only)
  hookline stats                            the service's figures (a tenant key: its own)
  hookline listen [--secret S|--endpoint ID|--create]
                                            receive deliveries locally: verify, print, answer, --forward

Each takes --url (HOOKLINE_URL), --api-key (HOOKLINE_API_KEY; else the key saved in
--data-dir, ./hookline-data, beside a local server) and --json; --help lists the rest.
Exit codes: 0 done, 1 refused or failed, 2 wrong command line, 3 not found, 4 no or
wrong API key, 5 server unreachable or busy.
`

// apiCommand is a command over the API.
type apiCommand struct {
	args    string // the positional arguments, for the usage line: "ID"
	summary string
	min     int // positional arguments at least
	max     int // and at most; -1: any
	flags   func(fs *flag.FlagSet, x *inv)
	run     func(x *inv) error
	// local commands run on this machine for as long as they like, and
	// call x.connect themselves when they need the API.
	local bool
}

// apiGroups are the commands over the API, by group and name; a group of
// one command has it under "".
var apiGroups = map[string]map[string]*apiCommand{}

func register(group, name string, c *apiCommand) {
	if apiGroups[group] == nil {
		apiGroups[group] = map[string]*apiCommand{}
	}
	apiGroups[group][name] = c
}

// inv is one invocation of a command over the API.
type inv struct {
	ctx            context.Context
	name           string // "endpoints get"
	stdout, stderr io.Writer
	getenv         func(string) string
	args           []string // positional, after the flags

	url, key, dataDir string
	json              bool
	timeout           time.Duration
	keyFrom           string // where the key came from, for messages

	c *client.Client
}

// runAPICommand runs `hookline GROUP [NAME] …`.
func runAPICommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	group, rest := args[0], args[1:]
	cmds := apiGroups[group]
	name := group
	cmd := cmds[""]
	if cmd == nil {
		if len(rest) == 0 || rest[0] == "help" || rest[0] == "--help" || rest[0] == "-h" {
			w := stdout
			if len(rest) == 0 {
				w = stderr
			}
			groupUsage(w, group, cmds)
			if len(rest) == 0 {
				return errUsage
			}
			return nil
		}
		if cmd = cmds[rest[0]]; cmd == nil {
			fmt.Fprintf(stderr, "hookline %s: unknown command %q\n", group, rest[0])
			groupUsage(stderr, group, cmds)
			return errUsage
		}
		name, rest = group+" "+rest[0], rest[1:]
	}
	x := &inv{ctx: ctx, name: name, stdout: stdout, stderr: stderr, getenv: getenv}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&x.url, "url", cmpOr(getenv("HOOKLINE_URL"), "http://127.0.0.1:8080"), "base URL of the Hookline API (HOOKLINE_URL)")
	fs.StringVar(&x.key, "api-key", "", "API key: the operator's or a tenant's (HOOKLINE_API_KEY; default: the key saved in --data-dir)")
	fs.StringVar(&x.dataDir, "data-dir", cmpOr(getenv("HOOKLINE_DATA_DIR"), "./hookline-data"), "data dir of a local hookline serve, whose saved api-key is used when no key is given (HOOKLINE_DATA_DIR)")
	fs.BoolVar(&x.json, "json", false, "print the answer as JSON, for scripts")
	fs.DurationVar(&x.timeout, "timeout", 30*time.Second, "how long to wait for the server")
	if cmd.flags != nil {
		cmd.flags(fs, x)
	}
	pos, err := parseInterspersed(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		commandUsage(stdout, name, cmd, fs)
		return nil
	} else if err != nil {
		return usageError(stderr, name, err)
	}
	if len(pos) < cmd.min || (cmd.max >= 0 && len(pos) > cmd.max) {
		want := cmd.args
		if want == "" {
			want = "no arguments"
		}
		return usageError(stderr, name, fmt.Errorf("want %s, not %q", want, strings.Join(pos, " ")))
	}
	x.args = pos
	if cmd.local {
		return cmd.run(x)
	}
	if err := x.connect(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	x.ctx = ctx
	return x.explain(cmd.run(x))
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// parseInterspersed parses flags anywhere among the positional arguments
// (`endpoints get ep_… --json`), up to a "--".
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" { // flag stops at "--" and drops it; keep what follows
			return append(pos, args[1:]...), nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// usageError prints a wrong command line's error once, with where to read
// more, and returns errUsage.
func usageError(stderr io.Writer, name string, err error) error {
	fmt.Fprintf(stderr, "hookline %s: %s\nRun 'hookline %s --help' for usage.\n", name, flagMessage(err), name)
	return errUsage
}

// flagMessage rewrites package flag's messages with the double-dash names
// the help shows.
func flagMessage(err error) string {
	return strings.NewReplacer(": -", ": --", "flag -", "flag --", "for -", "for --", "---", "--").Replace(err.Error())
}

// groupUsage lists the commands of a group.
func groupUsage(w io.Writer, group string, cmds map[string]*apiCommand) {
	fmt.Fprintf(w, "Usage: hookline %s COMMAND [flags]\n\nCommands:\n", group)
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, n := range names {
		fmt.Fprintf(tw, "  %s %s\t%s\n", n, cmds[n].args, cmds[n].summary)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nRun 'hookline %s COMMAND --help' for its flags.\n", group)
}

// commandUsage prints the help of one command, flags with two dashes.
func commandUsage(w io.Writer, name string, cmd *apiCommand, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: hookline %s %s [flags]\n\n%s\n\nFlags:\n", name, cmd.args, cmd.summary)
	printFlags(w, fs)
}

// printFlags lists the flags of fs as --name VALUE with their help.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if kind != "" {
			line += " " + kind
		}
		def := f.DefValue
		if def != "" && def != "false" && def != "0" && def != "0s" {
			usage += " (default " + def + ")"
		}
		fmt.Fprintf(w, "%s\n      %s\n", line, usage)
	})
}

// connect makes the client: the key from --api-key, HOOKLINE_API_KEY, or
// the data dir of a local server.
func (x *inv) connect() error {
	switch {
	case x.key != "":
		x.keyFrom = "--api-key"
	case x.getenv("HOOKLINE_API_KEY") != "":
		x.key, x.keyFrom = x.getenv("HOOKLINE_API_KEY"), "HOOKLINE_API_KEY"
	default:
		path := filepath.Join(x.dataDir, "api-key")
		key, err := readKeyFile(path)
		if err != nil || key == "" {
			return &exitError{exitAuth, fmt.Errorf("no API key: pass --api-key or set HOOKLINE_API_KEY (the operator key, or a tenant's from 'hookline keys create'); "+
				"beside a local 'hookline serve', the key it generated is read from %s (--data-dir)", path)}
		}
		x.key, x.keyFrom = key, path
	}
	c, err := client.New(x.url, x.key, client.WithUserAgent("hookline-cli/"+hookline.Version))
	if err != nil {
		return &exitError{exitUsage, fmt.Errorf("--url: %w", err)}
	}
	x.c = c
	return nil
}

// explain turns the error of a command into one that says what to do, with
// its exit code.
func (x *inv) explain(err error) error {
	if err == nil {
		return nil
	}
	var (
		ae *client.Error
		oe *net.OpError
		ee *exitError
	)
	switch {
	case errors.As(err, &ee):
		return err
	case errors.As(err, &ae):
		msg := fmt.Sprintf("%s (%d %s)", ae.Message, ae.StatusCode, ae.Code)
		switch ae.StatusCode {
		case 401:
			return &exitError{exitAuth, fmt.Errorf("%s\nThe API key from %s was refused by %s: pass the operator key with --api-key or HOOKLINE_API_KEY "+
				"(hookline serve saves a generated one in <data-dir>/api-key), or a tenant's key from 'hookline keys create'", msg, x.keyFrom, x.url)}
		case 403:
			return &exitError{exitAuth, errors.New(msg)}
		case 404:
			if hint := notFoundHints[strings.Fields(x.name)[0]]; hint != "" {
				msg += "\n" + hint
			}
			return &exitError{exitNotFound, errors.New(msg)}
		case 429, 502, 503, 504:
			if ae.RetryAfter > 0 {
				msg += fmt.Sprintf(" (retry after %s)", ae.RetryAfter)
			}
			return &exitError{exitUnavailable, errors.New(msg)}
		}
		return &exitError{exitFailure, errors.New(msg)}
	case errors.Is(err, context.DeadlineExceeded):
		return &exitError{exitUnavailable, fmt.Errorf("no answer from %s within %s (--timeout)", x.url, x.timeout)}
	case errors.Is(err, syscall.ECONNREFUSED), errors.As(err, &oe):
		return &exitError{exitUnavailable, fmt.Errorf("cannot reach Hookline at %s: %v\nIs 'hookline serve' running there? Point --url (or HOOKLINE_URL) at it", x.url, unwrapURL(err))}
	}
	return err
}

// notFoundHints say where to find the IDs a group of commands takes.
var notFoundHints = map[string]string{
	"endpoints":  "List the endpoints with: hookline endpoints list",
	"recover":    "List the endpoints with: hookline endpoints list",
	"deliveries": "List the deliveries with: hookline deliveries list",
	"events":     "Find events by their deliveries: hookline deliveries list",
	"keys":       "List the keys with: hookline keys list",
}

// unwrapURL returns the cause of a *url.Error, which repeats the URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// print writes v as indented JSON with --json, else calls human.
func (x *inv) print(v any, human func(w io.Writer)) error {
	if x.json {
		enc := json.NewEncoder(x.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	}
	human(x.stdout)
	return nil
}

// table writes rows under a header, aligned.
func table(w io.Writer, header []string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

// fields writes name: value lines, aligned, skipping empty values.
func fields(w io.Writer, kv ...string) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", kv[i], kv[i+1])
		}
	}
	tw.Flush()
}

// when formats a time for people: UTC to the second; "" for none.
func when(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// or returns s, or dash when s is empty, for table cells.
func or(s, dash string) string {
	if s == "" {
		return dash
	}
	return s
}

// short clips s to n runes for a table cell, on one line.
func short(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// limitFlag registers --limit: how many items a list shows at most.
func limitFlag(fs *flag.FlagSet, p *int) {
	fs.IntVar(p, "limit", 50, "show at most this many, newest first (0: all, page after page)")
}

// take collects up to limit items of seq (every one when limit is 0).
func take[T any](seq func(func(T, error) bool), limit int) ([]T, error) {
	var out []T
	var failed error
	seq(func(v T, err error) bool {
		if err != nil {
			failed = err
			return false
		}
		out = append(out, v)
		return limit == 0 || len(out) < limit
	})
	if out == nil {
		out = []T{}
	}
	return out, failed
}

// pageSize is the page to ask for when at most limit items are shown.
func pageSize(limit int) int {
	if limit <= 0 || limit > hookline.MaxLimit {
		return hookline.MaxLimit
	}
	return limit
}

// readData reads JSON given on the command line: as it is, @FILE for a
// file's contents, or - for stdin.
func readData(v string, stdin io.Reader) (json.RawMessage, error) {
	var b []byte
	var err error
	switch {
	case v == "-":
		b, err = io.ReadAll(stdin)
	case strings.HasPrefix(v, "@"):
		b, err = os.ReadFile(v[1:])
	default:
		b = []byte(v)
	}
	if err != nil {
		return nil, err
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("not JSON (quote it for the shell: '{\"amount\":4200}'; @FILE reads a file, - standard input)")
	}
	return b, nil
}
