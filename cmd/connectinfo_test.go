package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const storedPassword = "Stored0Pw0For0ConnectInfo"

// connectInventory writes a three-host inventory whose password is stored
// in a file, as up leaves it, and returns the inventory's path.
func connectInventory(t *testing.T) (inv, pwFile string) {
	t.Helper()
	dir := t.TempDir()
	pwFile = filepath.Join(dir, "cluster.password")
	if err := os.WriteFile(pwFile, []byte(storedPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := filepath.Abs(filepath.Join("..", "testdata", "inventories", "fake-redis.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	yaml := `name: cache-eu
redis:
  version: "7.0.15"
  source: ` + src + `
  password_file: ` + pwFile + `
sentinel:
  port: 8100
hosts:
  - {name: node1, address: 10.0.0.1, role: master}
  - {name: node2, address: 10.0.0.2, role: replica}
  - {name: node3, address: 10.0.0.3, role: replica}
  - {name: node4, address: 10.0.0.4, role: replica, sentinel: false}
`
	inv = filepath.Join(dir, "inventory.yaml")
	if err := os.WriteFile(inv, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return inv, pwFile
}

func TestConnectInfoFormats(t *testing.T) {
	inv, pwFile := connectInventory(t)
	want := map[string]string{
		"table": `master name  cache-eu
sentinels    10.0.0.1:8100 10.0.0.2:8100 10.0.0.3:8100
tls          false
ca file      -
user         default
password     hidden (stored in ` + pwFile + `; --show-secrets prints it)
`,
		"env": `REDIS_SENTINEL_MASTER=cache-eu
REDIS_SENTINELS=10.0.0.1:8100,10.0.0.2:8100,10.0.0.3:8100
REDIS_TLS=false
REDIS_CA_FILE=''
REDIS_USERNAME=default
`,
		"go": `// go-redis (github.com/redis/go-redis/v9): the client asks the sentinels
// for the current master and follows it through failovers.
rdb := redis.NewFailoverClient(&redis.FailoverOptions{
	MasterName:       "cache-eu",
	SentinelAddrs:    []string{"10.0.0.1:8100", "10.0.0.2:8100", "10.0.0.3:8100"},
	Username:         "default",
	Password:         os.Getenv("REDIS_PASSWORD"),
	SentinelPassword: os.Getenv("REDIS_PASSWORD"), // the sentinels require the same password
})
`,
		"python": `# redis-py: the Sentinel object asks the sentinels for the current
# master and follows it through failovers.
import os
from redis.sentinel import Sentinel

password = os.environ["REDIS_PASSWORD"]
sentinel = Sentinel(
    [("10.0.0.1", 8100), ("10.0.0.2", 8100), ("10.0.0.3", 8100)],
    sentinel_kwargs={"password": password},  # the sentinels require the same password
    socket_timeout=0.5,
)
master = sentinel.master_for("cache-eu", username="default", password=password)
`,
	}
	for format, w := range want {
		code, out, stderr := execute(t, nil, "connect-info", "-i", inv, "-o", format)
		if code != 0 || out != w {
			t.Errorf("-o %s: exit %d (%s)\n%s\nwant:\n%s", format, code, stderr, out, w)
		}
	}
	code, out, _ := execute(t, nil, "connect-info", "-i", inv, "-o", "json")
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil {
		t.Fatalf("-o json: exit %d, %v\n%s", code, err, out)
	}
	wantDoc := map[string]any{"master_name": "cache-eu", "sentinels": []any{"10.0.0.1:8100", "10.0.0.2:8100", "10.0.0.3:8100"},
		"tls": false, "ca_file": "", "user": "default", "password_file": pwFile}
	if !reflect.DeepEqual(doc, wantDoc) {
		t.Errorf("-o json:\n got %v\nwant %v", doc, wantDoc)
	}
}

// The password appears in no form without --show-secrets, and in every
// form with it.
func TestConnectInfoSecrets(t *testing.T) {
	inv, _ := connectInventory(t)
	for _, format := range []string{"table", "json", "env", "go", "python"} {
		_, out, stderr := execute(t, nil, "connect-info", "-i", inv, "-o", format)
		if strings.Contains(out+stderr, storedPassword) {
			t.Errorf("-o %s printed the password without --show-secrets", format)
		}
		code, out, stderr := execute(t, nil, "connect-info", "-i", inv, "-o", format, "--show-secrets")
		if code != 0 || !strings.Contains(out, storedPassword) || strings.Contains(stderr, storedPassword) {
			t.Errorf("-o %s --show-secrets: exit %d, password on stdout %t, on stderr %t", format, code,
				strings.Contains(out, storedPassword), strings.Contains(stderr, storedPassword))
		}
	}
	_, out, _ := execute(t, nil, "connect-info", "-i", inv, "-o", "env", "--show-secrets")
	if !strings.HasSuffix(out, "REDIS_PASSWORD="+storedPassword+"\n") {
		t.Errorf("-o env --show-secrets:\n%s", out)
	}
}

func TestConnectInfoWithoutStoredPassword(t *testing.T) {
	inv, pwFile := connectInventory(t)
	os.Remove(pwFile)
	if code, _, _ := execute(t, nil, "connect-info", "-i", inv); code != 0 {
		t.Errorf("connect-info without a stored password: exit %d; it needs none", code)
	}
	code, _, stderr := execute(t, nil, "connect-info", "-i", inv, "--show-secrets")
	if code != ExitError || !strings.Contains(stderr, "run redisctl up first") {
		t.Errorf("--show-secrets without a stored password: exit %d, %q", code, stderr)
	}
}

func TestCheckAndConnectInfoBadOutput(t *testing.T) {
	for _, args := range [][]string{{"check", "-o", "yaml"}, {"connect-info", "-o", "ruby"}} {
		if code, _, stderr := execute(t, nil, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, ExitUsage, stderr)
		}
	}
}

func TestConnectInfoACLUsers(t *testing.T) {
	inv, pwFile := connectInventory(t)
	data, _ := os.ReadFile(inv)
	yaml := strings.Replace(string(data), "sentinel:\n", "  users:\n    - {name: app, rules: \"~app:* +@read\"}\n    - {name: other, rules: \"~o:* +get\"}\nsentinel:\n", 1)
	if err := os.WriteFile(inv, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	appFile := filepath.Join(filepath.Dir(pwFile), "cluster.app.password")
	const appPW = "App0Stored0Pw"
	if err := os.WriteFile(appFile, []byte(appPW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := execute(t, nil, "connect-info", "-i", inv, "-o", "go")
	if code != 0 || !strings.Contains(out, `Username:         "app"`) || !strings.Contains(out, `Password:         os.Getenv("REDIS_PASSWORD")`) ||
		!strings.Contains(out, `SentinelPassword: os.Getenv("REDIS_SENTINEL_PASSWORD"), // the sentinels' own password`) {
		t.Fatalf("-o go: exit %d\n%s%s", code, out, stderr)
	}
	code, out, _ = execute(t, nil, "connect-info", "-i", inv, "-o", "env", "--show-secrets")
	if code != 0 || !strings.Contains(out, "REDIS_USERNAME=app\n") || !strings.Contains(out, "REDIS_PASSWORD="+appPW+"\n") ||
		!strings.Contains(out, "REDIS_SENTINEL_PASSWORD="+storedPassword+"\n") {
		t.Fatalf("-o env --show-secrets: exit %d\n%s", code, out)
	}
	code, out, _ = execute(t, nil, "connect-info", "-i", inv, "-o", "table")
	if code != 0 || !strings.Contains(out, "password           hidden (stored in "+appFile) || strings.Contains(out, appPW) {
		t.Fatalf("-o table: exit %d\n%s", code, out)
	}
	if code, _, stderr := execute(t, nil, "connect-info", "-i", inv, "--user", "nobody"); code == 0 || !strings.Contains(stderr, "no application user nobody") {
		t.Fatalf("--user nobody: exit %d: %s", code, stderr)
	}
	if code, _, stderr := execute(t, nil, "connect-info", "-i", inv, "--user", "default"); code == 0 || !strings.Contains(stderr, "the default user is off") {
		t.Fatalf("--user default: exit %d: %s", code, stderr)
	}
}

// On a TLS cluster every format says so and names the CA redisctl keeps
// beside the password file; the snippets trust it.
func TestConnectInfoTLS(t *testing.T) {
	inv, pwFile := connectInventory(t)
	data, err := os.ReadFile(inv)
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), "hosts:", "tls:\n  enabled: true\nhosts:", 1))
	if err := os.WriteFile(inv, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(filepath.Dir(pwFile), "cache-eu.ca.crt")
	want := map[string][]string{
		"table":  {"tls          true\n", "ca file      " + ca + "\n"},
		"env":    {"REDIS_TLS=true\n", "REDIS_CA_FILE=" + ca + "\n"},
		"go":     {`caPEM, err := os.ReadFile("` + ca + `")`, "TLSConfig:        &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},\n})"},
		"python": {`sentinel_kwargs={"password": password, "ssl": True, "ssl_ca_certs": "` + ca + `"}`, "    ssl=True,\n    ssl_ca_certs=\"" + ca + "\",\n)"},
		"json":   {`"tls": true`, `"ca_file": "` + ca + `"`},
	}
	for format, parts := range want {
		code, out, stderr := execute(t, nil, "connect-info", "-i", inv, "-o", format)
		if code != 0 {
			t.Errorf("-o %s: exit %d (%s)", format, code, stderr)
			continue
		}
		for _, p := range parts {
			if !strings.Contains(out, p) {
				t.Errorf("-o %s does not hold %q:\n%s", format, p, out)
			}
		}
	}
}

// With tls.plaintext, connect-info names the data nodes' plaintext port
// (table, env and JSON); without it, it says nothing of one.
func TestConnectInfoPlaintextPort(t *testing.T) {
	inv, _ := connectInventory(t)
	data, err := os.ReadFile(inv)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"table": "plaintext port  7100 on every data node", "env": "REDIS_PLAINTEXT_PORT=7100\n", "json": `"plaintext_port": 7100`}
	for format := range want {
		if code, out, stderr := execute(t, nil, "connect-info", "-i", inv, "-o", format); code != 0 || strings.Contains(strings.ToLower(out), "plaintext port") || strings.Contains(strings.ToLower(out), "plaintext_port") {
			t.Errorf("-o %s without TLS: exit %d (%s), and no plaintext port wanted in:\n%s", format, code, stderr, out)
		}
	}
	data = []byte(strings.Replace(string(data), "hosts:", "tls:\n  enabled: true\n  plaintext: true\n  plaintext_port: 7100\nhosts:", 1))
	if err := os.WriteFile(inv, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for format, part := range want {
		code, out, stderr := execute(t, nil, "connect-info", "-i", inv, "-o", format)
		if code != 0 || !strings.Contains(out, part) {
			t.Errorf("-o %s: exit %d (%s), want %q in:\n%s", format, code, stderr, part, out)
		}
	}
}
