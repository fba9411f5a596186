package sender

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url         string
		private     bool // allowed only with --allow-private-networks
		invalid     bool // never allowed
		nonStandard bool // an address in another form: never allowed
	}{
		{url: "https://example.com/hook"},
		{url: "http://93.184.216.34:8080/x"},
		{url: "https://[2606:4700::1111]/x"},
		{url: "http://127.0.0.1/x", private: true},
		{url: "http://localhost:9000/x", private: true},
		{url: "http://api.localhost/x", private: true},
		{url: "http://10.1.2.3/x", private: true},
		{url: "http://172.16.0.1/x", private: true},
		{url: "http://192.168.1.1/x", private: true},
		{url: "http://169.254.169.254/latest/meta-data", private: true},
		{url: "http://0.0.0.0/x", private: true},
		{url: "http://[::1]/x", private: true},
		{url: "http://[::ffff:127.0.0.1]/x", private: true},
		{url: "http://[64:ff9b::7f00:1]/x", private: true},
		{url: "http://[2002:7f00:1::]/x", private: true},
		{url: "http://[fe80::1]/x", private: true},
		{url: "http://[fc00::1]/x", private: true},
		{url: "http://xn--bcher-kva.example/x"},
		{url: "http://bücher.example/x"},
		{url: "http://EXAMPLE.com./x"},
		{url: "http://93.184.216.34:25/x"}, // any port on a public address
		{url: "http://LOCALHOST/x", private: true},
		{url: "http://localhost./x", private: true},
		{url: "http://api.localhost./x", private: true},
		{url: "http://ｌｏｃａｌｈｏｓｔ/x", private: true},
		{url: "http://[::ffff:7f00:1]/x", private: true},
		{url: "http://[fe80::1%25eth0]/x", private: true},
		{url: "http://2130706433/x", private: true, nonStandard: true},
		{url: "http://0x7f000001/x", private: true, nonStandard: true},
		{url: "http://0177.0.0.1/x", private: true, nonStandard: true},
		{url: "http://0x7f.1/x", private: true, nonStandard: true},
		{url: "http://127.1/x", private: true, nonStandard: true},
		{url: "http://127.0.0.1./x", private: true, nonStandard: true},
		{url: "http://0/x", private: true, nonStandard: true},
		{url: "http://①②⑦.0.0.1/x", private: true, nonStandard: true},
		{url: "http://１２７.０.０.１/x", private: true, nonStandard: true},
		{url: "http://127。0。0。1/x", private: true, nonStandard: true},
		{url: "http://169.254.43518/x", private: true, nonStandard: true}, // 169.254.169.254
		{url: "http://1.1/x", invalid: true, nonStandard: true},           // 1.0.0.1: public, but write it so
		{url: "http://1.2.3.256/x", invalid: true},
		{url: "http://1.2.3.4.5/x", invalid: true},
		{url: "http://08.1.2.3/x", invalid: true},
		{url: "http://a..b/x", invalid: true},
		{url: "http://example.0x/x", invalid: true},
		{url: "http://a⒈.com/x", invalid: true}, // ⒈: disallowed by IDNA
		{url: "ftp://example.com/x", invalid: true},
		{url: "/relative", invalid: true},
		{url: "https://", invalid: true},
		{url: "https://user:pw@example.com/", invalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := CheckURL(tt.url, false)
			if (err != nil) != (tt.private || tt.invalid) {
				t.Fatalf("CheckURL(%q, false) = %v", tt.url, err)
			}
			if err != nil && hookline.ErrorCode(err) != hookline.EINVALID {
				t.Fatalf("code %q, want invalid", hookline.ErrorCode(err))
			}
			if tt.private && !strings.Contains(err.Error(), "--allow-private-networks") {
				t.Fatalf("message %q does not name the flag", err)
			}
			err = CheckURL(tt.url, true)
			if (err != nil) != (tt.invalid || tt.nonStandard) {
				t.Fatalf("CheckURL(%q, true) = %v", tt.url, err)
			}
			if tt.nonStandard && !strings.Contains(err.Error(), "write it as") {
				t.Fatalf("message %q does not name the usual form", err)
			}
		})
	}
}

