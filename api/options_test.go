package api

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

// optionsJSON is the request options of an endpoint as the API shows them.
type optionsJSON struct {
	ID            string                 `json:"id"`
	Headers       map[string]string      `json:"headers"`
	Timeout       *string                `json:"timeout"`
	RetrySchedule []string               `json:"retry_schedule"`
	Auth          *hookline.EndpointAuth `json:"auth"`
}

// TestEndpointOptions checks headers, timeout, retry_schedule and auth:
// kept and shown on the endpoint's own answers, never in lists (but the
// auth type) nor in the logs, left alone by a PATCH without them, removed
// by null.
func TestEndpointOptions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const body = `{"url":"https://example.com/","headers":{"x-api-key":"hdr-secret-1"},"timeout":"5s",
		"retry_schedule":["0s","1m","10m"],"auth":{"type":"basic","username":"hook","password":"pw-secret-1"}}`
	var created optionsJSON
	b.do(t, "POST", "/v1/endpoints", body).ok(t, 201, &created)
	want := optionsJSON{ID: created.ID, Headers: map[string]string{"X-Api-Key": "hdr-secret-1"}, Timeout: ptr("5s"),
		RetrySchedule: []string{"0s", "1m0s", "10m0s"},
		Auth:          &hookline.EndpointAuth{Type: "basic", Username: "hook", Password: "pw-secret-1"}}
	wantOptions(t, "POST", created, want)
	var got optionsJSON
	b.do(t, "GET", "/v1/endpoints/"+created.ID, "").ok(t, 200, &got)
	wantOptions(t, "GET", got, want)
	b.do(t, "PATCH", "/v1/endpoints/"+created.ID, `{"description":"x"}`).ok(t, 200, &got)
	wantOptions(t, "PATCH without them", got, want)

	list := b.do(t, "GET", "/v1/endpoints", "")
	var page struct{ Data []optionsJSON }
	list.ok(t, 200, &page)
	if strings.Contains(string(list.body), "secret-1") || len(page.Data) != 1 || page.Data[0].Headers != nil ||
		page.Data[0].Auth == nil || *page.Data[0].Auth != (hookline.EndpointAuth{Type: "basic"}) {
		t.Fatalf("the list shows %s", list.body)
	}
	if page.Data[0].Timeout == nil || *page.Data[0].Timeout != "5s" || len(page.Data[0].RetrySchedule) != 3 {
		t.Fatalf("the list hides the timeout or schedule: %s", list.body)
	}

	got = optionsJSON{}
	b.do(t, "PATCH", "/v1/endpoints/"+created.ID, `{"headers":{"X-Other":"v"},"timeout":"250ms","retry_schedule":["0s"]}`).ok(t, 200, &got)
	want.Headers, want.Timeout, want.RetrySchedule = map[string]string{"X-Other": "v"}, ptr("250ms"), []string{"0s"}
	wantOptions(t, "PATCH", got, want)
	got = optionsJSON{}
	b.do(t, "PATCH", "/v1/endpoints/"+created.ID, `{"headers":null,"timeout":null,"retry_schedule":null,"auth":null}`).ok(t, 200, &got)
	wantOptions(t, "PATCH null", got, optionsJSON{ID: created.ID})
	if logs := b.logs.String(); strings.Contains(logs, "secret-1") {
		t.Fatalf("the logs hold a secret: %s", logs)
	}
}

func wantOptions(t *testing.T, what string, got, want optionsJSON) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("%s: options %s, want %s", what, g, w)
	}
}

// selfSigned returns a PEM certificate and key, and the key of another.
func selfSigned(t *testing.T) (cert, key, otherKey string) {
	t.Helper()
	var keys []string
	var k0 *ecdsa.PrivateKey
	for i := range 2 {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, _ := x509.MarshalECPrivateKey(k)
		keys = append(keys, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})))
		if i == 0 {
			k0 = k
		}
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k0.PublicKey, k0)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), keys[0], keys[1]
}

// TestEndpointAuthTypes checks that each auth type is kept as given.
func TestEndpointAuthTypes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cert, key, _ := selfSigned(t)
	for _, a := range []hookline.EndpointAuth{
		{Type: "basic", Username: "u", Password: ""},
		{Type: "oauth2_client_credentials", TokenURL: "https://auth.example/token", ClientID: "id", ClientSecret: "s", Scope: "a b"},
		{Type: "oauth2_client_credentials", TokenURL: "https://auth.example/token", ClientID: "id", ClientSecret: "s"},
		{Type: "mtls", Cert: cert, Key: key},
	} {
		raw, _ := json.Marshal(a)
		if a.Type == "basic" {
			raw = []byte(`{"type":"basic","username":"u","password":""}`)
		}
		var got optionsJSON
		b.do(t, "POST", "/v1/endpoints", `{"url":"https://example.com/","auth":`+string(raw)+`}`).ok(t, 201, &got)
		b.do(t, "GET", "/v1/endpoints/"+got.ID, "").ok(t, 200, &got)
		if got.Auth == nil || *got.Auth != a {
			t.Fatalf("auth %+v, want %+v", got.Auth, a)
		}
	}
}

