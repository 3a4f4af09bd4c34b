package inventory

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// This file holds the rules for single values: names, addresses, roles,
// users and the jump host.

var (
	// nameChars is what Sentinel accepts in a master name; host names follow
	// the same rule.
	nameChars = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	// dnsName is a host name an address may be: labels of letters, digits,
	// '-' and '_' separated by dots.
	dnsName = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$`)
)

// checkName reports a name Sentinel or messages could not use; what says
// which kind of name it is.
func (d *decoder) checkName(n *yaml.Node, f fieldPath, name, what string) bool {
	if !nameChars.MatchString(name) {
		d.errorf(n, f, "%q is not a valid %s (want letters, digits, '.', '-' and '_' only)", name, what)
		return false
	}
	return true
}

func (d *decoder) hostName(n *yaml.Node, f fieldPath) string {
	name, ok := d.str(n, f)
	if !ok {
		if absent(n) {
			d.problem(d.locate(f), f, "missing (want a name such as redis-1)")
		}
		return ""
	}
	if !d.checkName(n, f, name, "host name") {
		return ""
	}
	return name
}

func (d *decoder) address(n *yaml.Node, f fieldPath) string {
	addr, ok := d.str(n, f)
	if !ok {
		if absent(n) {
			d.problem(d.locate(f), f, "missing (want the IP address or DNS name the other nodes reach this host at)")
		}
		return ""
	}
	if net.ParseIP(addr) == nil && !dnsName.MatchString(addr) {
		d.errorf(n, f, "%q is not an IP address or DNS name (want e.g. 10.0.0.5, without a port)", addr)
		return ""
	}
	return addr
}

// role reads a host's role; "slave", the seed's word, means replica.
func (d *decoder) role(n *yaml.Node, f fieldPath) Role {
	const want = "master, replica or slave"
	s, ok := d.str(n, f)
	if !ok {
		if absent(n) {
			d.problem(d.locate(f), f, "missing (want %s)", want)
		}
		return ""
	}
	switch s {
	case "master":
		return RoleMaster
	case "replica", "slave":
		return RoleReplica
	}
	if guess := suggest(s, []string{"master", "replica", "slave"}); guess != "" {
		d.errorf(n, f, "%q is not a role (want %s; did you mean %s?)", s, want, guess)
	} else {
		d.errorf(n, f, "%q is not a role (want %s)", s, want)
	}
	return ""
}

// checkUser reports a user name ssh could not take as written.
func (d *decoder) checkUser(n *yaml.Node, f fieldPath, user string) bool {
	if user == "" || strings.ContainsAny(user, "@: \t") || hasControl(user) {
		d.errorf(n, f, "%q is not a user name (want a login name without spaces, '@' or ':')", user)
		return false
	}
	return true
}

// checkJump reports a jump host that is not [user@]host[:port].
func (d *decoder) checkJump(n *yaml.Node, f fieldPath, jump string) bool {
	if !validJump(jump) {
		d.errorf(n, f, "%q is not a jump host (want [user@]host[:port], e.g. deploy@bastion.example.com:22)", jump)
		return false
	}
	return true
}

func validJump(jump string) bool {
	hostport := jump
	if i := strings.LastIndex(jump, "@"); i >= 0 {
		user := jump[:i]
		if user == "" || strings.ContainsAny(user, "@: \t") || hasControl(user) {
			return false
		}
		hostport = jump[i+1:]
	}
	host, port := hostport, ""
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host, port = h, p
	} else if strings.Count(hostport, ":") == 1 {
		return false // a ':' that is not a valid host:port
	}
	if port != "" {
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return false
		}
	}
	return net.ParseIP(host) != nil || dnsName.MatchString(host)
}

// hasControl reports whether s holds a control character (newline, tab...).
func hasControl(s string) bool {
	return controlName(s) != ""
}

// controlName names the first control character in s, or returns "".
func controlName(s string) string {
	for _, r := range s {
		switch {
		case r == '\n':
			return "a newline"
		case r == '\r':
			return "a carriage return"
		case r == '\t':
			return "a tab"
		case r == 0:
			return "a NUL byte"
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return fmt.Sprintf("the control character U+%04X", r)
		}
	}
	return ""
}
