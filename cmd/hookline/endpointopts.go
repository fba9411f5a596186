package main

import (
	"errors"
	"flag"
	"fmt"
	"net/textproto"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hookline/hookline/client"
)

// masked is what the CLI prints in place of a secret: a header value, a
// password, a client secret or a private key.
const masked = "****"

// endpointOptions are the flags of an endpoint's request options, shared by
// endpoints create and update: headers, timeout, retry schedule and auth.
// The server checks the values further (reserved headers, the timeout's
// bound, the schedule's first entry, the mTLS pair).
type endpointOptions struct {
	headers  map[string]string // nil unless --header was given
	timeout  optString
	retry    optString
	basic    optString
	oauth2   optString
	mtlsCert optString
	mtlsKey  optString

	// update only: back to none or the server's.
	noHeaders, noTimeout, noRetry, noAuth bool
}

// register adds the flags; update adds the --no-… ones.
func (o *endpointOptions) register(fs *flag.FlagSet, update bool) {
	headerHelp := "a header sent with every request, 'Name: value' (repeat for more)"
	if update {
		headerHelp += "; replaces all the endpoint's headers"
	}
	fs.Func("header", headerHelp, o.addHeader)
	// --timeout is the CLI's own, how long it waits for the server.
	fs.Var(&o.timeout, "delivery-timeout", "the timeout of each attempt to the endpoint, such as 5s (default: the server's --delivery-timeout)")
	fs.Var(&o.retry, "retry-schedule", "comma-separated delays before each attempt, the first 0s, such as 0s,1m,10m (default: the server's)")
	fs.Var(&o.basic, "auth-basic", "authenticate with HTTP basic auth, USER:PASSWORD")
	fs.Var(&o.oauth2, "auth-oauth2", "authenticate with an OAuth2 client-credentials token: token_url=URL,client_id=ID,client_secret=SECRET[,scope=SCOPE]")
	fs.Var(&o.mtlsCert, "auth-mtls-cert", "authenticate with a TLS client certificate: a PEM certificate (chain) FILE, with --auth-mtls-key")
	fs.Var(&o.mtlsKey, "auth-mtls-key", "the PEM private key FILE of --auth-mtls-cert")
	if update {
		fs.BoolVar(&o.noHeaders, "no-headers", false, "remove every header")
		fs.BoolVar(&o.noTimeout, "no-delivery-timeout", false, "go back to the server's delivery timeout")
		fs.BoolVar(&o.noRetry, "no-retry-schedule", false, "go back to the server's retry schedule")
		fs.BoolVar(&o.noAuth, "no-auth", false, "remove the auth")
	}
}

// addHeader is the --header flag: "Name: value".
func (o *endpointOptions) addHeader(v string) error {
	name, value, ok := strings.Cut(v, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return errors.New("want 'Name: value', such as 'X-Api-Key: secret'")
	}
	if o.headers == nil {
		o.headers = make(map[string]string)
	}
	canon := textproto.CanonicalMIMEHeaderKey(name)
	for n := range o.headers {
		if textproto.CanonicalMIMEHeaderKey(n) == canon {
			return fmt.Errorf("header %s given twice", name)
		}
	}
	o.headers[name] = strings.TrimSpace(value)
	return nil
}

// checkTimeout returns --delivery-timeout, checked to be a duration.
func (o *endpointOptions) checkTimeout() (string, error) {
	d, err := time.ParseDuration(o.timeout.v)
	if err != nil || d <= 0 {
		return "", fmt.Errorf("--delivery-timeout: %q is not a positive duration such as 5s", o.timeout.v)
	}
	return o.timeout.v, nil
}

// checkRetry returns --retry-schedule, each entry checked to be a duration.
func (o *endpointOptions) checkRetry() ([]string, error) {
	s := splitList(o.retry.v)
	if len(s) == 0 {
		return nil, errors.New("--retry-schedule: give the delays, such as 0s,1m,10m")
	}
	for i, v := range s {
		if _, err := time.ParseDuration(v); err != nil {
			return nil, fmt.Errorf("--retry-schedule: entry %d, %q, is not a duration such as 10m", i+1, v)
		}
	}
	return s, nil
}

// auth returns the auth the flags give, nil for none.
func (o *endpointOptions) auth() (*client.EndpointAuth, error) {
	kinds := 0
	for _, set := range []bool{o.basic.set, o.oauth2.set, o.mtlsCert.set || o.mtlsKey.set} {
		if set {
			kinds++
		}
	}
	switch {
	case kinds == 0:
		return nil, nil
	case kinds > 1:
		return nil, errors.New("give one auth: --auth-basic, --auth-oauth2, or --auth-mtls-cert with --auth-mtls-key")
	case o.basic.set:
		user, pass, ok := strings.Cut(o.basic.v, ":")
		if !ok || user == "" {
			return nil, errors.New("--auth-basic: want USER:PASSWORD")
		}
		return &client.EndpointAuth{Type: "basic", Username: user, Password: pass}, nil
	case o.oauth2.set:
		return parseOAuth2(o.oauth2.v)
	}
	if !o.mtlsCert.set || !o.mtlsKey.set {
		return nil, errors.New("--auth-mtls-cert and --auth-mtls-key: give both")
	}
	cert, err := os.ReadFile(o.mtlsCert.v)
	if err != nil {
		return nil, fmt.Errorf("--auth-mtls-cert: %w", err)
	}
	key, err := os.ReadFile(o.mtlsKey.v)
	if err != nil {
		return nil, fmt.Errorf("--auth-mtls-key: %w", err)
	}
	return &client.EndpointAuth{Type: "mtls", Cert: string(cert), Key: string(key)}, nil
}

