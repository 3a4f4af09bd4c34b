package cmd

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/redisctl/redisctl/provision"
	"github.com/redisctl/redisctl/provision/remote"
)

// sentinelPasswordEnv names the variable of the sentinels' password when
// it is not the user's.
const sentinelPasswordEnv = "REDIS_SENTINEL_PASSWORD"

// connectFormats are the forms connect-info prints.
var connectFormats = []string{"table", "json", "env", "go", "python"}

// passwordEnv names the environment variable the snippets read the
// password from when it is not shown.
const passwordEnv = "REDIS_PASSWORD"

// writeConnectInfo prints ci as a table, shell environment assignments, or
// a Go (go-redis) or Python (redis-py) snippet. JSON is written by the
// caller's encoder.
func writeConnectInfo(w io.Writer, ci *provision.ConnectInfo, format string) error {
	switch format {
	case "table":
		writeConnectTable(w, ci)
	case "env":
		writeConnectEnv(w, ci)
	case "go":
		writeConnectGo(w, ci)
	case "python":
		writeConnectPython(w, ci)
	default:
		return fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(connectFormats, ", "))
	}
	return nil
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

func writeConnectTable(w io.Writer, ci *provision.ConnectInfo) {
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
	fmt.Fprintf(tw, "password\t%s\n", secretText(ci.Password, ci.PasswordFile))
	if ci.SeparateSentinelPassword {
		fmt.Fprintf(tw, "sentinel password\t%s\n", secretText(ci.SentinelPassword, ci.SentinelPasswordFile))
	}
	tw.Flush()
}

func writeConnectEnv(w io.Writer, ci *provision.ConnectInfo) {
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
func sentinelPW(ci *provision.ConnectInfo, userPW string, literal func(string) string, env func(string) string) (string, string) {
	if !ci.SeparateSentinelPassword {
		return userPW, "the sentinels require the same password"
	}
	if ci.SentinelPassword != "" {
		return literal(ci.SentinelPassword), "the sentinels' own password (the cluster password)"
	}
	return env(sentinelPasswordEnv), "the sentinels' own password (the cluster password)"
}

func writeConnectGo(w io.Writer, ci *provision.ConnectInfo) {
	pw := "os.Getenv(" + strconv.Quote(passwordEnv) + ")"
	if ci.Password != "" {
		pw = strconv.Quote(ci.Password)
	}
	var addrs []string
	for _, s := range ci.Sentinels {
		addrs = append(addrs, strconv.Quote(s))
	}
	spw, why := sentinelPW(ci, pw, strconv.Quote, func(v string) string { return "os.Getenv(" + strconv.Quote(v) + ")" })
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

func writeConnectPython(w io.Writer, ci *provision.ConnectInfo) {
	pw := "os.environ[" + pyQuote(passwordEnv) + "]"
	if ci.Password != "" {
		pw = pyQuote(ci.Password)
	}
	spw, why := sentinelPW(ci, "password", pyQuote, func(v string) string { return "os.environ[" + pyQuote(v) + "]" })
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
