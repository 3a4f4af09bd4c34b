package inventory

import "strconv"

// This file holds the rules that involve several fields, or that wait
// until every field is read: ports, roles, canonical and unique addresses
// and the number of sentinels.

// check runs the rules across fields once every field has been read.
func (d *decoder) check(inv *Inventory) {
	d.checkPorts(inv)
	if len(inv.Hosts) == 0 {
		return // reported as missing or empty hosts
	}
	d.checkRoles(inv)
	d.checkAddresses(inv)
	d.checkUnique(inv)
	d.checkSentinels(inv)
}

func (d *decoder) checkPorts(inv *Inventory) {
	if pp := inv.TLS.PlaintextPort; pp != 0 && !d.reported("tls.plaintext_port") {
		for _, o := range []struct {
			port  int
			field string
		}{{inv.Redis.Port, "redis.port"}, {inv.Sentinel.Port, "sentinel.port"}} {
			if pp == o.port {
				f := fieldPath("tls.plaintext_port")
				d.problem(d.locate(f), f, "%d is also %s (want a port of its own for plaintext clients)", pp, o.field)
			}
		}
	}
	if inv.Redis.Port != inv.Sentinel.Port || d.reported("redis.port") || d.reported("sentinel.port") {
		return
	}
	f, other := fieldPath("sentinel.port"), "redis.port"
	if !d.written(f) {
		f, other = "redis.port", "sentinel.port"
	}
	d.problem(d.locate(f), f, "%d is also %s (want two different ports)", inv.Redis.Port, other)
}

// checkRoles wants exactly one master and at least one replica. It stays
// quiet when a role was missing or wrong, as that is reported already.
func (d *decoder) checkRoles(inv *Inventory) {
	master, replicas := -1, 0
	for i, h := range inv.Hosts {
		switch h.Role {
		case "":
			return
		case RoleReplica:
			replicas++
		case RoleMaster:
			if master >= 0 {
				f := hostField(i, "role")
				d.problem(d.locate(f), f, "a second master (%s is the master already; want exactly one)", hostField(master, ""))
				continue
			}
			master = i
		}
	}
	if master < 0 {
		d.problem(d.locate("hosts"), "hosts", "no host has role: master (want exactly one)")
	}
	if replicas == 0 {
		d.problem(d.locate("hosts"), "hosts", "no host has role: replica (want at least one)")
	}
}

// checkAddresses wants every address in canonical form (see CheckAddress).
// An address whose syntax is wrong is reported already and left empty.
func (d *decoder) checkAddresses(inv *Inventory) {
	for i, h := range inv.Hosts {
		if h.Address == "" {
			continue
		}
		if err := CheckAddress(h.Address); err != nil {
			f := hostField(i, "address")
			d.problem(d.locate(f), f, "%s", err)
		}
	}
}

// checkUnique wants distinct host names and addresses; a repeat is reported
// where it is repeated.
func (d *decoder) checkUnique(inv *Inventory) {
	names, addrs := map[string]int{}, map[string]int{}
	for i, h := range inv.Hosts {
		if first, dup := names[h.Name]; dup && h.Name != "" {
			f := hostField(i, "name")
			d.problem(d.locate(f), f, "%q is also the name of %s (want a different name)", h.Name, hostField(first, ""))
		} else if h.Name != "" {
			names[h.Name] = i
		}
		key := addressKey(h.Address)
		if first, dup := addrs[key]; dup && key != "" {
			f := hostField(i, "address")
			d.problem(d.locate(f), f, "%q is also the address of %s (want one host per address)", h.Address, hostField(first, ""))
		} else if key != "" {
			addrs[key] = i
		}
	}
}

// checkSentinels relates the quorum to the number of sentinels.
func (d *decoder) checkSentinels(inv *Inventory) {
	n := len(inv.SentinelHosts())
	if n == 0 {
		d.problem(d.locate("hosts"), "hosts", "no host runs a sentinel (want at least 3; sentinel: false skips one)")
		return
	}
	if d.reported("sentinel.quorum") {
		return // not a number, or below 1
	}
	q := inv.Sentinel.Quorum
	// Report at the quorum when it is written, else at the hosts.
	f, quorum := fieldPath("sentinel.quorum"), strconv.Itoa(q)
	if !d.written(f) {
		f, quorum = "hosts", "the default quorum "+quorum
	}
	if q > n {
		d.problem(d.locate(f), f, "%s is more than the %s (want at most %d)", quorum, sentinels(n), n)
		return
	}
	if majority := n/2 + 1; q < majority {
		d.warnf(d.locate(f), f, "%s is less than a majority of the %s (want at least %d, or a minority of sentinels can judge the master down)", quorum, sentinels(n), majority)
	}
	if n < 3 {
		d.warnf(d.locate("hosts"), "hosts", "only %s (want at least 3, so that the sentinels left after losing a host are a majority)", sentinels(n))
	}
}

func sentinels(n int) string {
	if n == 1 {
		return "1 sentinel"
	}
	return strconv.Itoa(n) + " sentinels"
}

// hostField names hosts[i] or one of its keys.
func hostField(i int, key string) fieldPath {
	f := fieldPath("hosts").index(i)
	if key != "" {
		f = f.key(key)
	}
	return f
}
