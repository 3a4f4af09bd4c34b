package inventory

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// This file holds what redis.config may set. The loader checks it with
// line numbers and render checks it again before writing redis.conf, both
// through DirectiveArgs, so that what loads also renders.

// directiveName is how redis.conf spells directives (Redis compares them
// without case, but every one of them is documented in lower case).
var directiveName = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// managed lists the redis.conf directives redisctl writes itself (see
// templates/redis.conf.tmpl), with aliases Redis 7 and Valkey 8 accept for
// them, and what to use instead. A second line for one of them would
// silently override redisctl's, as Redis applies the last.
var managed = map[string]string{
	"port":                     "set redis.port instead",
	"bind":                     "it binds the host's address and loopback",
	"protected-mode":           "it is always yes",
	"requirepass":              "set redis.password instead",
	"masterauth":               "set redis.password instead",
	"primaryauth":              "set redis.password instead",
	"replicaof":                "set the hosts' roles instead",
	"slaveof":                  "set the hosts' roles instead",
	"repl-ping-replica-period": "it is 10 seconds, as in the manual procedure",
	"repl-ping-slave-period":   "it is 10 seconds, as in the manual procedure",
	"repl-timeout":             "it is 60 seconds, as in the manual procedure",
	"dir":                      "it follows redisctl's file layout",
	"logfile":                  "it follows redisctl's file layout",
	"pidfile":                  "it follows redisctl's file layout",
	"daemonize":                "it follows how redisctl runs the service",
	"supervised":               "it follows how redisctl runs the service",
	"include":                  "every setting must be in the one file Sentinel rewrites",
	"sentinel":                 "set the sentinel section instead; redis-server refuses sentinel lines",
	"tls-port":                 "set tls.enabled instead: the TLS port is redis.port",
	"tls-cert-file":            "set tls.cert_file instead, or leave it out to have redisctl make the certificates",
	"tls-key-file":             "set tls.key_file instead, or leave it out to have redisctl make the certificates",
	"tls-ca-cert-file":         "set tls.ca_file instead, or leave it out to have redisctl make the CA",
	"tls-auth-clients":         "set tls.client_auth instead",
	"tls-replication":          "set tls.enabled instead: replication uses TLS on a TLS cluster",
	"tls-client-cert-file":     "the host's certificate (tls.cert_file) serves both ends of a link",
	"tls-client-key-file":      "the host's key (tls.key_file) serves both ends of a link",
}

// refused lists directives that would undo what redisctl guarantees: that
// only the cluster password or the users redisctl writes (redis.users) let
// clients in, that Sentinel, replicas and redisctl can log in and run the
// commands they need, and that the nodes and sentinels know each node by
// its hosts[].address. Each says why, or what to set instead.
var refused = map[string]string{
	// A user line or a file of them could let clients in without a
	// password (user default nopass) or shut Sentinel, the replicas or
	// redisctl out; redisctl's ACL file holds the users they need.
	"user":    "set redis.users (and redis.default_user) instead: redisctl writes the ACL file with the users Sentinel, replicas and redisctl need",
	"aclfile": "set redis.users (and redis.default_user) instead: redisctl writes the ACL file with the users Sentinel, replicas and redisctl need",
	// redisctl sets masteruser and masterauth itself in ACL mode, and
	// masterauth alone to the cluster password otherwise.
	"masteruser":  "replicas log in as redisctl's replication user when redis.users or redis.default_user is set, else as the default user",
	"primaryuser": "replicas log in as redisctl's replication user when redis.users or redis.default_user is set, else as the default user",
	// Sentinel needs AUTH, PING, INFO, ROLE, CONFIG, CLIENT, REPLICAOF
	// (SLAVEOF), MULTI, EXEC, SCRIPT, PUBLISH and SUBSCRIBE on the data
	// nodes; replicas need PSYNC and REPLCONF; redisctl uses CONFIG, INFO,
	// PING, ROLE, CLIENT, REPLICAOF, BGSAVE, LASTSAVE and its own test keys.
	"rename-command": "Sentinel, replicas and redisctl need the commands under their own names",
	// One value for every host: all replicas would announce the same address.
	"replica-announce-ip":   "every replica would announce that address; Sentinel and redisctl know each node by its hosts[].address",
	"slave-announce-ip":     "every replica would announce that address; Sentinel and redisctl know each node by its hosts[].address",
	"replica-announce-port": "every replica would announce that port; Sentinel and redisctl reach each node at redis.port",
	"slave-announce-port":   "every replica would announce that port; Sentinel and redisctl reach each node at redis.port",
	"replica-announced":     "Sentinel must see every replica to fail over to it",
	"replica-read-only":     "replicas must refuse writes, and redisctl checks that they do; a write to a replica is lost at its next sync",
	"slave-read-only":       "replicas must refuse writes, and redisctl checks that they do; a write to a replica is lost at its next sync",
	"replica-priority":      "it applies to every host alike: 0 would forbid every failover, and any other value changes nothing",
	"slave-priority":        "it applies to every host alike: 0 would forbid every failover, and any other value changes nothing",
	"cluster-enabled":       "redisctl sets up Sentinel, not Redis Cluster, whose nodes refuse replicaof",
}

// CheckDirectiveName returns why name cannot be an extra redis.conf
// directive in redis.config (not redis.conf's spelling, written by
// redisctl itself, or undoing what it guarantees), or nil. The message
// reads after the field name: "redis.config.port: managed by redisctl ...".
func CheckDirectiveName(name string) error {
	if !directiveName.MatchString(name) {
		want := "want lower-case letters, digits and '-'"
		if name == "" || !(name[0] >= 'a' && name[0] <= 'z' || name[0] >= 'A' && name[0] <= 'Z') {
			want += ", starting with a letter"
		}
		if lower := strings.ToLower(name); lower != name && directiveName.MatchString(lower) {
			want += ", e.g. " + lower
		}
		return fmt.Errorf("%q is not a redis.conf directive name (%s)", name, want)
	}
	if instead, ok := managed[name]; ok {
		return fmt.Errorf("managed by redisctl (%s)", instead)
	}
	if why, ok := refused[name]; ok {
		return fmt.Errorf("not allowed: %s", why)
	}
	return nil
}

// DirectiveArgs checks one redis.config entry and returns the arguments
// Redis will read from its value, which is written as it would be after the
// name in redis.conf: "save: 900 1 300 10" is three pairs of arguments,
// quotes group and escape. Messages never show the value: some (ACL lines,
// passwords) may be secret.
func DirectiveArgs(name, value string) ([]string, error) {
	if err := CheckDirectiveName(name); err != nil {
		return nil, err
	}
	return valueArgs(value)
}

// valueArgs splits a directive's value the way Redis will.
func valueArgs(value string) ([]string, error) {
	if c := controlName(value); c != "" {
		return nil, fmt.Errorf("contains %s (a value must fit on one line)", c)
	}
	args, ok := SplitArgs(value)
	if !ok {
		return nil, errors.New(`unbalanced quotes: Redis would not start (a quoted argument must end with its quote, then a space or the end of the value; write a literal quote as \" inside double quotes)`)
	}
	if len(args) == 0 {
		return nil, errors.New(`needs a value (for an empty argument write '""')`)
	}
	return args, nil
}