func TestClientRefusesPrivateAtDialTime(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	// A host name that resolves to loopback passes CheckURL but not the dial.
	url := strings.Replace(srv.URL, "127.0.0.1", "localtest.invalid", 1)
	c := newClient(Destinations{}, nil, 5*time.Second, 4, nil)
	c.Transport.(*transport).base.DialContext = guardedDialer(Destinations{}, "127.0.0.1")
	req, _ := http.NewRequestWithContext(context.Background(), "POST", url, nil)
	_, err := c.Do(req)
	if err == nil {
		t.Fatal("dial to loopback was allowed")
	}
	if r := classifyError(err, time.Second); r.Kind != KindRefused || !strings.Contains(r.Err, "--allow-private-networks") {
		t.Fatalf("classified as %q %q", r.Kind, r.Err)
	}

	ok := newClient(Destinations{AllowPrivate: true}, nil, 5*time.Second, 4, nil)
	ok.Transport.(*transport).base.DialContext = guardedDialer(Destinations{AllowPrivate: true}, "127.0.0.1")
	req, _ = http.NewRequestWithContext(context.Background(), "POST", url, nil)
	resp, err := ok.Do(req)
	if err != nil {
		t.Fatalf("allowed client: %v", err)
	}
	resp.Body.Close()
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	c := newClient(Destinations{AllowPrivate: true}, nil, 5*time.Second, 4, nil)
	resp, err := c.Post(srv.URL, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || hits != 1 {
		t.Fatalf("status %d after %d requests, want 302 after 1", resp.StatusCode, hits)
	}
}

// guardedDialer resolves every host to ip, as a DNS answer (or a rebinding
// one) would, and dials through the real guard.
func guardedDialer(dest Destinations, ip string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second, Control: dest.newGuard()}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		return d.DialContext(ctx, network, net.JoinHostPort(ip, port))
	}
}

func TestSendRefusesHugeResponseHeaders(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		big := strings.Repeat("x", 8<<10)
		for i := range 16 { // 128 KiB of headers: over the cap, far under Go's default 10 MB
			w.Header().Set(fmt.Sprintf("X-Junk-%d", i), big)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	s := New(Options{AllowPrivateNetworks: true, Timeout: 5 * time.Second, IdleConnsPerHost: 4})
	r := s.Send(context.Background(), &Request{URL: srv.URL, ID: "msg_1", Timestamp: 1, Signature: "v1,x", Body: []byte("{}")}, time.Now())
	if r.Success || !strings.Contains(r.Err, "response headers larger than 64 KiB") {
		t.Fatalf("a 128 KiB header answer gave success=%v err=%q; want a failure naming the cap", r.Success, r.Err)
	}
}

// TestSendAbortedIsNotATimeout tells apart an attempt that its caller ended
// (Aborted: no failure of the receiver) from one that ran out of the
// sender's own time (a Timeout, which is).
func TestSendAbortedIsNotATimeout(t *testing.T) {
	arrived, release := make(chan struct{}, 2), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	defer srv.Close()
	defer close(release)
	req := &Request{URL: srv.URL, ID: "msg_1", Timestamp: 1, Signature: "v1,x", Body: []byte("{}")}

	s := New(Options{AllowPrivateNetworks: true, Timeout: time.Minute, IdleConnsPerHost: 4})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()
	r := s.Send(ctx, req, time.Now())
	if !r.Aborted || r.Timeout || r.Kind != "" || r.Success {
		t.Fatalf("cancelled attempt: %+v; want Aborted with no Kind", r)
	}

	s = New(Options{AllowPrivateNetworks: true, Timeout: 50 * time.Millisecond, IdleConnsPerHost: 4})
	r = s.Send(context.Background(), req, time.Now())
	if r.Aborted || !r.Timeout || r.Kind != KindTimeout {
		t.Fatalf("timed-out attempt: %+v; want a Timeout", r)
	}
}

// TestSendAsksForNoCompression checks that attempts do not ask receivers
// to compress their answers: at most the first KiB is kept, most answers
// are short, and the header and the decompression cost every attempt.
func TestSendAsksForNoCompression(t *testing.T) {
	got := make(chan []string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Values("Accept-Encoding")
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	s := New(Options{AllowPrivateNetworks: true, Timeout: 5 * time.Second, IdleConnsPerHost: 1})
	defer s.CloseIdleConnections()
	r := s.Send(context.Background(), &Request{URL: srv.URL, ID: "msg_1", Timestamp: 1, Signature: "v1,x", Body: []byte("{}")}, time.Now())
	if !r.Success || r.Body != "ok" {
		t.Fatalf("result %+v, want a success with body ok", r)
	}
	if v := <-got; len(v) != 0 {
		t.Fatalf("Accept-Encoding %q, want none", v)
	}
}