// parseOAuth2 parses --auth-oauth2: key=value pairs, comma-separated. A
// piece that does not start with a key belongs to the value before it, so
// a secret or a scope may hold commas.
func parseOAuth2(v string) (*client.EndpointAuth, error) {
	a := &client.EndpointAuth{Type: "oauth2_client_credentials"}
	fields := map[string]*string{"token_url": &a.TokenURL, "client_id": &a.ClientID, "client_secret": &a.ClientSecret, "scope": &a.Scope}
	var cur *string
	seen := map[string]bool{}
	for _, piece := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(piece, "=")
		k = strings.TrimSpace(k)
		if p := fields[k]; ok && p != nil {
			if seen[k] {
				return nil, fmt.Errorf("--auth-oauth2: %s given twice", k)
			}
			seen[k], cur, *p = true, p, val
			continue
		}
		if cur == nil {
			return nil, errors.New("--auth-oauth2: want token_url=URL,client_id=ID,client_secret=SECRET[,scope=SCOPE]")
		}
		*cur += "," + piece
	}
	for _, k := range []string{"token_url", "client_id", "client_secret"} {
		if !seen[k] {
			return nil, fmt.Errorf("--auth-oauth2: %s is required", k)
		}
	}
	return a, nil
}

// create sets the options of c.
func (o *endpointOptions) create(c *client.EndpointCreate) (err error) {
	c.Headers = o.headers
	if o.timeout.set {
		if c.Timeout, err = o.checkTimeout(); err != nil {
			return err
		}
	}
	if o.retry.set {
		if c.RetrySchedule, err = o.checkRetry(); err != nil {
			return err
		}
	}
	c.Auth, err = o.auth()
	return err
}

// update sets the options of u, refusing a flag beside its --no-… one.
func (o *endpointOptions) update(u *client.EndpointUpdate) error {
	for _, c := range []struct {
		set, no bool
		flag    string
	}{
		{o.headers != nil, o.noHeaders, "--header and --no-headers"},
		{o.timeout.set, o.noTimeout, "--delivery-timeout and --no-delivery-timeout"},
		{o.retry.set, o.noRetry, "--retry-schedule and --no-retry-schedule"},
		{o.basic.set || o.oauth2.set || o.mtlsCert.set || o.mtlsKey.set, o.noAuth, "--auth-… and --no-auth"},
	} {
		if c.set && c.no {
			return fmt.Errorf("%s: give one", c.flag)
		}
	}
	u.Headers, u.NoHeaders, u.NoTimeout, u.NoRetrySchedule, u.NoAuth = o.headers, o.noHeaders, o.noTimeout, o.noRetry, o.noAuth
	if o.timeout.set {
		t, err := o.checkTimeout()
		if err != nil {
			return err
		}
		u.Timeout = &t
	}
	if o.retry.set {
		r, err := o.checkRetry()
		if err != nil {
			return err
		}
		u.RetrySchedule = r
	}
	a, err := o.auth()
	u.Auth = a
	return err
}

// maskEndpoint returns a copy of ep whose secrets read masked: header
// values, a basic password, an OAuth2 client secret and an mTLS key. The
// API shows them in the answers about one endpoint; the CLI never prints
// them.
func maskEndpoint(ep client.Endpoint) *client.Endpoint {
	if ep.Headers != nil {
		h := make(map[string]string, len(ep.Headers))
		for k := range ep.Headers {
			h[k] = masked
		}
		ep.Headers = h
	}
	if ep.Auth != nil {
		a := *ep.Auth
		for _, p := range []*string{&a.Password, &a.ClientSecret, &a.Key} {
			if *p != "" {
				*p = masked
			}
		}
		if a.Type == "basic" {
			a.Password = masked // even an empty one
		}
		ep.Auth = &a
	}
	return &ep
}

// optionFields returns the name, value pairs of ep's request options for
// endpointFields, secrets masked.
func optionFields(ep *client.Endpoint) []string {
	var headers []string
	for k := range ep.Headers {
		headers = append(headers, k+": "+masked)
	}
	slices.Sort(headers)
	auth := "none"
	if a := ep.Auth; a != nil {
		switch a.Type {
		case "basic":
			auth = fmt.Sprintf("basic (user %s, password %s)", a.Username, masked)
		case "oauth2_client_credentials":
			auth = fmt.Sprintf("OAuth2 client credentials (client %s at %s", a.ClientID, a.TokenURL)
			if a.Scope != "" {
				auth += ", scope " + a.Scope
			}
			auth += ")"
		case "mtls":
			auth = "mTLS (client certificate)"
		default:
			auth = a.Type
		}
	}
	return []string{"Headers", strings.Join(headers, ", "), "Timeout", or(ep.Timeout, "server default"),
		"Retry schedule", or(strings.Join(ep.RetrySchedule, ", "), "server default"), "Auth", auth}
}
