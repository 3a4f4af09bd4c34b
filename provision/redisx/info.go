package redisx

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Info is the parsed reply of INFO: field name to value, sections merged.
type Info map[string]string

// ParseInfo parses an INFO reply ("# Section" headers, "key:value" lines).
func ParseInfo(s string) Info {
	info := Info{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			info[k] = v
		}
	}
	return info
}

// Int returns a numeric field, or -1 when absent or not a number.
func (i Info) Int(key string) int64 {
	n, err := strconv.ParseInt(i[key], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// ReplicaLink is one "slaveN:ip=...,port=...,state=online,offset=...,lag=..."
// line of a master's INFO replication.
type ReplicaLink struct {
	IP     string
	Port   int
	State  string
	Offset int64
	Lag    int64
}

// Addr is "ip:port".
func (r ReplicaLink) Addr() string { return fmt.Sprintf("%s:%d", r.IP, r.Port) }

// Replicas returns the replicas a master lists, in slaveN order.
func (i Info) Replicas() []ReplicaLink {
	var keys []string
	for k := range i {
		if strings.HasPrefix(k, "slave") {
			if _, err := strconv.Atoi(k[len("slave"):]); err == nil {
				keys = append(keys, k)
			}
		}
	}
	sort.Slice(keys, func(a, b int) bool {
		x, _ := strconv.Atoi(keys[a][5:])
		y, _ := strconv.Atoi(keys[b][5:])
		return x < y
	})
	var out []ReplicaLink
	for _, k := range keys {
		f := Fields(i[k])
		r := ReplicaLink{IP: f["ip"], State: f["state"]}
		r.Port, _ = strconv.Atoi(f["port"])
		r.Offset, _ = strconv.ParseInt(f["offset"], 10, 64)
		r.Lag, _ = strconv.ParseInt(f["lag"], 10, 64)
		out = append(out, r)
	}
	return out
}

// Fields splits "a=1,b=2" into a map.
func Fields(s string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// HasFlag reports whether a sentinel "flags" field (comma separated)
// contains flag.
func HasFlag(flags, flag string) bool {
	for _, f := range strings.Split(flags, ",") {
		if f == flag {
			return true
		}
	}
	return false
}
