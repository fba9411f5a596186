package sender

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseHost(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		host        string
		name, addr  string // want
		nonStandard bool
		err         string // an error containing this
	}{
		{host: "example.com", name: "example.com"},
		{host: "Example.COM.", name: "example.com"},
		{host: "bücher.example", name: "xn--bcher-kva.example"},
		{host: "ＥＸＡＭＰＬＥ.com", name: "example.com"},
		{host: "127.0.0.1", addr: "127.0.0.1"},
		{host: "::1", addr: "::1"},
		{host: "fe80::1%eth0", addr: "fe80::1"},
		{host: "::ffff:127.0.0.1", addr: "::ffff:127.0.0.1"},
		{host: "2130706433", addr: "127.0.0.1", nonStandard: true},
		{host: "0x7f000001", addr: "127.0.0.1", nonStandard: true},
		{host: "0X7F000001", addr: "127.0.0.1", nonStandard: true},
		{host: "0177.0.0.1", addr: "127.0.0.1", nonStandard: true},
		{host: "0177.0.0.01", addr: "127.0.0.1", nonStandard: true},
		{host: "127.1", addr: "127.0.0.1", nonStandard: true},
		{host: "127.0.1", addr: "127.0.0.1", nonStandard: true},
		{host: "127.0.0.1.", addr: "127.0.0.1", nonStandard: true},
		{host: "0x", addr: "0.0.0.0", nonStandard: true},
		{host: "0", addr: "0.0.0.0", nonStandard: true},
		{host: "4294967295", addr: "255.255.255.255", nonStandard: true},
		{host: "①②⑦.0.0.1", addr: "127.0.0.1", nonStandard: true},
		{host: "\u200b127.0.0.1", addr: "127.0.0.1", nonStandard: true}, // a zero-width space, mapped away
		{host: "4294967296", err: "not an IPv4 address"},
		{host: "1.2.3.256", err: "not an IPv4 address"},
		{host: "1.2.65536", err: "not an IPv4 address"},
		{host: "256.1", err: "not an IPv4 address"},
		{host: "1.2.3.4.5", err: "not an IPv4 address"},
		{host: "09", err: "not an IPv4 address"},
		{host: "a.1", err: "not an IPv4 address"},
		{host: "example.123", err: "not an IPv4 address"},
		{host: "1..1", err: "empty label"},
		{host: ".example.com", err: "empty label"},
		{host: ".", err: "empty label"},
		{host: "", err: "empty host"},
		{host: "::1::", err: "not a valid IPv6"},
		{host: "1.2.3.4:80", err: "not a valid IPv6"},
		{host: "a\u2488.com", err: "internationalized"},
	} {
		h, err := ParseHost(tt.host)
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseHost(%q) = %+v, %v; want an error with %q", tt.host, h, err, tt.err)
			}
		case err != nil:
			t.Errorf("ParseHost(%q): %v", tt.host, err)
		case h.Name != tt.name || (tt.addr != "") != h.Addr.IsValid() || tt.addr != "" && h.Addr.String() != tt.addr || h.NonStandard != tt.nonStandard:
			t.Errorf("ParseHost(%q) = %+v, want name %q addr %q non-standard %v", tt.host, h, tt.name, tt.addr, tt.nonStandard)
		}
	}
}

// FuzzParseHost checks that ParseHost never panics, returns either a
// lower-case name or an address, agrees with netip on standard addresses,
// and reads its own output back unchanged.
func FuzzParseHost(f *testing.F) {
	for _, s := range []string{"example.com", "127.0.0.1", "2130706433", "0x7f.1", "0177.0.0.1.", "①②⑦.0.0.1",
		"::ffff:7f00:1", "fe80::1%25eth0", "bücher.example", "1..1", "0x", "a.0x1g", "ｌｏｃａｌｈｏｓｔ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		h, err := ParseHost(host)
		if a, perr := netip.ParseAddr(host); perr == nil && a.Zone() == "" {
			if err != nil || h.Addr != a || h.NonStandard {
				t.Fatalf("ParseHost(%q) = %+v, %v; netip reads %s", host, h, err, a)
			}
		}
		if err != nil {
			return
		}
		if h.Name != "" {
			if h.Addr.IsValid() || h.NonStandard || strings.HasSuffix(h.Name, ".") || strings.Contains(h.Name, "..") ||
				strings.ToLower(h.Name) != h.Name || !isASCII(h.Name) {
				t.Fatalf("ParseHost(%q) = %+v", host, h)
			}
			if again, err := ParseHost(h.Name); err != nil || again != h {
				t.Fatalf("ParseHost(%q) = %+v, but ParseHost(%q) = %+v, %v", host, h, h.Name, again, err)
			}
			return
		}
		if !h.Addr.IsValid() || h.Addr.Zone() != "" {
			t.Fatalf("ParseHost(%q) = %+v: neither a name nor an address", host, h)
		}
		if again, err := ParseHost(h.Addr.String()); err != nil || again.Addr != h.Addr || again.NonStandard {
			t.Fatalf("ParseHost(%q) = %+v, but ParseHost(%q) = %+v, %v", host, h, h.Addr, again, err)
		}
	})
}
