package delivery_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/delivery"
	"github.com/hookline/hookline/signature"
)

// optionsEndpoint creates an endpoint with request options set by opts.
func (b *bundle) optionsEndpoint(t *testing.T, url string, opts func(ep *hookline.Endpoint)) *hookline.Endpoint {
	t.Helper()
	now := hookline.Now()
	ep := &hookline.Endpoint{ID: hookline.NewID(hookline.EndpointPrefix, now), URL: url,
		Secret: signature.GenerateSecret(), CreatedAt: now, UpdatedAt: now}
	opts(ep)
	if err := b.store.CreateEndpoint(context.Background(), ep); err != nil {
		t.Fatal(err)
	}
	return ep
}

// attempts returns the attempts of an event's only delivery.
func (b *bundle) attempts(t *testing.T, eventID string) []*hookline.Attempt {
	t.Helper()
	ds := b.deliveries(t, eventID)
	if len(ds) != 1 {
		t.Fatalf("%d deliveries", len(ds))
	}
	as, err := b.store.FindAttempts(context.Background(), ds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// TestEndpointHeaders checks that an endpoint's headers go with each of
// its requests, beside the Standard Webhooks ones, and only with its own.
func TestEndpointHeaders(t *testing.T) {
	stores(t, delivery.Config{}, func(t *testing.T, b *bundle) {
		rc := newReceiver(t, nil)
		b.optionsEndpoint(t, rc.URL, func(ep *hookline.Endpoint) {
			ep.Headers = map[string]string{"x-api-key": "k1", "X-Tenant-Region": "eu"}
		})
		plain := newReceiver(t, nil)
		b.endpoint(t, plain.URL)
		res := b.send(t, "invoice.paid", `{}`)
		got := rc.next(t)
		if got.header.Get("X-Api-Key") != "k1" || got.header.Get("X-Tenant-Region") != "eu" {
			t.Fatalf("headers %v", got.header)
		}
		if got.header.Get("Webhook-Id") != res.ID || got.header.Get("Content-Type") != "application/json" {
			t.Fatalf("the Standard Webhooks headers are gone: %v", got.header)
		}
		if p := plain.next(t); p.header.Get("X-Api-Key") != "" {
			t.Fatalf("another endpoint got the headers: %v", p.header)
		}
	})
}

// TestEndpointTimeout checks that an endpoint's timeout bounds its
// attempts below the server's, and names itself in the error.
func TestEndpointTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	b := setup(t, delivery.Config{DeliveryTimeout: 10 * time.Second, RetrySchedule: []time.Duration{0}})
	rc := newReceiver(t, func(w http.ResponseWriter, r *received) { <-release })
	b.optionsEndpoint(t, rc.URL, func(ep *hookline.Endpoint) { ep.Timeout = 100 * time.Millisecond })
	start := time.Now()
	res := b.send(t, "a", `{}`)
	d := b.waitStatus(t, res.ID, hookline.StatusFailed)
	if !strings.Contains(d.LastError, "timeout after 100ms") {
		t.Fatalf("error %q", d.LastError)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the attempt took %s: the server's timeout, not the endpoint's", took)
	}
}

// TestEndpointRetrySchedule checks that an endpoint's schedule replaces
// the server's: its length is the number of attempts, its delays apart
// from the server's.
func TestEndpointRetrySchedule(t *testing.T) {
	stores(t, delivery.Config{RetrySchedule: []time.Duration{0, time.Hour}}, func(t *testing.T, b *bundle) {
		rc := newReceiver(t, func(w http.ResponseWriter, r *received) { w.WriteHeader(500) })
		b.optionsEndpoint(t, rc.URL, func(ep *hookline.Endpoint) {
			ep.RetrySchedule = []time.Duration{0, 10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}
		})
		res := b.send(t, "a", `{}`)
		d := b.waitStatus(t, res.ID, hookline.StatusFailed)
		if d.Attempts != 4 || rc.count() != 4 {
			t.Fatalf("%d attempts (%d requests), want the endpoint's 4", d.Attempts, rc.count())
		}
	})
}

// TestEndpointBasicAuth checks the Authorization header of Basic auth.
func TestEndpointBasicAuth(t *testing.T) {
	b := setup(t, delivery.Config{})
	rc := newReceiver(t, nil)
	b.optionsEndpoint(t, rc.URL, func(ep *hookline.Endpoint) {
		ep.Auth = &hookline.EndpointAuth{Type: hookline.AuthBasic, Username: "hook", Password: "pa:ss"}
	})
	b.send(t, "a", `{}`)
	got := rc.next(t)
	req := &http.Request{Header: got.header}
	if u, p, ok := req.BasicAuth(); !ok || u != "hook" || p != "pa:ss" {
		t.Fatalf("Authorization %q", got.header.Get("Authorization"))
	}
}

// tokenServer is an OAuth2 token endpoint that hands out numbered tokens
// to one client, each living ttl seconds.
type tokenServer struct {
	*httptest.Server
	issued atomic.Int32
	ttl    atomic.Int32
	fail   atomic.Bool
	mu     sync.Mutex
	forms  []string
}

func newTokenServer(t *testing.T) *tokenServer {
	ts := &tokenServer{}
	ts.ttl.Store(3600)
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		_ = r.ParseForm()
		ts.mu.Lock()
		ts.forms = append(ts.forms, r.PostForm.Encode())
		ts.mu.Unlock()
		if ts.fail.Load() {
			w.WriteHeader(503)
			return
		}
		if !ok || id != "client" || secret != "s3cret" || r.PostForm.Get("grant_type") != "client_credentials" {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":"invalid_client"}`)
			return
		}
		n := ts.issued.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"tok%d","token_type":"Bearer","expires_in":%d}`, n, ts.ttl.Load())
	}))
	t.Cleanup(ts.Close)
	return ts
}

func oauthEndpoint(url string) func(ep *hookline.Endpoint) {
	return func(ep *hookline.Endpoint) {
		ep.Auth = &hookline.EndpointAuth{Type: hookline.AuthOAuth2ClientCredentials, TokenURL: url,
			ClientID: "client", ClientSecret: "s3cret", Scope: "webhooks"}
	}
}

// TestEndpointOAuth2 checks the client credentials grant: the token is
// asked once and kept for later requests, asked again once it expires,
// and again (once) when the receiver refuses it with a 401.
func TestEndpointOAuth2(t *testing.T) {
	tokens := newTokenServer(t)
	var refuse atomic.Value // a token the receiver answers 401 to
	refuse.Store("")
	b := setup(t, delivery.Config{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *received) {
		if r.header.Get("Authorization") == "Bearer "+refuse.Load().(string) {
			w.WriteHeader(401)
		}
	})
	b.optionsEndpoint(t, rc.URL, oauthEndpoint(tokens.URL))
	auth := func() string {
		t.Helper()
		res := b.send(t, "a", `{}`)
		b.waitStatus(t, res.ID, hookline.StatusDelivered)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return rc.requests[len(rc.requests)-1].header.Get("Authorization")
	}
	if a := auth(); a != "Bearer tok1" {
		t.Fatalf("first request: Authorization %q", a)
	}
	if a := auth(); a != "Bearer tok1" || tokens.issued.Load() != 1 {
		t.Fatalf("second request: Authorization %q, %d tokens issued: the token was not kept", a, tokens.issued.Load())
	}
	tokens.mu.Lock()
	form := tokens.forms[0]
	tokens.mu.Unlock()
	if form != "grant_type=client_credentials&scope=webhooks" {
		t.Fatalf("token request form %q", form)
	}
	refuse.Store("tok1")
	if a := auth(); a != "Bearer tok2" || tokens.issued.Load() != 2 {
		t.Fatalf("after a 401: Authorization %q, %d tokens issued", a, tokens.issued.Load())
	}
	// A token that expires at once (a lifetime under the renewal margin)
	// is asked for again on the next request.
	tokens.ttl.Store(1)
	refuse.Store("tok2")
	auth() // tok3, which lives 1 s, renewed 0.1 s early
	waitFor(t, "tok3 to expire", func() bool {
		return auth() == "Bearer tok4"
	})
}

// TestEndpointOAuth2Failures checks that a token endpoint that fails makes
// a failed attempt saying so, and a receiver that refuses every token gets
// two requests an attempt, not more.
func TestEndpointOAuth2Failures(t *testing.T) {
	tokens := newTokenServer(t)
	tokens.fail.Store(true)
	b := setup(t, delivery.Config{RetrySchedule: []time.Duration{0}})
	rc := newReceiver(t, func(w http.ResponseWriter, r *received) { w.WriteHeader(401) })
	b.optionsEndpoint(t, rc.URL, oauthEndpoint(tokens.URL))
	res := b.send(t, "a", `{}`)
	d := b.waitStatus(t, res.ID, hookline.StatusFailed)
	if d.LastError != "oauth2 token: token endpoint answered 503" || rc.count() != 0 {
		t.Fatalf("error %q, %d requests to the receiver", d.LastError, rc.count())
	}
	tokens.fail.Store(false)
	res = b.send(t, "a", `{}`)
	d = b.waitStatus(t, res.ID, hookline.StatusFailed)
	if d.LastStatusCode != 401 || rc.count() != 2 || tokens.issued.Load() != 2 {
		t.Fatalf("delivery %+v, %d requests, %d tokens: want one retry with a new token", d, rc.count(), tokens.issued.Load())
	}
	bad := b.optionsEndpoint(t, rc.URL, func(ep *hookline.Endpoint) {
		oauthEndpoint(tokens.URL)(ep)
		ep.Auth.ClientSecret = "wrong"
	})
	res = b.send(t, "a", `{}`)
	waitFor(t, "the wrong secret's attempt", func() bool {
		for _, d := range b.deliveries(t, res.ID) {
			if d.EndpointID == bad.ID && d.Status == hookline.StatusFailed {
				return d.LastError == "oauth2 token: token endpoint answered 401 (invalid_client)"
			}
		}
		return false
	})
}

// testCA is a certificate authority made for a test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue returns a PEM certificate and key signed by the CA.
func (ca *testCA) issue(t *testing.T, name string, usage x509.ExtKeyUsage) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		IPAddresses: nil, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	if name == "127.0.0.1" {
		tmpl.DNSNames, tmpl.IPAddresses = nil, []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

// TestEndpointMTLS checks that an endpoint's client certificate is
// presented to a receiver that requires one, over a connection kept for
// the endpoint's next requests; that a new certificate takes effect on the
// next request, over a new connection; and that an endpoint without one
// fails there.
func TestEndpointMTLS(t *testing.T) {
	ca := newTestCA(t)
	serverCert, serverKey := ca.issue(t, "127.0.0.1", x509.ExtKeyUsageServerAuth)
	pair, err := tls.X509KeyPair([]byte(serverCert), []byte(serverKey))
	if err != nil {
		t.Fatal(err)
	}
	stores(t, delivery.Config{RootCAs: ca.pool, RetrySchedule: []time.Duration{0}}, func(t *testing.T, b *bundle) {
		var mu sync.Mutex
		var seen []string // client certificates' names, in order
		var conns atomic.Int32
		recv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen = append(seen, r.TLS.PeerCertificates[0].Subject.CommonName)
			mu.Unlock()
		}))
		recv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				conns.Add(1)
			}
		}
		recv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.pool}
		recv.StartTLS()
		t.Cleanup(recv.Close)
		last := func() string {
			mu.Lock()
			defer mu.Unlock()
			return seen[len(seen)-1]
		}

		cert, key := ca.issue(t, "client-one", x509.ExtKeyUsageClientAuth)
		ep := b.optionsEndpoint(t, recv.URL, func(ep *hookline.Endpoint) {
			ep.Auth = &hookline.EndpointAuth{Type: hookline.AuthMTLS, Cert: cert, Key: key}
		})
		for range 2 {
			res := b.send(t, "a", `{}`)
			d := b.waitStatus(t, res.ID, hookline.StatusDelivered)
			if d.LastStatusCode != 200 || last() != "client-one" {
				t.Fatalf("delivery %+v, certificate %q", d, last())
			}
		}
		if n := conns.Load(); n != 1 {
			t.Fatalf("%d connections for two deliveries: the endpoint's transport was not kept", n)
		}
		cert2, key2 := ca.issue(t, "client-two", x509.ExtKeyUsageClientAuth)
		u := hookline.EndpointUpdate{SetAuth: true, Auth: &hookline.EndpointAuth{Type: hookline.AuthMTLS, Cert: cert2, Key: key2}}
		updated, err := b.store.UpdateEndpoint(context.Background(), ep.ID, u, hookline.Now())
		if err != nil {
			t.Fatal(err)
		}
		b.engine.EndpointChanged(ep.ID, updated)
		res := b.send(t, "a", `{}`)
		b.waitStatus(t, res.ID, hookline.StatusDelivered)
		if last() != "client-two" || conns.Load() != 2 {
			t.Fatalf("after the change: certificate %q, %d connections", last(), conns.Load())
		}
		b.endpointWithout(t, recv.URL)
	})
}

// endpointWithout checks that a plain endpoint cannot deliver to a
// receiver that requires a client certificate: the control of the mTLS
// test.
func (b *bundle) endpointWithout(t *testing.T, url string) {
	t.Helper()
	ep := b.endpoint(t, url, "plain")
	res := b.send(t, "plain", `{}`)
	var got *hookline.Delivery
	waitFor(t, "the plain endpoint's attempt", func() bool {
		for _, d := range b.deliveries(t, res.ID) {
			if d.EndpointID == ep.ID && d.Status == hookline.StatusFailed {
				got = d
				return true
			}
		}
		return false
	})
	if got.LastStatusCode != 0 {
		t.Fatalf("without a certificate: %+v", got)
	}
}
