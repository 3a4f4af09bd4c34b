// Package provision is redisctl's library: it connects to the inventory's
// hosts, learns what is there, and installs, configures, checks, fails over
// and removes a Redis master/replica cluster with Sentinel. It returns
// results (a Health, a TuningReport, a FailoverReport, a ConnectInfo; up's
// Summary) and leaves rendering them for a person or as JSON to the
// command layer (package cmd); progress lines and the debug log go through
// a Progress the caller hands in.
//
// Where things are:
//
//   - Package up (provision/up) is the procedure of redisctl up and plan:
//     the ordered list of steps, one small type per file, and the state a
//     run carries between them. It uses this package's operations and no
//     internals of it.
//   - observe.go, analysis.go: one snapshot of every node and sentinel, and
//     the one analysis of it (verdict, problems, who the master is); health.go
//     joins them for status.
//   - cluster.go: the connected cluster, its nodes and their shared Redis
//     clients; the cluster password.
//   - facts.go, hostos.go: what a host has, and the init-system and
//     package-manager seams chosen from it.
//   - install.go, source.go, configure.go, configfile.go, liveapply.go,
//     services.go: building Redis, writing files, applying settings to
//     running servers, starting and stopping services.
//   - topology.go, stalemaster.go, verify.go, wait.go: deciding the master,
//     refusing to start a stale one, proving the result, bounded waits.
//   - mastermove.go: moving the master (the graceful failover, waiting for
//     the promotion and for a role, demoting the old master), shared by
//     up's rolling restart and failover-test; failover.go: failover-test.
//   - departed.go: hosts the inventory no longer lists, as up finds and
//     removes them.
//   - lock.go, manifest.go: the per-cluster run lock and the record of what
//     redisctl installed on each host; uninstall.go removes it.
//     lockround.go: what up reads in the lock's round trip (the host
//     checks, the facts, the files configure compares).
//   - backup.go, restore.go: a backup from a replica in sync with its
//     sha256 and key count, and loading one back on the master.
//   - users.go, aclapply.go: ACL users, their live changes, and the steps
//     of a password rotation on one server.
//   - tls.go: a TLS cluster's CA and certificates, redisctl's TLS
//     connections, and which servers still have to switch to TLS or back.
//   - progress.go, parallel.go, sshconnect.go: output and debug log, running
//     on every host at once, the SSH connector.
//
// Subpackages: up (the procedure of up and plan), inventory (what the
// operator wrote), render (the files written to hosts), redisx (Redis clients through SSH, with TLS, and INFO
// parsing), acl (users and the rotation steps), tlsca (certificates),
// remote (the Host interface) with sshhost and fakehost, internal/testkit
// (the fake hosts, Redis servers and inventories of the unit tests), and
// e2e (the lab tests).
package provision
