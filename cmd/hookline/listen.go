package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hookline/hookline/client"
	"github.com/hookline/hookline/signature"
)

// maxListenBody bounds the body of a request to `hookline listen`.
const maxListenBody = 16 << 20

// listener is `hookline listen`: a local receiver that verifies, prints
// and answers each delivery, or relays it to --forward.
type listener struct {
	addr, path   string
	secrets      string
	endpoint     string
	create       bool
	eventTypes   string
	tenant       string
	status       int
	forward      string
	skipVerify   bool
	tolerance    time.Duration
	keys         []string // what signatures are verified with, current first
	out, log     io.Writer
	json         bool
	mu           sync.Mutex // one delivery printed at a time
	forwardHTTP  *http.Client
	createdID    string
	verifiedWith string // what the keys are, for the ready line
}

func init() {
	l := &listener{}
	register("listen", "", &apiCommand{
		summary: `Receive deliveries on a local port while you develop against Hookline: each request's Standard Webhooks
signature is verified (with --secret, the secret of --endpoint, or of the endpoint --create makes), the
delivery is printed (id, type, verified or why not, the body), and answered --status, or relayed to
--forward and answered with that server's answer. A request that does not verify is answered 400.

  hookline listen --create --event-types 'invoice.*'             an endpoint for this listener, deleted on exit
  hookline listen --endpoint ep_… --forward http://127.0.0.1:3000/webhooks
  hookline listen --secret whsec_… --status 503                  rehearse the retries`,
		max: 0, local: true,
		flags: func(fs *flag.FlagSet, x *inv) {
			fs.StringVar(&l.addr, "addr", "127.0.0.1:9000", "address to listen on (port 0: any free port)")
			fs.StringVar(&l.path, "path", "/", "the path of the endpoint --create registers")
			fs.StringVar(&l.secrets, "secret", "", "verify with this secret (whsec_…) or public key (whpk_…); comma-separated for a rotation's two")
			fs.StringVar(&l.endpoint, "endpoint", "", "verify with the secrets of this endpoint, fetched from the API")
			fs.BoolVar(&l.create, "create", false, "register an endpoint that delivers to this listener, and delete it on exit (the server must allow 127.0.0.1: --allow-destinations 127.0.0.1/32)")
			fs.StringVar(&l.eventTypes, "event-types", "", "with --create: comma-separated event types it receives (default: every type)")
			fs.StringVar(&l.tenant, "tenant", "", "with --create: the tenant of the endpoint")
			fs.IntVar(&l.status, "status", 200, "the status to answer verified deliveries with (without --forward): 500 or 503 rehearse retries, 410 disables the endpoint")
			fs.StringVar(&l.forward, "forward", "", "relay verified requests, headers and body unchanged, to this URL, and answer with its status and body")
			fs.BoolVar(&l.skipVerify, "skip-verify", false, "verify nothing: print and answer every request")
			fs.DurationVar(&l.tolerance, "tolerance", signature.DefaultTolerance, "how far webhook-timestamp may be from this clock")
		},
		run: func(x *inv) error { return l.run(x) },
	})
}

