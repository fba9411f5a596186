package sender

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"time"

	"github.com/hookline/hookline"
)

// Profile is how the requests to one endpoint differ from plain ones: its
// headers, timeout, authentication and TLS client certificate. Make one
// with Sender.Profile for each version of an endpoint and keep it while the
// endpoint does not change (SameProfile): it caches the endpoint's OAuth2
// token and, for mTLS, holds a transport of its own. A nil *Profile is the
// plain one. It is safe for concurrent use.
type Profile struct {
	header  http.Header   // added to each request, canonical names
	timeout time.Duration // 0: the sender's
	auth    string        // the Authorization value of Basic auth
	oauth   *tokenSource  // nil: no OAuth2
	client  *http.Client  // nil: the sender's (no client certificate)
}

// Profile returns the profile of ep's requests, nil when they are plain
// (ep.HasRequestOptions is false). Its error, for an mTLS certificate and
// key that do not load, names no secret.
func (s *Sender) Profile(ep *hookline.Endpoint) (*Profile, error) {
	if !ep.HasRequestOptions() {
		return nil, nil
	}
	p := &Profile{timeout: min(ep.Timeout, s.timeout)}
	if len(ep.Headers) > 0 {
		p.header = make(http.Header, len(ep.Headers))
		for k, v := range ep.Headers {
			p.header[http.CanonicalHeaderKey(k)] = []string{v}
		}
	}
	if a := ep.Auth; a != nil {
		switch a.Type {
		case hookline.AuthBasic:
			p.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(a.Username+":"+a.Password))
		case hookline.AuthOAuth2ClientCredentials:
			p.oauth = &tokenSource{url: a.TokenURL, id: a.ClientID, secret: a.ClientSecret, scope: a.Scope, now: time.Now}
		case hookline.AuthMTLS:
			c, err := s.mtlsClient(a.Cert, a.Key)
			if err != nil {
				return nil, err
			}
			p.client = c
		default:
			return nil, fmt.Errorf("auth: unknown type %q", a.Type)
		}
	}
	return p, nil
}

// mtlsClient returns a client like the sender's (same dial guard, proxy,
// limits and roots) that presents a client certificate.
func (s *Sender) mtlsClient(certPEM, keyPEM string) (*http.Client, error) {
	cert, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		return nil, errors.New("auth: the mtls certificate and key do not load")
	}
	var base *http.Transport
	switch t := s.client.Transport.(type) {
	case *transport:
		base = t.base
	case *http.Transport:
		base = t
	default:
		return nil, errors.New("auth: mtls needs an *http.Transport")
	}
	// The certificate is presented over TLS, which net/http's Transport
	// makes: plain-HTTP requests of the endpoint carry none.
	t := base.Clone()
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	t.TLSClientConfig.Certificates = []tls.Certificate{cert}
	c := *s.client
	c.Transport = t
	return &c, nil
}

// Close lets go of the idle connections of the profile's own transport,
// if it has one. Requests in flight finish.
func (p *Profile) Close() {
	if p != nil && p.client != nil {
		p.client.CloseIdleConnections()
	}
}

// SameProfile reports whether a and b (either may be nil) make the same
// profile, so that a kept Profile of a serves b.
func SameProfile(a, b *hookline.Endpoint) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Timeout != b.Timeout || !maps.Equal(a.Headers, b.Headers) || (a.Auth == nil) != (b.Auth == nil) {
		return false
	}
	return a.Auth == nil || *a.Auth == *b.Auth
}
