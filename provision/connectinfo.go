package provision

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/remote"
)

// ConnectInfo is what a client needs to reach the cluster through its
// sentinels. It comes from the inventory alone: no host is contacted.
type ConnectInfo struct {
	MasterName string   `json:"master_name"`
	Sentinels  []string `json:"sentinels"` // host:port, inventory order
	TLS        bool     `json:"tls"`
	CAFile     string   `json:"ca_file"` // "" while TLS is off
	// PlaintextPort is the data nodes' plaintext port beside TLS
	// (tls.plaintext), for clients that connect to a node directly while
	// they move to TLS: the sentinels name only TLS ports.
	PlaintextPort int    `json:"plaintext_port,omitempty"`
	User          string `json:"user"`
	// PasswordFile is where the generated password is stored on this
	// machine ("" when the inventory gives it).
	PasswordFile string `json:"password_file,omitempty"`
	// Password is set only when asked for (--show-secrets).
	Password string `json:"password,omitempty"`
	// SentinelPasswordFile and SentinelPassword are the sentinels'
	// password (the cluster password) when it is not the user's: on a
	// cluster with ACL users. SentinelPassword only with --show-secrets.
	SentinelPasswordFile string `json:"sentinel_password_file,omitempty"`
	SentinelPassword     string `json:"sentinel_password,omitempty"`
	// SeparateSentinelPassword: the sentinels take another password than
	// the data nodes (a cluster with ACL users).
	SeparateSentinelPassword bool `json:"separate_sentinel_password,omitempty"`
}

// ConnectInfoFor builds the connection details of inv; with showSecret the
// stored (or inventory) password is included, else it never is.
func ConnectInfoFor(inv *inventory.Inventory, showSecret bool) (*ConnectInfo, error) {
	return ConnectInfoForUser(inv, "", showSecret)
}

// ConnectInfoForUser is ConnectInfoFor for one user of a cluster with ACL
// users: an application user of the inventory, or default when the
// inventory keeps it; "" means the first application user. Without ACL
// users the only user is default.
func ConnectInfoForUser(inv *inventory.Inventory, user string, showSecret bool) (*ConnectInfo, error) {
	ci := &ConnectInfo{MasterName: inv.Name, User: "default", TLS: inv.TLS.Enabled, PlaintextPort: inv.TLS.DataPlaintextPort()}
	if ci.TLS {
		ci.CAFile = inv.TLS.CAFile
		if inv.TLS.Generated() {
			dir, err := caDir(inv)
			if err != nil {
				return nil, err
			}
			ci.CAFile = filepath.Join(dir, inv.Name+".ca.crt")
		}
	}
	for _, h := range inv.SentinelHosts() {
		ci.Sentinels = append(ci.Sentinels, net.JoinHostPort(h.Address, strconv.Itoa(inv.Sentinel.Port)))
	}
	if inv.Redis.ACL() {
		return ci.forACLUser(inv, user, showSecret)
	}
	if user != "" && user != "default" {
		return nil, fmt.Errorf("%s: the cluster has no ACL users (redis.users): its only user is default", inv.File)
	}
	if inv.Redis.Password == "" {
		ci.PasswordFile = PasswordFile(inv)
	}
	if showSecret {
		sp, err := LoadPassword(inv, false)
		if err != nil {
			return nil, err
		}
		ci.Password = sp.Password
		if sp.File != "" {
			ci.PasswordFile = sp.File
		}
	}
	return ci, nil
}

