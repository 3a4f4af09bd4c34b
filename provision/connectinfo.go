package provision

import (
	"fmt"
	"io"
	"net"
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
	User       string   `json:"user"`
	// PasswordFile is where the generated password is stored on this
	// machine ("" when the inventory gives it).
	PasswordFile string `json:"password_file,omitempty"`
	// Password is set only when asked for (--show-secrets).
	Password string `json:"password,omitempty"`
}

// ConnectInfoFor builds the connection details of inv; with showSecret the
// stored (or inventory) password is included, else it never is.
func ConnectInfoFor(inv *inventory.Inventory, showSecret bool) (*ConnectInfo, error) {
	ci := &ConnectInfo{MasterName: inv.Name, User: "default"}
	for _, h := range inv.SentinelHosts() {
		ci.Sentinels = append(ci.Sentinels, net.JoinHostPort(h.Address, strconv.Itoa(inv.Sentinel.Port)))
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
	switch {
	case ci.Password != "":
		return ci.Password
	case ci.PasswordFile != "":
		return "hidden (stored in " + ci.PasswordFile + "; --show-secrets prints it)"
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
	fmt.Fprintf(tw, "user\t%s\n", ci.User)
	fmt.Fprintf(tw, "password\t%s\n", ci.passwordText())
	tw.Flush()
}

func (ci *ConnectInfo) writeEnv(w io.Writer) {
	fmt.Fprintf(w, "REDIS_SENTINEL_MASTER=%s\n", remote.Quote(ci.MasterName))
	fmt.Fprintf(w, "REDIS_SENTINELS=%s\n", remote.Quote(strings.Join(ci.Sentinels, ",")))
	fmt.Fprintf(w, "REDIS_TLS=%t\n", ci.TLS)
	fmt.Fprintf(w, "REDIS_CA_FILE=%s\n", remote.Quote(ci.CAFile))
	fmt.Fprintf(w, "REDIS_USERNAME=%s\n", remote.Quote(ci.User))
	if ci.Password != "" {
		fmt.Fprintf(w, "%s=%s\n", passwordEnv, remote.Quote(ci.Password))
	}
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
	fmt.Fprintf(w, `// go-redis (github.com/redis/go-redis/v9): the client asks the sentinels
// for the current master and follows it through failovers.
rdb := redis.NewFailoverClient(&redis.FailoverOptions{
	MasterName:       %s,
	SentinelAddrs:    []string{%s},
	Username:         %s,
	Password:         %s,
	SentinelPassword: %s, // the sentinels require the same password
})
`, strconv.Quote(ci.MasterName), strings.Join(addrs, ", "), strconv.Quote(ci.User), pw, pw)
}

func (ci *ConnectInfo) writePython(w io.Writer) {
	pw := "os.environ[" + pyQuote(passwordEnv) + "]"
	if ci.Password != "" {
		pw = pyQuote(ci.Password)
	}
	var addrs []string
	for _, s := range ci.Sentinels {
		host, port, _ := net.SplitHostPort(s)
		addrs = append(addrs, fmt.Sprintf("(%s, %s)", pyQuote(host), port))
	}
	fmt.Fprintf(w, `# redis-py: the Sentinel object asks the sentinels for the current
# master and follows it through failovers.
import os
from redis.sentinel import Sentinel

password = %s
sentinel = Sentinel(
    [%s],
    sentinel_kwargs={"password": password},  # the sentinels require the same password
    socket_timeout=0.5,
)
master = sentinel.master_for(%s, username=%s, password=password)
`, pw, strings.Join(addrs, ", "), pyQuote(ci.MasterName), pyQuote(ci.User))
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
