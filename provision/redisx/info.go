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

// SentinelMaster is one "masterN:name=...,status=ok,address=...,slaves=2,sentinels=3"
// line of a sentinel's INFO sentinel.
type SentinelMaster struct {
	Name      string
	Status    string
	Address   string
	Replicas  int
	Sentinels int
}

// SentinelMasters returns the masters a sentinel's INFO sentinel lists.
func (i Info) SentinelMasters() []SentinelMaster {
	var out []SentinelMaster
	for k, v := range i {
		if !strings.HasPrefix(k, "master") {
			continue
		}
		if _, err := strconv.Atoi(k[len("master"):]); err != nil {
			continue
		}
		f := Fields(v)
		m := SentinelMaster{Name: f["name"], Status: f["status"], Address: f["address"]}
		m.Replicas, _ = strconv.Atoi(f["slaves"])
		m.Sentinels, _ = strconv.Atoi(f["sentinels"])
		out = append(out, m)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
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

// Pairs turns a flat [k1 v1 k2 v2 ...] reply (SENTINEL MASTER, SENTINEL
// REPLICAS entries) into a map.
func Pairs(reply any) map[string]string {
	m := map[string]string{}
	switch r := reply.(type) {
	case []any:
		for j := 0; j+1 < len(r); j += 2 {
			m[fmt.Sprint(r[j])] = fmt.Sprint(r[j+1])
		}
	case map[any]any:
		for k, v := range r {
			m[fmt.Sprint(k)] = fmt.Sprint(v)
		}
	case map[string]string:
		return r
	}
	return m
}

// PairsList converts a list of flat pair lists (SENTINEL REPLICAS, SENTINEL
// SENTINELS) into maps.
func PairsList(reply any) []map[string]string {
	list, _ := reply.([]any)
	out := make([]map[string]string, 0, len(list))
	for _, e := range list {
		out = append(out, Pairs(e))
	}
	return out
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