// forACLUser fills ci for an application user of an ACL cluster.
func (ci *ConnectInfo) forACLUser(inv *inventory.Inventory, user string, showSecret bool) (*ConnectInfo, error) {
	ci.SeparateSentinelPassword = true
	if inv.Redis.Password == "" {
		ci.SentinelPasswordFile = PasswordFile(inv)
	}
	if showSecret {
		sp, err := LoadPassword(inv, false)
		if err != nil {
			return nil, err
		}
		ci.SentinelPassword = sp.Password
	}
	if user == "" && len(inv.Redis.Users) > 0 {
		user = inv.Redis.Users[0].Name
	}
	if user == "" || user == "default" {
		if !inv.Redis.DefaultUser {
			return nil, fmt.Errorf("%s: the default user is off and there is no application user: add one under redis.users (redisctl's own users are not for applications)", inv.File)
		}
		ci.User, ci.PasswordFile, ci.Password = "default", ci.SentinelPasswordFile, ci.SentinelPassword
		return ci, nil
	}
	for _, u := range inv.Redis.Users {
		if u.Name != user {
			continue
		}
		ci.User = u.Name
		if u.Password == "" {
			ci.PasswordFile = UserPasswordFile(inv, u.Name)
		}
		if showSecret {
			ci.Password = u.Password
			if ci.Password == "" {
				pw, err := readPasswordFile(ci.PasswordFile)
				if err != nil {
					return nil, fmt.Errorf("user %s: %w (run redisctl up first)", u.Name, err)
				}
				ci.Password = pw
			}
		}
		return ci, nil
	}
	return nil, fmt.Errorf("%s: no application user %s under redis.users", inv.File, user)
}

// sentinelPasswordEnv names the variable of the sentinels' password when
// it is not the user's.
const sentinelPasswordEnv = "REDIS_SENTINEL_PASSWORD"

// ConnectFormats are the forms WriteConnectInfo prints.
var ConnectFormats = []string{"table", "json", "env", "go", "python"}

// passwordEnv names the environment variable the snippets read the
// password from when it is not shown.
const passwordEnv = "REDIS_PASSWORD"

// Write prints ci as a table, shell environment assignments, or
// a Go (go-redis) or Python (redis-py) snippet. JSON is written by the
// caller's encoder.
func (ci *ConnectInfo) Write(w io.Writer, format string) error {
	switch format {
	case "table":
		ci.writeTable(w)
	case "env":
		ci.writeEnv(w)
	case "go":
		ci.writeGo(w)
	case "python":
		ci.writePython(w)
	default:
		return fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(ConnectFormats, ", "))
	}
	return nil
}

func (ci *ConnectInfo) passwordText() string {
	return secretText(ci.Password, ci.PasswordFile)
}

func secretText(pw, file string) string {
	switch {
	case pw != "":
		return pw
	case file != "":
		return "hidden (stored in " + file + "; --show-secrets prints it)"
	}
	return "hidden (from the inventory; --show-secrets prints it)"
}

func (ci *ConnectInfo) writeTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	ca := ci.CAFile
	if ca == "" {
		ca = "-"
	}
	fmt.Fprintf(tw, "master name\t%s\n", ci.MasterName)
	fmt.Fprintf(tw, "sentinels\t%s\n", strings.Join(ci.Sentinels, " "))
	fmt.Fprintf(tw, "tls\t%t\n", ci.TLS)
	fmt.Fprintf(tw, "ca file\t%s\n", ca)
	if ci.PlaintextPort != 0 {
		fmt.Fprintf(tw, "plaintext port\t%d on every data node, while clients move to TLS (the sentinels name TLS ports only)\n", ci.PlaintextPort)
	}
	fmt.Fprintf(tw, "user\t%s\n", ci.User)
	fmt.Fprintf(tw, "password\t%s\n", ci.passwordText())
	if ci.SeparateSentinelPassword {
		fmt.Fprintf(tw, "sentinel password\t%s\n", secretText(ci.SentinelPassword, ci.SentinelPasswordFile))
	}
	tw.Flush()
}

func (ci *ConnectInfo) writeEnv(w io.Writer) {
	fmt.Fprintf(w, "REDIS_SENTINEL_MASTER=%s\n", remote.Quote(ci.MasterName))
	fmt.Fprintf(w, "REDIS_SENTINELS=%s\n", remote.Quote(strings.Join(ci.Sentinels, ",")))
	fmt.Fprintf(w, "REDIS_TLS=%t\n", ci.TLS)
	fmt.Fprintf(w, "REDIS_CA_FILE=%s\n", remote.Quote(ci.CAFile))
	if ci.PlaintextPort != 0 {
		fmt.Fprintf(w, "REDIS_PLAINTEXT_PORT=%d\n", ci.PlaintextPort)
	}
	fmt.Fprintf(w, "REDIS_USERNAME=%s\n", remote.Quote(ci.User))
	if ci.Password != "" {
		fmt.Fprintf(w, "%s=%s\n", passwordEnv, remote.Quote(ci.Password))
	}
	if ci.SentinelPassword != "" {
		fmt.Fprintf(w, "%s=%s\n", sentinelPasswordEnv, remote.Quote(ci.SentinelPassword))
	}
}

