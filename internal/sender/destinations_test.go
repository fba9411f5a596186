package sender

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

func TestParsePrefixes(t *testing.T) {
	t.Parallel()
	got, err := ParsePrefixes(" 127.0.0.1/32, 10.1.0.0/16,fd00::/8,192.168.1.7,,::1 ")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("fd00::/8"),
		netip.MustParsePrefix("192.168.1.7/32"), netip.MustParsePrefix("::1/128")}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if p, err := ParsePrefixes(""); err != nil || len(p) != 0 {
		t.Fatalf("empty: %v, %v", p, err)
	}
	for _, bad := range []string{"10.1.2.3/16", "10.1.0.0/33", "example.com", "10.1.0.0/16,x", "fe80::1%eth0"} {
		if _, err := ParsePrefixes(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := ParsePrefixes("10.1.2.3/16"); !strings.Contains(err.Error(), "10.1.0.0/16") {
		t.Errorf("error %q does not name the prefix meant", err)
	}
}

func TestAllowDestinations(t *testing.T) {
	t.Parallel()
	d := Destinations{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("fd00:1::/32")}}
	for _, tt := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:9000/hook", true},
		{"http://localhost:9000/hook", true}, // 127.0.0.1 is allowed
		{"http://10.1.255.3/hook", true},
		{"http://[fd00:1::5]/hook", true},
		{"https://example.com/hook", true},
		{"http://127.0.0.2/hook", false},
		{"http://10.2.0.1/hook", false},
		{"http://169.254.169.254/latest/meta-data", false},
		{"http://[::ffff:127.0.0.1]/hook", false}, // mapped: not the allowed IPv4 prefix
		{"http://[::1]/hook", false},
		{"http://127.1/hook", false}, // allowed, but written so resolvers disagree
	} {
		err := d.CheckURL(tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("CheckURL(%q) = %v", tt.url, err)
		} else if err != nil && (hookline.ErrorCode(err) != hookline.EINVALID || !strings.Contains(err.Error(), "--allow-destinations") && !strings.Contains(err.Error(), "write it as")) {
			t.Errorf("CheckURL(%q) = %v: not invalid, or names neither flag", tt.url, err)
		}
	}
	if err := (Destinations{}).CheckURL("http://10.1.2.3/"); err == nil || !strings.Contains(err.Error(), "--allow-destinations 10.1.2.3/32") {
		t.Fatalf("the message does not say which prefix to allow: %v", err)
	}
	// ::1 alone allows localhost too.
	if err := (Destinations{Allow: []netip.Prefix{netip.MustParsePrefix("::1/128")}}).CheckURL("http://localhost/"); err != nil {
		t.Fatal(err)
	}
}

// TestGuardAllowDestinations checks the dial-time guard: an allowed prefix
// is dialled, others are refused with a message naming the flags, and
// public addresses are allowed on any port.
func TestGuardAllowDestinations(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	url := strings.Replace(srv.URL, "127.0.0.1", "receiver.invalid", 1)
	for _, tt := range []struct {
		allow string
		ok    bool
	}{{"127.0.0.1/32", true}, {"127.0.0.0/8", true}, {"10.0.0.0/8", false}, {"", false}} {
		allow, _ := ParsePrefixes(tt.allow)
		dest := Destinations{Allow: allow}
		c := newClient(dest, nil, 5*time.Second, 4, nil)
		c.Transport.(*transport).base.DialContext = guardedDialer(dest, "127.0.0.1")
		req, _ := http.NewRequestWithContext(context.Background(), "POST", url, nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		if (err == nil) != tt.ok {
			t.Fatalf("allow %q: %v", tt.allow, err)
		}
		if err != nil {
			r := classifyError(err, time.Second)
			if r.Kind != KindRefused || !strings.Contains(r.Err, "127.0.0.1") || !strings.Contains(r.Err, "--allow-destinations 127.0.0.1/32") {
				t.Fatalf("allow %q: classified as %q %q", tt.allow, r.Kind, r.Err)
			}
		}
	}
	guard := Destinations{}.newGuard()
	for _, addr := range []string{"93.184.216.34:25", "93.184.216.34:443", "93.184.216.34:65535", "[2606:4700::1111]:22"} {
		if err := guard(network(addr), addr, nil); err != nil {
			t.Errorf("public %s refused: %v", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:80", "10.0.0.1:443", "169.254.169.254:80", "[::1]:80", "[64:ff9b::7f00:1]:80"} {
		if err := guard(network(addr), addr, nil); err == nil {
			t.Errorf("%s allowed", addr)
		}
	}
	if (Destinations{AllowPrivate: true}).newGuard() != nil {
		t.Error("a guard with --allow-private-networks")
	}
}

// network is the network the dialer passes to Control for addr.
func network(addr string) string {
	if strings.HasPrefix(addr, "[") {
		return "tcp6"
	}
	return "tcp4"
}