func (l *listener) run(x *inv) error {
	l.out, l.log, l.json = x.stdout, x.stderr, x.json
	n := 0
	for _, set := range []bool{l.secrets != "", l.endpoint != "", l.create, l.skipVerify} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return usageError(x.stderr, x.name, errors.New("say what to verify with: --secret whsec_…, --endpoint ep_… (its secret is fetched), --create (a temporary endpoint), or --skip-verify"))
	case n > 1:
		return usageError(x.stderr, x.name, errors.New("--secret, --endpoint, --create and --skip-verify go alone: give one"))
	case l.status < 200 || l.status > 599:
		return usageError(x.stderr, x.name, fmt.Errorf("--status %d: want an HTTP status from 200 to 599", l.status))
	case (l.eventTypes != "" || l.tenant != "") && !l.create:
		return usageError(x.stderr, x.name, errors.New("--event-types and --tenant describe the endpoint --create makes: add --create"))
	}
	if l.forward != "" {
		if u, err := url.Parse(l.forward); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageError(x.stderr, x.name, fmt.Errorf("--forward %q: want an http:// or https:// URL, such as http://127.0.0.1:3000/webhooks", l.forward))
		}
		l.forwardHTTP = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	for _, k := range splitList(l.secrets) {
		if _, err := signature.ParsePublicKey(k); err != nil {
			if _, err2 := signature.NewSigner(k); err2 != nil {
				return usageError(x.stderr, x.name, fmt.Errorf("--secret: want a whsec_ secret or a whpk_ public key: %v", err2))
			}
		}
		l.keys = append(l.keys, k)
	}
	l.verifiedWith = "--secret"

	// Bind first: --create registers the address actually bound.
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", l.addr, err)
	}
	defer ln.Close()
	here := "http://" + ln.Addr().String() + "/" + strings.TrimPrefix(l.path, "/")

	if l.endpoint != "" || l.create {
		if err := x.connect(); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(x.ctx, x.timeout)
		err := l.resolve(ctx, x, here)
		cancel()
		if err != nil {
			return x.explain(err)
		}
	}
	if l.createdID != "" {
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), x.timeout)
			defer cancel()
			if err := x.c.DeleteEndpoint(ctx, l.createdID); err != nil {
				fmt.Fprintf(l.log, "hookline listen: could not delete the temporary endpoint %s: %v; delete it with: hookline endpoints delete %s\n", l.createdID, x.explain(err), l.createdID)
				return
			}
			fmt.Fprintf(l.log, "Deleted the temporary endpoint %s.\n", l.createdID)
		}()
	}

	answer := fmt.Sprintf("answering %d", l.status)
	if l.forward != "" {
		answer = "forwarding to " + l.forward
	}
	verify := "verifying with " + l.verifiedWith
	if l.skipVerify {
		verify = "verifying nothing"
	}
	fmt.Fprintf(l.log, "Listening on %s: %s, %s. Ctrl-C to stop.\n", here, verify, answer)

	srv := &http.Server{Handler: http.HandlerFunc(l.serve), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-x.ctx.Done():
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	return nil
}

// resolve finds the keys of --endpoint, or makes the endpoint of --create.
func (l *listener) resolve(ctx context.Context, x *inv, here string) error {
	id := l.endpoint
	if l.create {
		ep, err := x.c.CreateEndpoint(ctx, client.EndpointCreate{URL: here, EventTypes: splitList(l.eventTypes), Tenant: l.tenant,
			Description: "hookline listen (temporary)"})
		if err != nil {
			return fmt.Errorf("create an endpoint for %s: %w", here, err)
		}
		l.createdID, id = ep.ID, ep.ID
		fmt.Fprintf(l.log, "Created the temporary endpoint %s for %s (deleted on exit).\n", ep.ID, here)
	} else if ep, err := x.c.GetEndpoint(ctx, id); err != nil {
		return err
	} else if !sameHostPort(ep.URL, here) {
		fmt.Fprintf(l.log, "Note: %s delivers to %s, not to this listener; 'hookline listen --create' makes an endpoint that does.\n", ep.ID, ep.URL)
	}
	s, err := x.c.EndpointSecret(ctx, id)
	if err != nil {
		return err
	}
	l.keys = s.VerifyKeys()
	l.verifiedWith = "the secret of " + id
	return nil
}

// sameHostPort reports whether two URLs name the same host and port.
func sameHostPort(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Host == ub.Host
}

// received is what `hookline listen --json` prints of each request.
type received struct {
	At          time.Time       `json:"at"`
	Method      string          `json:"method"`
	Path        string          `json:"path"`
	WebhookID   string          `json:"webhook_id"`
	Type        string          `json:"type"`
	Verified    bool            `json:"verified"`
	Error       string          `json:"error,omitempty"`
	Status      int             `json:"status"`
	ForwardedTo string          `json:"forwarded_to,omitempty"`
	Headers     http.Header     `json:"headers"`
	Body        json.RawMessage `json:"body"`
}

