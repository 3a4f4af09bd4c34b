package testkit

import (
	"fmt"
	"strings"
)

// Replies of a healthy cluster's servers, for FakeRedis.Reply.

// MasterInfo is a master's INFO server and replication; each replica is
// "ip state".
func MasterInfo(replicas ...string) string {
	var b strings.Builder
	b.WriteString("# Server\r\nredis_version:7.0.15\r\nprocess_id:4100\r\nuptime_in_seconds:60\r\n\r\n")
	fmt.Fprintf(&b, "# Replication\r\nrole:master\r\nconnected_slaves:%d\r\n", len(replicas))
	for i, r := range replicas {
		ip, state, _ := strings.Cut(r, " ")
		fmt.Fprintf(&b, "slave%d:ip=%s,port=7000,state=%s,offset=1000,lag=0\r\n", i, ip, state)
	}
	b.WriteString("master_repl_offset:1000\r\n")
	return b.String()
}

// ReplicaInfo is a replica's INFO server and replication.
func ReplicaInfo(master, link string) string {
	return "# Server\r\nredis_version:7.0.15\r\nprocess_id:4100\r\nuptime_in_seconds:60\r\n\r\n" +
		"# Replication\r\nrole:slave\r\nmaster_host:" + master + "\r\nmaster_port:7000\r\n" +
		"master_link_status:" + link + "\r\nmaster_last_io_seconds_ago:1\r\nslave_repl_offset:1000\r\n"
}

// SentinelMaster is a SENTINEL MASTER reply naming ip:7000.
func SentinelMaster(ip, flags string) []string {
	return []string{"name", "mymaster", "ip", ip, "port", "7000", "flags", flags,
		"config-epoch", "0", "down-after-milliseconds", "5000", "num-slaves", "2", "num-other-sentinels", "2", "quorum", "2"}
}

// SentinelReplica is one entry of SENTINEL REPLICAS: a healthy replica.
func SentinelReplica(ip string) []string {
	return []string{"name", ip + ":7000", "ip", ip, "port", "7000", "flags", "slave",
		"last-ok-ping-reply", "300", "master-link-status", "ok", "master-host", "10.0.0.1", "master-port", "7000"}
}

// SentinelPeer is one entry of SENTINEL SENTINELS.
func SentinelPeer(ip, flags string, lastOKPingMS int) []string {
	return []string{"name", "0123456789abcdef0123456789abcdef0123" + strings.ReplaceAll(ip, ".", ""), "ip", ip, "port", "8000",
		"flags", flags, "last-ok-ping-reply", fmt.Sprint(lastOKPingMS)}
}
