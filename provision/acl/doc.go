// Package acl holds what redisctl knows about Redis ACL users, without
// talking to any server: the users it creates and the least rights each
// job needs, application users from the inventory's rules, the ACL file
// (aclfile) written and read back, and the password rotation of issue 14
// as a pure function from what was observed to the steps left to run.
//
// Passwords never appear in clear here: a User carries SHA-256 hex hashes
// only (the `#<hash>` form Redis accepts in ACL files and ACL SETUSER), and
// descriptions and differences never print a hash either, since the hash
// of a weak application password can be attacked offline.
//
// Facts this package relies on, checked against Redis 7.0.15 by the tests
// in server_test.go:
//
//   - A file without a `user default` line leaves the default user "on
//     nopass ~* &* +@all": anyone can connect and do anything. Render
//     refuses such a file.
//   - The aclfile loader refuses comment lines ("should start with user
//     keyword"); blank lines are skipped. Render writes neither.
//   - ACL SAVE writes users sorted by name, "resetchannels" before the
//     channel patterns of a user without "&*", "-@all" before command rules
//     that do not start with "+@all", and rewords category rules into its
//     own expansion ("+@read +@write -@dangerous" comes back as a long list
//     of categories and exceptions, in an order that changes from one
//     server process to the next). Compare tells reordering from change,
//     but not a rewording from a change: it says when a difference may be
//     one.
//   - ACL SETUSER u >new / <old (or #hash / !hash) change the passwords a
//     user accepts without closing connections already authenticated.
//   - ACL LOAD closes the connections of the users it loads, even from an
//     unchanged file: a live server's users are changed with ACL SETUSER
//     and saved with ACL SAVE, never loaded.
//   - The rules of issue 14's example application user, "~app:* &app:*
//     +@read +@write -@dangerous", allow neither PING (@connection) nor
//     PUBLISH (@pubsub).
package acl
