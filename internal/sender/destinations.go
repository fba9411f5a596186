package sender

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"syscall"

	"code.dny.dev/ssrf"

	"github.com/hookline/hookline"
)

// Destinations says where deliveries may go. The zero value allows public
// addresses only, on any port.
type Destinations struct {
	// AllowPrivate allows every address (--allow-private-networks).
	AllowPrivate bool
	// Allow lists the prefixes allowed besides public addresses
	// (--allow-destinations), such as 127.0.0.1/32 or 10.1.0.0/16. An
	// IPv4 prefix does not cover the IPv4-mapped IPv6 forms of its
	// addresses, nor their NAT64 or 6to4 forms.
	Allow []netip.Prefix
}

// ParsePrefixes reads a comma-separated list of CIDR prefixes, such as
// "127.0.0.1/32,10.1.0.0/16"; a lone address is its /32 or /128. A prefix
// with bits set past its length (10.1.2.3/16) is refused, naming the
// prefix meant: it is most often a typing mistake.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if a, err := netip.ParseAddr(f); err == nil && a.Zone() == "" {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR prefix such as 10.1.0.0/16 or fd00::/8", f)
		}
		if p.Masked() != p {
			return nil, fmt.Errorf("%s has bits set past its length; did you mean %s?", p, p.Masked())
		}
		out = append(out, p)
	}
	return out, nil
}

// guardian returns the check of the addresses dialled: public ones and those
// in d.Allow, on any port; nil when every address is allowed.
func (d Destinations) guardian() *ssrf.Guardian {
	if d.AllowPrivate {
		return nil
	}
	var v4, v6 []netip.Prefix
	for _, p := range d.Allow {
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	return ssrf.New(ssrf.WithAnyPort(), ssrf.WithAllowedV4Prefixes(v4...), ssrf.WithAllowedV6Prefixes(v6...))
}

// RefusedError is a dial refused because the address is not allowed.
type RefusedError struct{ Addr netip.Addr }

// Error implements error, naming the flags that would allow the address.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("destination %s is a loopback, private, link-local or otherwise non-public address; %s", e.Addr, allowHint(e.Addr))
}

// allowHint says how to allow a, for a message.
func allowHint(a netip.Addr) string {
	return fmt.Sprintf("start hookline with --allow-destinations %s (or --allow-private-networks) to allow it", netip.PrefixFrom(a, a.BitLen()))
}

// newGuard returns the dial-time check of the address actually dialled
// (after DNS, so that rebinding does not get around it), or nil when every
// address is allowed. It refuses loopback, private, link-local, unspecified
// and the other special-purpose ranges, including their IPv4-mapped IPv6,
// NAT64 and 6to4 forms, on any port, except those in d.Allow.
func (d Destinations) newGuard() func(network, address string, c syscall.RawConn) error {
	g := d.guardian()
	if g == nil {
		return nil
	}
	return func(network, address string, c syscall.RawConn) error {
		if err := g.Safe(network, address, c); err != nil {
			if errors.Is(err, ssrf.ErrProhibitedIP) {
				ap, _ := netip.ParseAddrPort(address)
				return &RefusedError{Addr: ap.Addr()}
			}
			return err
		}
		return nil
	}
}

// checkAddr returns a *RefusedError unless a may be dialled.
func (d Destinations) checkAddr(g *ssrf.Guardian, a netip.Addr) error {
	if g != nil && g.SafeAddr(a) != nil {
		return &RefusedError{Addr: a}
	}
	return nil
}

// CheckURL validates an endpoint URL: absolute http or https with a host
// that can be dialled (see ParseHost). An IPv4 address written in another
// form than dotted decimal (127.1, 2130706433, 0x7f000001, ①②⑦.0.0.1) is
// refused, naming the usual form, since resolvers disagree on whether it is
// an address. A loopback name (localhost, *.localhost, which resolvers
// answer themselves) is taken as 127.0.0.1 and ::1, and allowed when either
// is. An address that d does not allow is refused with a message that
// names the flags that would. Other names are checked when dialled.
func (d Destinations) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return hookline.Errorf(hookline.EINVALID, "url: must be an absolute http or https URL")
	} else if u.Scheme != "http" && u.Scheme != "https" {
		return hookline.Errorf(hookline.EINVALID, "url: scheme must be http or https, not %q", u.Scheme)
	} else if u.Hostname() == "" {
		return hookline.Errorf(hookline.EINVALID, "url: must have a host")
	} else if u.User != nil {
		return hookline.Errorf(hookline.EINVALID, "url: must not carry credentials; use the signature to authenticate")
	}
	h, err := ParseHost(u.Hostname())
	if err != nil {
		return hookline.Errorf(hookline.EINVALID, "url: the host %v", err)
	}
	g := d.guardian()
	switch {
	case h.Name == "localhost" || strings.HasSuffix(h.Name, ".localhost"):
		v4, v6 := netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()
		if d.checkAddr(g, v4) != nil && d.checkAddr(g, v6) != nil {
			return hookline.Errorf(hookline.EINVALID, "url: %s is a loopback host; %s", h.Name, allowHint(v4))
		}
	case h.Addr.IsValid():
		if d.checkAddr(g, h.Addr) != nil {
			return hookline.Errorf(hookline.EINVALID, "url: %s is a loopback, private, link-local or otherwise non-public address; %s",
				hostAddr(u.Hostname(), h), allowHint(h.Addr))
		}
	}
	if h.NonStandard {
		return hookline.Errorf(hookline.EINVALID, "url: %.100s is the IPv4 address %s in a form resolvers disagree on; write it as %s", u.Hostname(), h.Addr, h.Addr)
	}
	return nil
}

// hostAddr names the address of an IP host for a message: "127.0.0.1", or
// "0x7f000001 (127.0.0.1)" when it was written in another form.
func hostAddr(host string, h Host) string {
	if h.Addr.String() == host {
		return host
	}
	return fmt.Sprintf("%.100s (%s)", host, h.Addr)
}
