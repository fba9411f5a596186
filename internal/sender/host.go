package sender

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// Host is the host of an endpoint URL as the delivery client dials it.
type Host struct {
	// Name is a host name: lower-case ASCII, IDNA-mapped, without a
	// trailing dot. It is "" when the host is an IP address.
	Name string
	// Addr is the address of an IP host, without a zone; the zero Addr for
	// a name.
	Addr netip.Addr
	// NonStandard is set when Addr was written in another form than
	// dotted decimal (IPv4) or RFC 4291 text (IPv6): 2130706433,
	// 0x7f000001, 0177.0.0.1, 127.1, ①②⑦.0.0.1. Such a host is an address
	// to some resolvers (getaddrinfo, browsers) and a name to others (Go's
	// own resolver).
	NonStandard bool
}

// ParseHost parses the host of a URL (url.URL.Hostname) the way the
// delivery client and the resolvers it may reach would: a non-ASCII host is
// mapped by IDNA (UTS #46, as net/http does before dialling), ASCII is
// lower-cased, one trailing dot is dropped, and a host whose last label is
// a number is an IPv4 address in any of the forms of inet_aton and the
// WHATWG URL standard: one to four parts, each decimal, octal (leading 0)
// or hexadecimal (0x), the last filling the remaining bytes. It returns an
// error for a host that no resolver would dial: an empty label, a host
// ending in a number that is not an IPv4 address, an invalid IPv6 address
// or IDN.
func ParseHost(host string) (Host, error) {
	if host == "" {
		return Host{}, errors.New("empty host")
	}
	if strings.Contains(host, ":") { // only IPv6 literals have colons
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return Host{}, fmt.Errorf("%.100q is not a valid IPv6 address", host)
		}
		return Host{Addr: a.WithZone("")}, nil
	}
	name := host
	if !isASCII(name) {
		var err error
		if name, err = idna.Lookup.ToASCII(name); err != nil {
			return Host{}, fmt.Errorf("%.100q is not a valid internationalized domain name", host)
		}
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if name == "" || name[0] == '.' || name[len(name)-1] == '.' || strings.Contains(name, "..") {
		return Host{}, fmt.Errorf("%.100q has an empty label", host)
	}
	last := name[strings.LastIndexByte(name, '.')+1:]
	if !isNumber(last) {
		return Host{Name: name}, nil
	}
	a, ok := parseIPv4(name)
	if !ok {
		return Host{}, fmt.Errorf("%.100q ends in a number but is not an IPv4 address", host)
	}
	return Host{Addr: a, NonStandard: a.String() != host}, nil
}

// isNumber reports whether a label is a number to the WHATWG IPv4 parser:
// decimal digits, or 0x followed by hexadecimal digits (or by nothing).
func isNumber(label string) bool {
	if label == "" {
		return false
	}
	digits, base := label, "0123456789"
	if len(label) >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X') {
		digits, base = label[2:], "0123456789abcdefABCDEF"
	}
	for i := range len(digits) {
		if strings.IndexByte(base, digits[i]) < 0 {
			return false
		}
	}
	return true
}

// parseIPv4 parses one to four dot-separated numbers (decimal, 0-prefixed
// octal, 0x-prefixed hexadecimal) as an IPv4 address: each number but the
// last is one byte, and the last fills the bytes that remain.
func parseIPv4(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, p := range parts {
		n, ok := parseNumber(p)
		if !ok {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 {
			if n > 255 {
				return netip.Addr{}, false
			}
			v = v<<8 | n
			continue
		}
		rest := uint(8 * (4 - i)) // bits the last number fills
		if n >= 1<<rest {
			return netip.Addr{}, false
		}
		v = v<<rest | n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// parseNumber reads one part of an IPv4 address in the WHATWG forms; "0x"
// alone is 0. Values over 32 bits are refused.
func parseNumber(p string) (uint64, bool) {
	base := 10
	switch {
	case len(p) >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'):
		p, base = p[2:], 16
		if p == "" {
			return 0, true
		}
	case len(p) >= 2 && p[0] == '0':
		p, base = p[1:], 8
	case p == "":
		return 0, false
	}
	n, err := strconv.ParseUint(p, base, 32)
	return n, err == nil
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
