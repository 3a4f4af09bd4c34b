// Package provision is redisctl's library: it connects to the inventory's
// hosts, learns what is there, and installs, configures, checks, fails over
// and removes a Redis master/replica cluster with Sentinel. It returns
// results (a Summary, a Health, a TuningReport, a FailoverReport, a
// ConnectInfo) and leaves rendering them for a person or as JSON to the
// Command layer (package cmd); progress lines and the debug log go through
// a Progress the caller hands in.
//
// Where things are:
//
//   - up.go: Up, the ordered list of steps; each step is a small type with
//     its title and Run (k0sctl's phases), checks before it acts, and makes
//     every change through one recording function, so plan is exact. The
//     steps live by what they do: up_hosts.go (source, connect, lock,
//     facts, host checks), up_check.go (tuning and ports), up_backup.go,
//     up_master.go (password, the live master, the final verify),
//     up_install.go (install and prepare), rotate.go and clusterpw.go
//     (passwords), up_configure.go, up_start.go (master, replicas,
//     sentinels), remove.go (removed hosts), up_restart.go (the rolling
//     restart) and tlsswitch.go (TLS on or off).
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
//   - lock.go, manifest.go: the per-cluster run lock and the record of what
//     redisctl installed on each host; uninstall.go removes it.
//     lockround.go: what up reads in the lock's round trip (the host
//     checks, the facts, the files configure compares).
//   - backup.go, restore.go, up_backup.go: a backup from a replica in sync
//     with its sha256 and key count, loading one back on the master, and
//     up's backup before it changes a live cluster.
//   - users.go, aclapply.go, rotate.go, clusterpw.go: ACL users, their
//     live changes, and password rotation.
//   - tls.go, tlsswitch.go: a TLS cluster's CA and certificates, redisctl's
//     TLS connections, and switching a running cluster to TLS and back.
//   - progress.go, parallel.go, sshconnect.go: output and debug log, running
//     on every host at once, the SSH connector.
//
// Subpackages: inventory (what the operator wrote), render (the files
// written to hosts), redisx (Redis clients through SSH, with TLS, and INFO
// parsing), acl (users and the rotation steps), tlsca (certificates),
// remote (the Host interface) with sshhost and fakehost, and e2e (the lab
// tests).
package provision
