package main_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/client"
)

// TestCLIEndpointOptions creates and updates endpoints with each request
// option through the CLI, reads each back through the API, checks that no
// secret is printed by create, get, update or list (human or --json), and
// that bad values are refused before anything is sent.
func TestCLIEndpointOptions(t *testing.T) {
	p := serve(t, nil, "--data-dir", t.TempDir(), "--allow-private-networks")
	c := newCLIEnv(t, p)
	api, err := client.New(p.url, p.key)
	if err != nil {
		t.Fatal(err)
	}
	get := func(id string) *client.Endpoint {
		t.Helper()
		ep, err := api.GetEndpoint(t.Context(), id)
		if err != nil {
			t.Fatalf("GetEndpoint: %v", err)
		}
		return ep
	}
	certFile, keyFile, certPEM, keyPEM := writeClientCert(t, c.dir)
	const (
		apiKey   = "s3cret-header-value"
		password = "pa55word-basic"
		secret   = "oauth-client-s3cret,with-comma"
	)
	// noSecrets fails when out shows any secret.
	noSecrets := func(what, out string) {
		t.Helper()
		for _, s := range []string{apiKey, password, secret, "PRIVATE KEY"} {
			if strings.Contains(out, s) {
				t.Fatalf("%s shows a secret (%q):\n%s", what, s, out)
			}
		}
	}
	// create runs endpoints create with args, checks its output, and
	// returns the endpoint's ID.
	create := func(url string, args ...string) string {
		t.Helper()
		out := c.run(append([]string{"endpoints", "create", url}, args...)...)
		noSecrets("endpoints create", out)
		var ep cliEndpoint
		c.json(&ep, "endpoints", "get", strings.Fields(out)[2])
		return ep.ID
	}

	t.Run("Headers", func(t *testing.T) {
		id := create("http://127.0.0.1:9/h", "--header", "X-Api-Key: "+apiKey, "--header", "x-tenant:acme")
		if got, want := get(id).Headers, map[string]string{"X-Api-Key": apiKey, "X-Tenant": "acme"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("headers = %v, want %v", got, want)
		}
		out := c.run("endpoints", "get", id)
		noSecrets("endpoints get", out)
		has(t, "endpoints get", out, "Headers:", "X-Api-Key: ****", "X-Tenant: ****")
		noSecrets("endpoints get --json", c.run("endpoints", "get", id, "--json"))

		noSecrets("endpoints update", c.run("endpoints", "update", id, "--header", "X-Other: 1"))
		if got := get(id).Headers; !reflect.DeepEqual(got, map[string]string{"X-Other": "1"}) {
			t.Fatalf("headers after update = %v, want only X-Other", got)
		}
		c.run("endpoints", "update", id, "--no-headers")
		if got := get(id).Headers; got != nil {
			t.Fatalf("headers after --no-headers = %v", got)
		}
	})

	t.Run("TimeoutAndRetrySchedule", func(t *testing.T) {
		id := create("http://127.0.0.1:9/t", "--delivery-timeout", "5s", "--retry-schedule", "0s,1m,10m")
		ep := get(id)
		if ep.Timeout != "5s" || !reflect.DeepEqual(ep.RetrySchedule, []string{"0s", "1m0s", "10m0s"}) {
			t.Fatalf("timeout %q, retry schedule %v; want 5s and 0s,1m,10m", ep.Timeout, ep.RetrySchedule)
		}
		has(t, "endpoints get", c.run("endpoints", "get", id), "Timeout:", "5s", "Retry schedule:", "0s, 1m0s, 10m0s")
		c.run("endpoints", "update", id, "--delivery-timeout", "2s", "--retry-schedule", "0s,30s")
		if ep := get(id); ep.Timeout != "2s" || !reflect.DeepEqual(ep.RetrySchedule, []string{"0s", "30s"}) {
			t.Fatalf("after update: timeout %q, retry schedule %v", ep.Timeout, ep.RetrySchedule)
		}
		has(t, "endpoints update --no-…", c.run("endpoints", "update", id, "--no-delivery-timeout", "--no-retry-schedule"),
			"Timeout:", "server default", "Retry schedule:")
		if ep := get(id); ep.Timeout != "" || ep.RetrySchedule != nil {
			t.Fatalf("after --no-delivery-timeout --no-retry-schedule: timeout %q, retry schedule %v", ep.Timeout, ep.RetrySchedule)
		}
	})

	t.Run("Basic", func(t *testing.T) {
		id := create("http://127.0.0.1:9/b", "--auth-basic", "alice:"+password)
		want := &client.EndpointAuth{Type: "basic", Username: "alice", Password: password}
		if got := get(id).Auth; !reflect.DeepEqual(got, want) {
			t.Fatalf("auth = %+v, want %+v", got, want)
		}
		out := c.run("endpoints", "get", id)
		noSecrets("endpoints get", out)
		has(t, "endpoints get", out, "Auth:", "basic (user alice, password ****)")
		var ep client.Endpoint
		c.json(&ep, "endpoints", "get", id)
		if ep.Auth == nil || ep.Auth.Username != "alice" || ep.Auth.Password != "****" {
			t.Fatalf("get --json auth = %+v, want alice and a masked password", ep.Auth)
		}
		c.run("endpoints", "update", id, "--no-auth")
		if got := get(id).Auth; got != nil {
			t.Fatalf("auth after --no-auth = %+v", got)
		}
	})

	t.Run("OAuth2", func(t *testing.T) {
		id := create("http://127.0.0.1:9/o",
			"--auth-oauth2", "token_url=http://127.0.0.1:9/token,client_id=hookline,client_secret="+secret+",scope=webhooks write")
		want := &client.EndpointAuth{Type: "oauth2_client_credentials", TokenURL: "http://127.0.0.1:9/token", ClientID: "hookline",
			ClientSecret: secret, Scope: "webhooks write"}
		if got := get(id).Auth; !reflect.DeepEqual(got, want) {
			t.Fatalf("auth = %+v, want %+v", got, want)
		}
		out := c.run("endpoints", "get", id)
		noSecrets("endpoints get", out)
		has(t, "endpoints get", out, "OAuth2 client credentials (client hookline at http://127.0.0.1:9/token, scope webhooks write)")
		noSecrets("endpoints get --json", c.run("endpoints", "get", id, "--json"))
	})

	t.Run("MTLS", func(t *testing.T) {
		id := create("https://127.0.0.1:9/m", "--auth-mtls-cert", certFile, "--auth-mtls-key", keyFile)
		want := &client.EndpointAuth{Type: "mtls", Cert: certPEM, Key: keyPEM}
		if got := get(id).Auth; !reflect.DeepEqual(got, want) {
			t.Fatalf("auth = %+v, want the PEM pair", got)
		}
		out := c.run("endpoints", "get", id, "--json")
		noSecrets("endpoints get --json", out)
		has(t, "endpoints get --json", out, `"key": "****"`)
		// And basic auth in its place.
		c.run("endpoints", "update", id, "--auth-basic", "bob:"+password)
		if got := get(id).Auth; got == nil || got.Type != "basic" || got.Username != "bob" {
			t.Fatalf("auth after update = %+v, want basic for bob", got)
		}
	})

	t.Run("List", func(t *testing.T) {
		out := c.run("endpoints", "list")
		noSecrets("endpoints list", out)
		noSecrets("endpoints list --json", c.run("endpoints", "list", "--json"))
	})

	t.Run("BadValues", func(t *testing.T) {
		url := "http://127.0.0.1:9/bad"
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"create", url, "--header", "X-Api-Key"}, "want 'Name: value'"},
			{[]string{"create", url, "--header", "A: 1", "--header", "a: 2"}, "header a given twice"},
			{[]string{"create", url, "--delivery-timeout", "soon"}, `--delivery-timeout: "soon" is not a positive duration`},
			{[]string{"create", url, "--retry-schedule", "0s,later"}, `--retry-schedule: entry 2, "later", is not a duration`},
			{[]string{"create", url, "--auth-basic", "alice"}, "--auth-basic: want USER:PASSWORD"},
			{[]string{"create", url, "--auth-oauth2", "client_id=a,client_secret=b"}, "--auth-oauth2: token_url is required"},
			{[]string{"create", url, "--auth-oauth2", "tokenurl=x"}, "--auth-oauth2: want token_url=URL"},
			{[]string{"create", url, "--auth-mtls-cert", certFile}, "give both"},
			{[]string{"create", url, "--auth-mtls-cert", "/nonexistent.pem", "--auth-mtls-key", keyFile}, "--auth-mtls-cert: open /nonexistent.pem"},
			{[]string{"create", url, "--auth-basic", "a:b", "--auth-oauth2", "token_url=x"}, "give one auth"},
			{[]string{"update", "ep_x", "--header", "A: 1", "--no-headers"}, "--header and --no-headers: give one"},
			{[]string{"update", "ep_x", "--auth-basic", "a:b", "--no-auth"}, "--no-auth: give one"},
		} {
			msg := c.fail(2, append([]string{"endpoints"}, tc.args...)...)
			has(t, strings.Join(tc.args, " "), msg, tc.want, "--help")
			noSecrets(strings.Join(tc.args, " "), msg)
		}
		// The server's checks, with its message.
		has(t, "reserved header", c.fail(1, "endpoints", "create", url, "--header", "Content-Type: text/plain"), "headers.Content-Type")
		has(t, "schedule", c.fail(1, "endpoints", "create", url, "--retry-schedule", "1m"), `retry_schedule[0]: must be "0s"`)
		has(t, "mtls over http", c.fail(1, "endpoints", "create", url, "--auth-mtls-cert", certFile, "--auth-mtls-key", keyFile), "https://")
	})
}

// writeClientCert writes a self-signed client certificate and its key, PEM,
// into dir, and returns the files and their contents.
func writeClientCert(t *testing.T, dir string) (certFile, keyFile, certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hookline"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	certFile, keyFile = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	if err := os.WriteFile(certFile, []byte(certPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, []byte(keyPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, certPEM, keyPEM
}
