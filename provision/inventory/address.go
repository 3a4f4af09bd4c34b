package inventory

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// This file holds the rule for host addresses beyond their syntax: an IP
// must be written in canonical form. redisctl compares addresses as strings
// with what Redis and Sentinel report (INFO replication, SENTINEL
// GET-MASTER-ADDR-BY-NAME, which print IPs the way inet_ntop does), so a
// non-canonical address is refused, with the canonical form to write,
// rather than silently rewritten: the inventory then says what status and
// the servers print.

// CheckAddress returns why addr cannot be a host's address, or nil: it must
// be an IP address in canonical form (IPv6 as RFC 5952 writes it, lower case
// and shortest; IPv4 without leading zeros and not written as IPv6) or a DNS
// name whose last label is not a number.
func CheckAddress(addr string) error {
	if ip, err := netip.ParseAddr(addr); err == nil && ip.Zone() == "" {
		canon := ip.Unmap().String()
		switch {
		case ip.Is4In6():
			return fmt.Errorf("%q is an IPv4 address written as IPv6 (write %s)", addr, canon)
		case canon != addr:
			return fmt.Errorf("%q is not in canonical form (write %s, as Redis and Sentinel print it)", addr, canon)
		}
		return nil
	}
	if !dnsName.MatchString(addr) {
		return fmt.Errorf("%q is not an IP address or DNS name (want e.g. 10.0.0.5, without a port)", addr)
	}
	labels := strings.Split(strings.TrimSuffix(addr, "."), ".")
	if isNumber(labels[len(labels)-1]) {
		// getaddrinfo reads 10.5 as 10.0.0.5 and 010 as octal.
		return fmt.Errorf("%q is neither an IPv4 address in the usual form (four numbers 0 to 255 without leading zeros, e.g. 10.0.0.5) nor a DNS name", addr)
	}
	return nil
}

func isNumber(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// SameAddress reports whether a and b name the same host as far as the
// inventory can tell: IPs compared in canonical form (::1 and 0:0::1 are
// one address), DNS names without regard to case or a final dot.
func SameAddress(a, b string) bool {
	ka := addressKey(a)
	return ka != "" && ka == addressKey(b)
}

// addressKey is an address in the form SameAddress compares.
func addressKey(addr string) string {
	if ip := net.ParseIP(addr); ip != nil {
		return ip.String()
	}
	return strings.TrimSuffix(strings.ToLower(addr), ".")
}
