package main_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/api"
	"github.com/hookline/hookline/internal/openapitest"
)

// cliResult is what one run of the CLI printed and how it exited.
type cliResult struct {
	stdout, stderr string
	code           int
}

// cleanEnv is the environment without HOOKLINE_ variables, plus env.
func cleanEnv(env ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HOOKLINE_") {
			out = append(out, kv)
		}
	}
	return append(out, env...)
}

// runHookline runs the binary with args in dir, with env on a clean
// environment, and waits for it.
func runHookline(t *testing.T, dir string, env []string, args ...string) cliResult {
	t.Helper()
	return runHooklineIn(t, dir, env, "", args...)
}

// runHooklineIn is runHookline with stdin as the standard input.
func runHooklineIn(t *testing.T, dir string, env []string, stdin string, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir, cmd.Env, cmd.Stdin = dir, cleanEnv(env...), strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("hookline %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// cliEnv runs the CLI against one server, through a proxy that checks
// every request and answer against the OpenAPI document.
type cliEnv struct {
	t   *testing.T
	dir string
	env []string
	v   *openapitest.Validator
}

func newCLIEnv(t *testing.T, p *proc) *cliEnv {
	v := openapitest.New(t, api.OpenAPI(), p.url)
	front := v.Proxy(p.url)
	return &cliEnv{t: t, dir: t.TempDir(), env: []string{"HOOKLINE_URL=" + front.URL, "HOOKLINE_API_KEY=" + p.key}, v: v}
}

// run runs a command that must succeed, and returns its standard output.
func (c *cliEnv) run(args ...string) string {
	c.t.Helper()
	r := runHookline(c.t, c.dir, c.env, args...)
	if r.code != 0 || r.stderr != "" {
		c.t.Fatalf("hookline %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// json runs a command with --json that must succeed and decodes its output.
func (c *cliEnv) json(out any, args ...string) {
	c.t.Helper()
	s := c.run(append(args, "--json")...)
	if err := json.Unmarshal([]byte(s), out); err != nil {
		c.t.Fatalf("hookline %s --json: %v\n%s", strings.Join(args, " "), err, s)
	}
}

// fail runs a command that must fail with code, and returns its stderr.
func (c *cliEnv) fail(code int, args ...string) string {
	c.t.Helper()
	r := runHookline(c.t, c.dir, c.env, args...)
	if r.code != code || r.stdout != "" {
		c.t.Fatalf("hookline %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	return r.stderr
}

// has fails the test unless s holds every one of want.
func has(t *testing.T, what, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Fatalf("%s: no %q in\n%s", what, w, s)
		}
	}
}

type cliEndpoint struct {
	ID              string   `json:"id"`
	URL             string   `json:"url"`
	Description     string   `json:"description"`
	EventTypes      []string `json:"event_types"`
	RateLimit       float64  `json:"rate_limit"`
	Disabled        bool     `json:"disabled"`
	SignatureScheme string   `json:"signature_scheme"`
	Secret          string   `json:"secret"`
	Health          struct {
		Circuit string `json:"circuit"`
	} `json:"health"`
}

// TestCLI runs every command over the API with the real binary against a
// real server: --json parsed, the human output checked for its facts, and
// every exchange checked against the OpenAPI document.
func TestCLI(t *testing.T) {
	p := serve(t, nil, "--data-dir", t.TempDir(), "--allow-private-networks", "--retry-schedule", "0s,20ms")
	c := newCLIEnv(t, p)
	good, bad := newSink(t), newSink(t)
	bad.setStatus(500)

	// endpoints create, list, get, update, secret, rotate-secret, stats.
	out := c.run("endpoints", "create", good.URL+"/hook", "--event-types", "order.*,invoice.paid", "--description", "orders", "--filter", `{"data":{"n":{"$gte":1}}}`)
	has(t, "endpoints create", out, "Created endpoint ep_", "URL:", good.URL+"/hook", "order.*, invoice.paid", "Secret:", "whsec_", `Filter:`, `{"data":{"n":{"$gte":1}}}`)
	var ep cliEndpoint
	c.json(&ep, "endpoints", "create", "--endpoint-url", bad.URL, "--event-types", "invoice.failed", "--scheme", "v1a")
	if !strings.HasPrefix(ep.ID, "ep_") || !strings.HasPrefix(ep.Secret, "whsk_") || ep.SignatureScheme != "v1a" {
		t.Fatalf("created %+v", ep)
	}
	failing := ep
	var eps []cliEndpoint
	c.json(&eps, "endpoints", "list")
	if len(eps) != 2 || eps[0].ID != failing.ID || eps[1].URL != good.URL+"/hook" {
		t.Fatalf("list %+v", eps)
	}
	good1 := eps[1]
	has(t, "endpoints list", c.run("endpoints", "list"), "ID", "URL", good1.ID, failing.ID, "order.*,invoice.paid", "enabled", "closed")
	if c.json(&eps, "endpoints", "list", "--limit", "1"); len(eps) != 1 || eps[0].ID != failing.ID {
		t.Fatalf("list --limit 1: %+v", eps)
	}
	if c.json(&eps, "endpoints", "list", "--tenant", "nobody"); len(eps) != 0 {
		t.Fatalf("list --tenant nobody: %+v", eps)
	}
	has(t, "endpoints get", c.run("endpoints", "get", good1.ID), "ID:", good1.ID, "Description:", "orders", "Circuit:", "closed", "Signature:", "v1")
	c.json(&ep, "endpoints", "update", good1.ID, "--description", "all orders", "--rate-limit", "50")
	if ep.Description != "all orders" || ep.RateLimit != 50 || len(ep.EventTypes) != 2 {
		t.Fatalf("update %+v", ep)
	}
	has(t, "endpoints update", c.run("endpoints", "update", good1.ID, "--disable"), "Updated endpoint", "disabled (manual)")
	has(t, "endpoints update", c.run("endpoints", "update", good1.ID, "--enable", "--no-filter"), "State:", "enabled")
	if strings.Contains(c.run("endpoints", "get", good1.ID), "Filter:") {
		t.Fatal("--no-filter left a filter")
	}
	var sec struct {
		Secret         string `json:"secret"`
		PublicKey      string `json:"public_key"`
		PreviousSecret string `json:"previous_secret"`
	}
	c.json(&sec, "endpoints", "secret", failing.ID)
	if sec.Secret != failing.Secret || !strings.HasPrefix(sec.PublicKey, "whpk_") {
		t.Fatalf("secret %+v", sec)
	}
	has(t, "endpoints secret", c.run("endpoints", "secret", good1.ID), "Secret:", "whsec_")
	old := sec
	c.json(&sec, "endpoints", "rotate-secret", failing.ID, "--expire-old-in", "1h")
	if sec.Secret == old.Secret || sec.PreviousSecret != old.Secret {
		t.Fatalf("rotate %+v", sec)
	}
	has(t, "endpoints rotate-secret", c.run("endpoints", "rotate-secret", good1.ID, "--expire-old-in", "0s"), "Rotated the secret of "+good1.ID, "Secret:")
	var eps1 struct {
		SuccessRate float64 `json:"success_rate"`
		Live        bool    `json:"live"`
	}
	c.json(&eps1, "endpoints", "stats", good1.ID)
	if eps1.SuccessRate != 1 || !eps1.Live {
		t.Fatalf("endpoint stats %+v", eps1)
	}
	has(t, "endpoints stats", c.run("endpoints", "stats", good1.ID), "Success rate:", "100.0%", "Pending:")

	// events send (idempotent), get; deliveries list, get, attempts.
	type sent struct {
		ID         string `json:"id"`
		Type       string `json:"type"`
		Deliveries int    `json:"deliveries"`
		Replayed   bool   `json:"idempotent_replayed"`
	}
	var ev sent
	c.json(&ev, "events", "send", "order.created", `{"n":1.50}`, "--idempotency-key", "k-1", "--priority", "7")
	if !strings.HasPrefix(ev.ID, "evt_") || ev.Deliveries != 1 || ev.Replayed {
		t.Fatalf("send %+v", ev)
	}
	has(t, "events send again", c.run("events", "send", "order.created", `{"n":1.50}`, "--idempotency-key", "k-1", "--priority", "7"), "Already sent as "+ev.ID, "nothing sent again")
	var again sent
	c.json(&again, "events", "send", "order.created", "--data", `{"n":1.50}`, "--idempotency-key", "k-1", "--priority", "7")
	if again.ID != ev.ID || !again.Replayed {
		t.Fatalf("idempotent repeat %+v", again)
	}
	var evt struct {
		Data     json.RawMessage `json:"data"`
		Priority int             `json:"priority"`
	}
	c.json(&evt, "events", "get", ev.ID)
	var compact bytes.Buffer
	if json.Compact(&compact, evt.Data); compact.String() != `{"n":1.50}` || evt.Priority != 7 {
		t.Fatalf("event %+v", evt)
	}
	has(t, "events get", c.run("events", "get", ev.ID), "Type:", "order.created", "Priority:", "7", `"n": 1.50`)
	waitFor(t, 10*time.Second, "delivery", func() bool { return good.count(ev.ID) == 1 })
	type dlv struct {
		ID             string `json:"id"`
		Status         string `json:"status"`
		Attempts       int    `json:"attempts"`
		LastStatusCode int    `json:"last_status_code"`
	}
	var ds []dlv
	waitFor(t, 10*time.Second, "delivered", func() bool {
		c.json(&ds, "deliveries", "list", "--event", ev.ID)
		return len(ds) == 1 && ds[0].Status == "delivered"
	})
	d := ds[0]
	has(t, "deliveries list", c.run("deliveries", "list", "--endpoint", good1.ID), d.ID, "order.created", "delivered", "200")
	var dd dlv
	c.json(&dd, "deliveries", "get", d.ID)
	if dd != d {
		t.Fatalf("get %+v, listed %+v", dd, d)
	}
	has(t, "deliveries get", c.run("deliveries", "get", d.ID), "Status:", "delivered", "Last status:", "200", ev.ID)
	var atts []struct {
		Attempt    int `json:"attempt"`
		StatusCode int `json:"status_code"`
	}
	c.json(&atts, "deliveries", "attempts", d.ID)
	if len(atts) != 1 || atts[0].Attempt != 1 || atts[0].StatusCode != 200 {
		t.Fatalf("attempts %+v", atts)
	}
	has(t, "deliveries attempts", c.run("deliveries", "attempts", d.ID), "#", "STATUS", "200")

	// deliveries retry, events replay.
	c.json(&dd, "deliveries", "retry", d.ID)
	if dd.Status != "pending" {
		t.Fatalf("retry %+v", dd)
	}
	waitFor(t, 10*time.Second, "retried delivery", func() bool { return good.count(ev.ID) == 2 })
	has(t, "deliveries retry", c.run("deliveries", "retry", d.ID), "Retrying "+d.ID)
	waitFor(t, 10*time.Second, "retried delivery", func() bool { return good.count(ev.ID) == 3 })
	var rep struct{ Deliveries int }
	if c.json(&rep, "events", "replay", ev.ID); rep.Deliveries != 1 {
		t.Fatalf("replay %+v", rep)
	}
	has(t, "events replay", c.run("events", "replay", ev.ID), "Replayed "+ev.ID, "1 new delivery")
	waitFor(t, 10*time.Second, "replayed deliveries", func() bool { return good.count(ev.ID) == 5 })

	// recover: a dead letter back to pending.
	r := runHooklineIn(t, c.dir, c.env, `{"invoice":"inv_1"}`, "events", "send", "invoice.failed", "-", "--tenant", "")
	has(t, "events send -", r.stdout, "Sent evt_", "(invoice.failed) to 1 endpoint.", "hookline deliveries list --event evt_")
	if err := os.WriteFile(c.dir+"/data.json", []byte(`[1,2]`), 0o600); err != nil {
		t.Fatal(err)
	}
	var fev sent
	if c.json(&fev, "events", "send", "other.type", "--data", "@data.json"); fev.Deliveries != 0 {
		t.Fatalf("send @file: %+v", fev)
	}
	waitFor(t, 10*time.Second, "dead letter", func() bool {
		c.json(&ds, "deliveries", "list", "--endpoint", failing.ID, "--status", "failed")
		return len(ds) == 1
	})
	var rec struct{ Requeued int }
	if c.json(&rec, "recover", failing.ID, "--since", "1h"); rec.Requeued != 1 {
		t.Fatalf("recover %+v", rec)
	}
	bad.setStatus(200)
	waitFor(t, 10*time.Second, "recovered delivery", func() bool {
		c.json(&ds, "deliveries", "list", "--endpoint", failing.ID, "--status", "delivered")
		return len(ds) == 1
	})
	has(t, "recover", c.run("recover", failing.ID), "Requeued 0 failed deliveries of "+failing.ID)

	// keys create, list, delete; a tenant's key sees its own stats.
	var key struct {
		ID, Tenant, Name, Key string
	}
	c.json(&key, "keys", "create", "--tenant", "acme", "--name", "acme production")
	if !strings.HasPrefix(key.Key, "hk_") || key.Tenant != "acme" || key.Name != "acme production" {
		t.Fatalf("key %+v", key)
	}
	has(t, "keys create", c.run("keys", "create", "--tenant", "globex"), "Created key key_", "for tenant globex", "shown only this once", "hk_")
	var keys []struct{ ID, Tenant string }
	if c.json(&keys, "keys", "list", "--tenant", "acme"); len(keys) != 1 || keys[0].ID != key.ID {
		t.Fatalf("keys %+v", keys)
	}
	has(t, "keys list", c.run("keys", "list"), "TENANT", key.ID, "acme production", "globex")
	var tst struct {
		Tenant    string `json:"tenant"`
		Endpoints int    `json:"endpoints"`
	}
	c.json(&tst, "stats", "--api-key", key.Key)
	if tst.Tenant != "acme" || tst.Endpoints != 0 {
		t.Fatalf("tenant stats %+v", tst)
	}
	has(t, "tenant stats", c.run("stats", "--api-key", key.Key), "Tenant:", "acme")
	has(t, "a tenant's key on keys", c.fail(4, "keys", "list", "--api-key", key.Key), "forbidden")
	has(t, "keys delete", c.run("keys", "delete", key.ID), "Revoked key "+key.ID)
	has(t, "a revoked key", c.fail(4, "stats", "--api-key", key.Key), "API key is not valid", "was refused", "--api-key")

	// stats, endpoints delete.
	var st struct {
		Events    int `json:"events"`
		Endpoints int `json:"endpoints"`
		Node      struct {
			Partitions int `json:"partitions"`
		} `json:"node"`
	}
	// Three sent, and hookline.delivery.failed for the dead letter.
	if c.json(&st, "stats"); st.Events != 4 || st.Endpoints != 2 || st.Node.Partitions != 128 {
		t.Fatalf("stats %+v", st)
	}
	has(t, "stats", c.run("stats"), "Pending:", "Delivered:", "Events:", "4", "Node:", "128 partitions")
	has(t, "endpoints delete", c.run("endpoints", "delete", failing.ID), "Deleted endpoint "+failing.ID)
	var del struct {
		Deleted bool `json:"deleted"`
	}
	if c.json(&del, "endpoints", "delete", good1.ID); !del.Deleted {
		t.Fatal("delete --json")
	}
	has(t, "a deleted endpoint", c.fail(3, "endpoints", "get", good1.ID), "not found", "hookline endpoints list")

	// Every operation of the API but two was exercised, and checked.
	checked := c.v.Checked()
	for _, op := range []string{"POST /v1/endpoints", "GET /v1/endpoints", "GET /v1/endpoints/{id}", "PATCH /v1/endpoints/{id}",
		"DELETE /v1/endpoints/{id}", "GET /v1/endpoints/{id}/secret", "POST /v1/endpoints/{id}/secret/rotate",
		"POST /v1/endpoints/{id}/recover", "GET /v1/endpoints/{id}/stats", "POST /v1/events", "GET /v1/events/{id}",
		"POST /v1/events/{id}/replay", "GET /v1/deliveries", "GET /v1/deliveries/{id}", "GET /v1/deliveries/{id}/attempts",
		"POST /v1/deliveries/{id}/retry", "GET /v1/stats", "POST /v1/keys", "GET /v1/keys", "DELETE /v1/keys/{id}"} {
		if checked[op] == 0 {
			t.Errorf("%s: not exercised by the CLI", op)
		}
	}
}

// TestCLIErrors checks that a wrong command line, an API error, a missing
// key and a server that is not there each get a clear message on stderr and
// their own exit code.
func TestCLIErrors(t *testing.T) {
	p := serve(t, nil, "--data-dir", t.TempDir())
	c := newCLIEnv(t, p)

	// A bad flag: its error once, in --names, pointing to --help; nothing sent.
	msg := c.fail(2, "endpoints", "list", "--bogus")
	if msg != "hookline endpoints list: flag provided but not defined: --bogus\nRun 'hookline endpoints list --help' for usage.\n" {
		t.Fatalf("bad flag: %q", msg)
	}
	has(t, "a bad value", c.fail(2, "endpoints", "list", "--limit", "many"), "invalid value \"many\" for flag --limit", "--help")
	has(t, "missing ID", c.fail(2, "endpoints", "get"), "want ID", "hookline endpoints get --help")
	has(t, "extra argument", c.fail(2, "deliveries", "get", "a", "b"), "want ID")
	has(t, "unknown command", c.fail(2, "endpoints", "frobnicate"), `unknown command "frobnicate"`, "rotate-secret")
	has(t, "no data", c.fail(2, "events", "send", "a.b"), "data is required")
	has(t, "data not JSON", c.fail(2, "events", "send", "a.b", "{n:1}"), "not JSON")
	has(t, "bad --since", c.fail(2, "recover", "ep_x", "--since", "yesterday"), "--since")

	// --help: the usage on stdout, exit 0, with --names.
	r := runHookline(t, c.dir, c.env, "endpoints", "create", "--help")
	if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "Usage: hookline endpoints create [URL] [flags]") ||
		!strings.Contains(r.stdout, "  --event-types string") || !strings.Contains(r.stdout, "  --json") {
		t.Fatalf("--help: %+v", r)
	}
	r = runHookline(t, c.dir, c.env, "endpoints", "help")
	if r.code != 0 || !strings.Contains(r.stdout, "rotate-secret ID") {
		t.Fatalf("endpoints help: %+v", r)
	}

	// API errors: the API's message, and the exit code of its kind.
	has(t, "invalid", c.fail(1, "endpoints", "create", "ftp://example.com/"), "url: the scheme must be http or https", "(400 invalid)")
	has(t, "refused destination", c.fail(1, "endpoints", "create", "http://127.0.0.1:9/"), "--allow-destinations")
	has(t, "not found", c.fail(3, "deliveries", "get", "dlv_01JJY3PWG0FGVTG8JTT86N0H85"), "not found", "hookline deliveries list")
	has(t, "wrong key", c.fail(4, "stats", "--api-key", "hk_wrong"), "the API key is not valid", "was refused", "hookline keys create")

	// No key: where to find one.
	bare := &cliEnv{t: t, dir: t.TempDir(), env: []string{"HOOKLINE_URL=" + p.url}}
	has(t, "no key", bare.fail(4, "stats"), "no API key", "--api-key", "HOOKLINE_API_KEY", "hookline-data/api-key")

	// No server: exit 5, and what to check.
	none := &cliEnv{t: t, dir: t.TempDir(), env: []string{"HOOKLINE_URL=http://127.0.0.1:1", "HOOKLINE_API_KEY=k"}}
	has(t, "no server", none.fail(5, "endpoints", "list"), "cannot reach Hookline at http://127.0.0.1:1", "hookline serve", "--url")
	has(t, "bad url", none.fail(2, "stats", "--url", "127.0.0.1:8080"), "--url")

	// serve: a bad flag once, --help to stdout, unknown log settings refused.
	r = runHookline(t, c.dir, nil, "serve", "--bogus")
	if r.code != 2 || r.stdout != "" || r.stderr != "hookline serve: flag provided but not defined: --bogus\nRun 'hookline serve --help' for usage.\n" {
		t.Fatalf("serve --bogus: %+v", r)
	}
	r = runHookline(t, c.dir, nil, "serve", "--help")
	if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "--node-id  (HOOKLINE_NODE_ID, default none)") {
		t.Fatalf("serve --help: %+v", r)
	}
	for _, args := range [][]string{{"--log-level", "verbose"}, {"--log-format", "yaml"}} {
		r = runHookline(t, c.dir, nil, append([]string{"serve"}, args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, "invalid value") || strings.Count(r.stderr, "\n") != 2 {
			t.Fatalf("serve %v: %+v", args, r)
		}
	}
	r = runHookline(t, c.dir, []string{"HOOKLINE_LOG_LEVEL=loud"}, "serve")
	if r.code != 2 || !strings.Contains(r.stderr, `HOOKLINE_LOG_LEVEL="loud": want debug, info, warn or error`) {
		t.Fatalf("HOOKLINE_LOG_LEVEL=loud: %+v", r)
	}
	r = runHookline(t, c.dir, nil, "migrate", "--bogus")
	if r.code != 2 || r.stderr != "hookline migrate: flag provided but not defined: --bogus\nRun 'hookline migrate --help' for usage.\n" {
		t.Fatalf("migrate --bogus: %+v", r)
	}

	// The top-level help lists the commands over the API.
	r = runHookline(t, c.dir, nil, "help")
	if r.code != 0 || !slices.ContainsFunc(strings.Split(r.stdout, "\n"), func(l string) bool { return strings.HasPrefix(l, "  hookline listen") }) {
		t.Fatalf("help: %+v", r)
	}
}

// TestServeBindsBeforeKey checks that a first start on a busy port fails
// before it generates and shows a key.
func TestServeBindsBeforeKey(t *testing.T) {
	p := serve(t, nil, "--data-dir", t.TempDir())
	dir := t.TempDir()
	r := runHookline(t, dir, nil, "serve", "--addr", strings.TrimPrefix(p.url, "http://"), "--data-dir", "data", "--print-api-key")
	if r.code == 0 || !strings.Contains(r.stderr, "address already in use") || strings.Contains(r.stdout, "API key") {
		t.Fatalf("serve on a busy port: %+v", r)
	}
	if _, err := os.Stat(dir + "/data/api-key"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a key was saved: %v", err)
	}
}
