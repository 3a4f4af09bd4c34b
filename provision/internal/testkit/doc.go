// Package testkit holds the fake hosts, fake Redis servers and inventories
// shared by the tests of provision and its subpackages: a three-host
// inventory, fake hosts that answer the facts, check and lock scripts, a
// connector handing them out, RESP servers standing in for the data nodes
// and sentinels, and the replies of a healthy cluster.
//
// It is imported by tests only. It must not import provision itself (the
// internal tests of provision import it); the few script markers the fake
// hosts need from provision are copied here and pinned by a provision test.
package testkit