// sentinelPW is the sentinels' password as a snippet writes it: the
// user's (same), or its own value or variable; and the comment beside it.
func (ci *ConnectInfo) sentinelPW(userPW string, literal func(string) string, env func(string) string) (string, string) {
	if !ci.SeparateSentinelPassword {
		return userPW, "the sentinels require the same password"
	}
	if ci.SentinelPassword != "" {
		return literal(ci.SentinelPassword), "the sentinels' own password (the cluster password)"
	}
	return env(sentinelPasswordEnv), "the sentinels' own password (the cluster password)"
}

func (ci *ConnectInfo) writeGo(w io.Writer) {
	pw := "os.Getenv(" + strconv.Quote(passwordEnv) + ")"
	if ci.Password != "" {
		pw = strconv.Quote(ci.Password)
	}
	var addrs []string
	for _, s := range ci.Sentinels {
		addrs = append(addrs, strconv.Quote(s))
	}
	spw, why := ci.sentinelPW(pw, strconv.Quote, func(v string) string { return "os.Getenv(" + strconv.Quote(v) + ")" })
	tlsPre, tlsOpt := "", ""
	if ci.TLS {
		tlsPre = fmt.Sprintf(`// TLS: trust the cluster's CA only; each server's certificate names its
// address, which the client checks (sentinels and the master alike).
caPEM, err := os.ReadFile(%s)
if err != nil {
	return err
}
roots := x509.NewCertPool()
roots.AppendCertsFromPEM(caPEM)
`, strconv.Quote(ci.CAFile))
		tlsOpt = "\tTLSConfig:        &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},\n"
	}
	fmt.Fprintf(w, `// go-redis (github.com/redis/go-redis/v9): the client asks the sentinels
// for the current master and follows it through failovers.
%srdb := redis.NewFailoverClient(&redis.FailoverOptions{
	MasterName:       %s,
	SentinelAddrs:    []string{%s},
	Username:         %s,
	Password:         %s,
	SentinelPassword: %s, // %s
%s})
`, tlsPre, strconv.Quote(ci.MasterName), strings.Join(addrs, ", "), strconv.Quote(ci.User), pw, spw, why, tlsOpt)
}

func (ci *ConnectInfo) writePython(w io.Writer) {
	pw := "os.environ[" + pyQuote(passwordEnv) + "]"
	if ci.Password != "" {
		pw = pyQuote(ci.Password)
	}
	spw, why := ci.sentinelPW("password", pyQuote, func(v string) string { return "os.environ[" + pyQuote(v) + "]" })
	var addrs []string
	for _, s := range ci.Sentinels {
		host, port, _ := net.SplitHostPort(s)
		addrs = append(addrs, fmt.Sprintf("(%s, %s)", pyQuote(host), port))
	}
	tlsKw, tlsArgs := "", ""
	if ci.TLS {
		// The sentinels and the master both speak TLS with the cluster CA.
		tlsKw = fmt.Sprintf(`, "ssl": True, "ssl_ca_certs": %s`, pyQuote(ci.CAFile))
		tlsArgs = fmt.Sprintf("    ssl=True,\n    ssl_ca_certs=%s,\n", pyQuote(ci.CAFile))
	}
	fmt.Fprintf(w, `# redis-py: the Sentinel object asks the sentinels for the current
# master and follows it through failovers.
import os
from redis.sentinel import Sentinel

password = %s
sentinel = Sentinel(
    [%s],
    sentinel_kwargs={"password": %s%s},  # %s
    socket_timeout=0.5,
%s)
master = sentinel.master_for(%s, username=%s, password=password)
`, pw, strings.Join(addrs, ", "), spw, tlsKw, why, tlsArgs, pyQuote(ci.MasterName), pyQuote(ci.User))
}

// pyQuote writes s as a Python string literal.
func pyQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < ' ' || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
