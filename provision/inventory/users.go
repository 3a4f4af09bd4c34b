package inventory

import (
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/redisctl/redisctl/provision/acl"
)

// This file holds the rules for redis.users, the application ACL users.
// Writing the key, even as an empty list, or redis.default_user turns ACL
// mode on (see Redis.ACL).

// exampleRules is what the messages suggest for a user's rules.
const exampleRules = `rules: "~app:* &app:* +@read +@write -@dangerous"`

// users reads redis.users in order. set reports that a list was written,
// even an empty one.
func (d *decoder) users(n *yaml.Node, f fieldPath) (us []User, set bool) {
	if absent(n) {
		return nil, false
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, f, "want a list of users, each with name, rules and optionally password, not %s", describe(n))
		return nil, false
	}
	type named struct {
		name  string
		index int
		line  int
	}
	first := map[string]named{} // lower-case name -> the user that has it
	for i, item := range n.Content {
		item = deref(item)
		uf := f.index(i)
		d.seen[uf] = posOf(item)
		u := d.user(item, uf)
		us = append(us, u)
		if u.Name == "" {
			continue // missing or wrong, reported already
		}
		nf := uf.key("name")
		at := d.locate(nf)
		key := strings.ToLower(u.Name)
		prev, dup := first[key]
		switch {
		case !dup:
			first[key] = named{u.Name, i, at.line}
		case prev.name == u.Name:
			d.problem(at, nf, "%q is also the name of %s on line %d (want a different name)", u.Name, f.index(prev.index), prev.line)
		default:
			d.problem(at, nf, "%q is also the name of %s on line %d, written %q (want a name that differs by more than case)",
				u.Name, f.index(prev.index), prev.line, prev.name)
		}
	}
	return us, true
}

// user decodes one entry of redis.users.
func (d *decoder) user(n *yaml.Node, f fieldPath) User {
	u := User{Line: n.Line}
	if absent(n) {
		d.errorf(n, f, "empty user entry (want name, rules and optionally password)")
		return u
	}
	m := d.mapping(n, f, userKeys, "a mapping with name, password and rules")
	if m == nil {
		return u
	}
	u.Name = d.userName(m["name"], f.key("name"))
	u.Password, u.PasswordSource = d.password(m["password"], f.key("password"), "APP_PASSWORD",
		"a password cannot hold control characters")
	u.Rules = d.rules(m["rules"], f.key("rules"))
	return u
}

// userName reads an application user's name: acl.CheckAppName's rules,
// which keep redisctl's own users' names for them.
func (d *decoder) userName(n *yaml.Node, f fieldPath) string {
	name, ok := d.str(n, f)
	if !ok {
		if absent(n) {
			d.problem(d.locate(f), f, "missing (want a user name such as app)")
		}
		return ""
	}
	if err := acl.CheckAppName(name); err != nil {
		d.errorf(n, f, "%s", err)
		return ""
	}
	return name
}

// rules reads a user's ACL rules. acl.ParseRules refuses what is not an
// ACL rule and what touches passwords or switches the user on or off
// (>pw, #hash, nopass, on, off, reset...): redisctl manages those. Its
// messages never show a password.
func (d *decoder) rules(n *yaml.Node, f fieldPath) string {
	s, ok := d.str(n, f)
	if !ok {
		if absent(n) {
			d.problem(d.locate(f), f, "missing (want the user's ACL rules, e.g. %s)", exampleRules)
		}
		return ""
	}
	if strings.TrimSpace(s) == "" {
		d.errorf(n, f, "empty (want the user's ACL rules, e.g. %s)", exampleRules)
		return ""
	}
	if _, err := acl.ParseRules(s); err != nil {
		d.errorf(n, f, "%s", err)
		return ""
	}
	return s
}
