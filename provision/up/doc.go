// Package up is redisctl's up (and, as a dry run, plan): the procedure
// that brings a cluster to its inventory's state, as an ordered list of
// steps (k0sctl's phases). It owns the order of the steps, the state one
// run carries from step to step (upRun), and the one recording function
// every change goes through (upRun.change), which makes plan exactly the
// list of what up then does. The operations the steps share with the other
// commands (observing the cluster, starting and stopping services, waiting,
// moving the master, writing files, the lock) belong to package provision.
//
// The list in procedure (up.go) is the procedure; each step is a small
// type with its Title and Run in a file of its own, in this order:
//
//	source.go          verify the redis source
//	connect.go         connect
//	lock.go            lock the cluster
//	facts.go           gather facts
//	hostcheck.go       check hosts
//	backup.go          back up before changing anything
//	tuning.go          check tuning and ports
//	password.go        password (clusterpw.go: rotating the cluster password)
//	finddeparted.go    find removed hosts
//	install.go         install redis (beside the next two steps)
//	prepare.go         prepare hosts
//	findmaster.go      find the live master
//	waitinstall.go     wait for the install
//	rotate.go          rotate passwords
//	configure.go       configure
//	startmaster.go     start the master
//	startreplicas.go   start the replicas
//	startsentinels.go  start the sentinels
//	removehosts.go     remove hosts
//	restart.go         rolling restart
//	tlsswitch.go       switch TLS on or off
//	verify.go          verify
package up