// TestEndpointOptionsRefused checks every bad request option: a 400 that
// names the field (and the header), on create and on update, which then
// changes nothing.
func TestEndpointOptionsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.MaxDeliveryTimeout = 10 * time.Second })
	cert, key, otherKey := selfSigned(t)
	pemJSON := func(s string) string { v, _ := json.Marshal(s); return string(v) }
	many := make([]string, hookline.MaxHeaders+1)
	for i := range many {
		many[i] = fmt.Sprintf(`"X-H%d":"v"`, i)
	}
	longSchedule := `["0s"` + strings.Repeat(`,"1s"`, hookline.MaxRetrySchedule) + `]`
	for _, tc := range []struct{ name, field, want string }{
		{"HeadersNotObject", `"headers":["a"]`, "headers: must be an object"},
		{"HeaderNotString", `"headers":{"X-A":1}`, "headers: must be an object"},
		{"TooManyHeaders", `"headers":{` + strings.Join(many, ",") + `}`, "headers: at most 20"},
		{"HeaderName", `"headers":{"X A":"v"}`, `"X A" is not a header name`},
		{"HeaderNameEmpty", `"headers":{"":"v"}`, `"" is not a header name`},
		{"HeaderNameColon", `"headers":{"X:A":"v"}`, `"X:A" is not a header name`},
		{"WebhookHeader", `"headers":{"webhook-signature":"v"}`, "headers.webhook-signature"},
		{"WebhookHeaderOther", `"headers":{"Webhook-Extra":"v"}`, "headers.Webhook-Extra"},
		{"ContentType", `"headers":{"content-type":"text/plain"}`, "headers.content-type"},
		{"UserAgent", `"headers":{"User-Agent":"x"}`, "headers.User-Agent"},
		{"Host", `"headers":{"HOST":"x"}`, "headers.HOST"},
		{"ContentLength", `"headers":{"Content-Length":"1"}`, "headers.Content-Length"},
		{"Connection", `"headers":{"Connection":"close"}`, "headers.Connection"},
		{"TransferEncoding", `"headers":{"Transfer-Encoding":"chunked"}`, "headers.Transfer-Encoding"},
		{"Upgrade", `"headers":{"Upgrade":"h2c"}`, "headers.Upgrade"},
		{"TE", `"headers":{"te":"trailers"}`, "headers.te"},
		{"KeepAlive", `"headers":{"Keep-Alive":"1"}`, "headers.Keep-Alive"},
		{"ProxyAuthorization", `"headers":{"Proxy-Authorization":"x"}`, "headers.Proxy-Authorization"},
		{"HeaderValueNewline", `"headers":{"X-A":"a\r\nX-B: b"}`, "headers.X-A: the value holds a control character"},
		{"HeaderTwice", `"headers":{"X-A":"1","x-a":"2"}`, "given twice"},
		{"HeaderTooLong", `"headers":{"X-A":"` + strings.Repeat("a", hookline.MaxHeaderBytes) + `"}`, "headers.X-A: name and value"},
		{"AuthorizationWithAuth", `"headers":{"Authorization":"x"},"auth":{"type":"basic","username":"u","password":"p"}`, "headers.Authorization"},
		{"TimeoutNotString", `"timeout":5`, "timeout: must be a duration"},
		{"TimeoutBad", `"timeout":"5 seconds"`, "timeout: \"5 seconds\" is not a duration"},
		{"TimeoutZero", `"timeout":"0s"`, "timeout: must be at least 1ms"},
		{"TimeoutNegative", `"timeout":"-1s"`, "timeout: must be at least 1ms"},
		{"TimeoutOverMax", `"timeout":"11s"`, "timeout: at most the server's delivery timeout, 10s"},
		{"ScheduleNotArray", `"retry_schedule":"0s,1m"`, "retry_schedule: must be an array"},
		{"ScheduleEmpty", `"retry_schedule":[]`, "retry_schedule: from 1 to 50 entries, not 0"},
		{"ScheduleTooLong", `"retry_schedule":` + longSchedule, "retry_schedule: from 1 to 50 entries"},
		{"ScheduleFirstNotZero", `"retry_schedule":["1s","1m"]`, "retry_schedule[0]: must be \"0s\""},
		{"ScheduleBadEntry", `"retry_schedule":["0s","1 minute"]`, "retry_schedule[1]"},
		{"ScheduleNegative", `"retry_schedule":["0s","-1m"]`, "retry_schedule[1]: must be from 0s"},
		{"ScheduleTooLate", `"retry_schedule":["0s","200h"]`, "retry_schedule[1]: must be from 0s to 168h0m0s"},
		{"ScheduleNotStrings", `"retry_schedule":[0,1]`, "retry_schedule: must be an array"},
		{"AuthNotObject", `"auth":"basic"`, "auth"},
		{"AuthNoType", `"auth":{"username":"u"}`, "auth.type: required"},
		{"AuthUnknownType", `"auth":{"type":"digest"}`, "auth.type: must be"},
		{"AuthUnknownField", `"auth":{"type":"basic","username":"u","password":"p","realm":"x"}`, "realm"},
		{"BasicNoUsername", `"auth":{"type":"basic","password":"p"}`, "auth.username: required for basic"},
		{"BasicNoPassword", `"auth":{"type":"basic","username":"u"}`, "auth.password: required for basic"},
		{"BasicColon", `"auth":{"type":"basic","username":"a:b","password":"p"}`, "auth.username: must not contain ':'"},
		{"BasicOtherTypeField", `"auth":{"type":"basic","username":"u","password":"p","client_id":"c"}`, "auth.client_id: not a field of basic"},
		{"BasicControl", `"auth":{"type":"basic","username":"u","password":"p\n"}`, "auth.password: holds a control character"},
		{"OAuthNoTokenURL", `"auth":{"type":"oauth2_client_credentials","client_id":"c","client_secret":"s"}`, "auth.token_url: required"},
		{"OAuthNoClientID", `"auth":{"type":"oauth2_client_credentials","token_url":"https://a.example/","client_secret":"s"}`, "auth.client_id: required"},
		{"OAuthNoSecret", `"auth":{"type":"oauth2_client_credentials","token_url":"https://a.example/","client_id":"c"}`, "auth.client_secret: required"},
		{"OAuthTokenURLScheme", `"auth":{"type":"oauth2_client_credentials","token_url":"ftp://a.example/","client_id":"c","client_secret":"s"}`, "auth.token_url: the scheme"},
		{"OAuthTokenURLPrivate", `"auth":{"type":"oauth2_client_credentials","token_url":"http://10.0.0.1/token","client_id":"c","client_secret":"s"}`, "auth.token_url: a private address"},
		{"OAuthTokenURLCredentials", `"auth":{"type":"oauth2_client_credentials","token_url":"https://u:p@a.example/","client_id":"c","client_secret":"s"}`, "auth.token_url: must not carry credentials"},
		{"MTLSNoKey", `"auth":{"type":"mtls","cert":` + pemJSON(cert) + `}`, "auth.key: required for mtls"},
		{"MTLSGarbage", `"auth":{"type":"mtls","cert":"not a pem","key":"nor this"}`, "auth: cert and key must be"},
		{"MTLSOtherKey", `"auth":{"type":"mtls","cert":` + pemJSON(cert) + `,"key":` + pemJSON(otherKey) + `}`, "auth: cert and key must be"},
		{"MTLSOverHTTP", `"url":"http://example.com/","auth":{"type":"mtls","cert":` + pemJSON(cert) + `,"key":` + pemJSON(key) + `}`, "auth: mtls needs an https:// url"},
		{"MTLSKeyAsCert", `"auth":{"type":"mtls","cert":` + pemJSON(key) + `,"key":` + pemJSON(key) + `}`, "auth: cert and key must be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"url":"https://example.com/",` + tc.field + `}`
			if strings.HasPrefix(tc.field, `"url"`) {
				body = `{` + tc.field + `}`
			}
			b.do(t, "POST", "/v1/endpoints", body).wantError(t, 400, hookline.EINVALID, tc.want)
		})
	}
	// On update: refused, and nothing changes.
	var ep optionsJSON
	b.do(t, "POST", "/v1/endpoints", `{"url":"https://example.com/","headers":{"X-A":"1"}}`).ok(t, 201, &ep)
	b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, `{"headers":{"X-A":"2"},"timeout":"1h"}`).wantError(t, 400, hookline.EINVALID, "timeout")
	b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, `{"headers":{"Host":"x"}}`).wantError(t, 400, hookline.EINVALID, "headers.Host")
	var got optionsJSON
	b.do(t, "GET", "/v1/endpoints/"+ep.ID, "").ok(t, 200, &got)
	if got.Headers["X-A"] != "1" || got.Timeout != nil {
		t.Fatalf("a refused PATCH changed the options: %+v", got)
	}
	// mTLS and an http:// URL, given one at a time.
	mtls := `{"type":"mtls","cert":` + pemJSON(cert) + `,"key":` + pemJSON(key) + `}`
	b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, `{"url":"http://example.com/"}`).ok(t, 200, nil)
	b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, `{"auth":`+mtls+`}`).wantError(t, 400, hookline.EINVALID, "auth: mtls needs an https:// url")
	b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, `{"url":"https://example.com/","auth":`+mtls+`}`).ok(t, 200, nil)
	b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, `{"url":"http://example.com/"}`).wantError(t, 400, hookline.EINVALID, "auth: mtls needs an https:// url")
	b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, `{"url":"http://example.com/","auth":null}`).ok(t, 200, nil)
	// The timeout's bound is the server's delivery timeout.
	b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, `{"timeout":"10s"}`).ok(t, 200, &got)
	if got.Timeout == nil || *got.Timeout != "10s" {
		t.Fatalf("timeout %v", got.Timeout)
	}
}

func ptr[T any](v T) *T { return &v }