// serve verifies, prints and answers one request.
func (l *listener) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxListenBody+1))
	rec := received{At: time.Now().UTC(), Method: r.Method, Path: r.URL.Path, WebhookID: r.Header.Get("webhook-id"), Headers: r.Header}
	switch {
	case err != nil:
		rec.Error = "reading the body: " + err.Error()
	case len(body) > maxListenBody:
		rec.Error = fmt.Sprintf("the body is larger than %d bytes", maxListenBody)
	case l.skipVerify:
		rec.Verified = true
	default:
		rec.Verified, rec.Error = l.verify(r.Header, body)
	}
	rec.Type = typeOf(body)
	if json.Valid(body) {
		rec.Body = body
	} else {
		rec.Body, _ = json.Marshal(string(body))
	}

	var answer []byte
	var answerHeader http.Header
	switch {
	case !rec.Verified:
		rec.Status, answer = http.StatusBadRequest, []byte("hookline listen: not verified: "+rec.Error+"\n")
	case l.forward != "":
		rec.ForwardedTo = l.forward
		resp, err := l.relay(r, body)
		if err != nil {
			rec.Status, rec.Error = http.StatusBadGateway, "forward: "+err.Error()
			answer = []byte("hookline listen: " + rec.Error + "\n")
			break
		}
		rec.Status, answerHeader = resp.StatusCode, resp.Header
		answer, _ = io.ReadAll(io.LimitReader(resp.Body, maxListenBody))
		resp.Body.Close()
	default:
		rec.Status = l.status
	}
	if ct := answerHeader.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(rec.Status)
	_, _ = w.Write(answer)
	l.print(&rec, body)
}

// verify checks the signature of a request with each key, and says why it
// failed with the current one.
func (l *listener) verify(h http.Header, body []byte) (bool, string) {
	var first error
	for _, k := range l.keys {
		err := signature.Verify(k, h, body, time.Now(), l.tolerance)
		if err == nil {
			return true, ""
		} else if first == nil {
			first = err
		}
	}
	switch {
	case first == nil:
		return false, "no key to verify with"
	case errors.Is(first, signature.ErrMissingHeaders):
		return false, "no webhook-id, webhook-timestamp or webhook-signature header: not a Standard Webhooks request"
	case errors.Is(first, signature.ErrMalformedTimestamp):
		return false, "webhook-timestamp is not a Unix time"
	case errors.Is(first, signature.ErrTimestamp):
		return false, fmt.Sprintf("webhook-timestamp is more than %s from this clock (--tolerance)", l.tolerance)
	case errors.Is(first, signature.ErrNoMatch):
		return false, "no signature matches: the body or headers were changed on the way, or another secret signed it"
	}
	return false, first.Error()
}

// hopHeaders are not relayed: they describe one connection.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// relay sends the request to --forward, headers and body unchanged.
func (l *listener) relay(r *http.Request, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, l.forward, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = r.Header.Clone()
	for _, h := range hopHeaders {
		req.Header.Del(h)
	}
	return l.forwardHTTP.Do(req)
}

// typeOf returns the type of a delivery's body, "batch of N" for a batch.
func typeOf(body []byte) string {
	var one struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(body, &one) == nil && one.Type != "" {
		return one.Type
	}
	var many []json.RawMessage
	if json.Unmarshal(body, &many) == nil {
		return fmt.Sprintf("batch of %d", len(many))
	}
	return "?"
}

// print writes one request: a JSON line with --json, else a line and the
// pretty body.
func (l *listener) print(rec *received, body []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.json {
		b, _ := json.Marshal(rec)
		fmt.Fprintf(l.out, "%s\n", b)
		return
	}
	state := "verified"
	switch {
	case l.skipVerify:
		state = "not checked"
	case !rec.Verified:
		state = "NOT VERIFIED: " + rec.Error
	}
	to := ""
	if rec.ForwardedTo != "" {
		to = " (from " + rec.ForwardedTo + ")"
		if rec.Error != "" {
			to = " (" + rec.Error + ")"
		}
	}
	fmt.Fprintf(l.out, "%s  %s  %s  %s  -> %d%s\n%s\n\n", rec.At.Format("15:04:05"), or(rec.WebhookID, "(no webhook-id)"), rec.Type, state, rec.Status, to, pretty(body, "  "))
}
