package inventory

import "testing"

func TestCheckAddress(t *testing.T) {
	for _, c := range []struct{ addr, err string }{
		{"10.0.0.5", ""},
		{"::1", ""},
		{"fd00::13", ""},
		{"2001:db8:0:1:1:1:1:1", ""}, // one zero group is not shortened
		{"redis-1.example.com", ""},
		{"redis-1", ""},
		{"node1.lab.example.", ""},
		{"0:0::1", `"0:0::1" is not in canonical form (write ::1, as Redis and Sentinel print it)`},
		{"FD00::13", `"FD00::13" is not in canonical form (write fd00::13, as Redis and Sentinel print it)`},
		{"2001:db8::0:1", `"2001:db8::0:1" is not in canonical form (write 2001:db8::1, as Redis and Sentinel print it)`},
		{"::ffff:10.0.0.5", `"::ffff:10.0.0.5" is an IPv4 address written as IPv6 (write 10.0.0.5)`},
		{"010.0.0.5", `"010.0.0.5" is neither an IPv4 address in the usual form (four numbers 0 to 255 without leading zeros, e.g. 10.0.0.5) nor a DNS name`},
		{"10.5", `"10.5" is neither an IPv4 address in the usual form (four numbers 0 to 255 without leading zeros, e.g. 10.0.0.5) nor a DNS name`},
		{"10.0.0.256", `"10.0.0.256" is neither an IPv4 address in the usual form (four numbers 0 to 255 without leading zeros, e.g. 10.0.0.5) nor a DNS name`},
		{"fe80::1%eth0", `"fe80::1%eth0" is not an IP address or DNS name (want e.g. 10.0.0.5, without a port)`},
		{"10.0.0.5:7000", `"10.0.0.5:7000" is not an IP address or DNS name (want e.g. 10.0.0.5, without a port)`},
	} {
		err := CheckAddress(c.addr)
		if got := errText(err); got != c.err {
			t.Errorf("CheckAddress(%q) = %q, want %q", c.addr, got, c.err)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestSameAddress(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"::1", "0:0::1", true},
		{"fd00::13", "FD00:0:0:0:0:0:0:13", true},
		{"10.0.0.1", "::ffff:10.0.0.1", true},
		{"Node1.Example", "node1.example.", true},
		{"10.0.0.1", "10.0.0.2", false},
		{"::1", "127.0.0.1", false},
		{"", "", false},
	} {
		if got := SameAddress(c.a, c.b); got != c.same {
			t.Errorf("SameAddress(%q, %q) = %v, want %v", c.a, c.b, got, c.same)
		}
	}
}
