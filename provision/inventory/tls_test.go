package inventory

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// tlsFile is where the TLS tests' inventory is said to be: relative paths
// in it resolve against /srv/redisctl.
const tlsFile = "/srv/redisctl/inv.yaml"

// parseTLS parses usersInventory(extra) as tlsFile with testEnv(nil)
// (HOME=/home/op). extra starts on line 5; written without indentation it
// is a top-level section (tls:), indented by two a key of redis.
func parseTLS(extra string) (*Inventory, error) {
	inv, _, err := Parse(tlsFile, []byte(usersInventory(extra)), testEnv(nil))
	return inv, err
}

func TestTLSSection(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		want       TLS // Line is not compared (nothing reads it yet)
		generated  bool
	}{
		{name: "absent", yaml: "",
			want: TLS{ClientAuth: "optional"}, generated: true},
		{name: "left empty", yaml: "tls:\n",
			want: TLS{ClientAuth: "optional"}, generated: true},
		{name: "empty mapping", yaml: "tls: {}\n",
			want: TLS{ClientAuth: "optional"}, generated: true},
		{name: "enabled only", yaml: "tls:\n  enabled: true\n",
			want: TLS{Enabled: true, ClientAuth: "optional"}, generated: true},
		{name: "enabled false", yaml: "tls:\n  enabled: false\n",
			want: TLS{ClientAuth: "optional"}, generated: true},
		{name: "flow mapping", yaml: "tls: {enabled: true, client_auth: no}\n",
			want: TLS{Enabled: true, ClientAuth: "no"}, generated: true},
		{
			name: "three files: relative, ~/ and absolute",
			yaml: "tls:\n  enabled: true\n  ca_file: certs/ca.pem\n  cert_file: ~/tls/{host}.crt\n  key_file: /etc/ssl/private/{host}.key\n",
			want: TLS{Enabled: true, ClientAuth: "optional",
				CAFile: "/srv/redisctl/certs/ca.pem", CertFile: "/home/op/tls/{host}.crt", KeyFile: "/etc/ssl/private/{host}.key"},
		},
		{
			name: "three files with ../ and ~/",
			yaml: "tls:\n  enabled: true\n  ca_file: ~/ca.pem\n  cert_file: ../pki/{host}.crt\n  key_file: ./{host}.key\n",
			want: TLS{Enabled: true, ClientAuth: "optional",
				CAFile: "/home/op/ca.pem", CertFile: "/srv/pki/{host}.crt", KeyFile: "/srv/redisctl/{host}.key"},
		},
		{
			name: "files while disabled are still read",
			yaml: "tls:\n  enabled: false\n  ca_file: ca.pem\n  cert_file: c.pem\n  key_file: k.pem\n",
			want: TLS{ClientAuth: "optional",
				CAFile: "/srv/redisctl/ca.pem", CertFile: "/srv/redisctl/c.pem", KeyFile: "/srv/redisctl/k.pem"},
		},
		{name: "client_auth yes", yaml: "tls:\n  enabled: true\n  client_auth: yes\n",
			want: TLS{Enabled: true, ClientAuth: "yes"}, generated: true},
		{name: "client_auth optional", yaml: "tls:\n  enabled: true\n  client_auth: optional\n",
			want: TLS{Enabled: true, ClientAuth: "optional"}, generated: true},
		{name: "client_auth no", yaml: "tls:\n  enabled: true\n  client_auth: no\n",
			want: TLS{Enabled: true, ClientAuth: "no"}, generated: true},
		{name: "client_auth quoted no", yaml: "tls:\n  enabled: true\n  client_auth: \"no\"\n",
			want: TLS{Enabled: true, ClientAuth: "no"}, generated: true},
		{name: "client_auth upper case", yaml: "tls:\n  enabled: true\n  client_auth: OPTIONAL\n",
			want: TLS{Enabled: true, ClientAuth: "optional"}, generated: true},
		{name: "client_auth true is yes", yaml: "tls:\n  enabled: true\n  client_auth: true\n",
			want: TLS{Enabled: true, ClientAuth: "yes"}, generated: true},
		{name: "client_auth True is yes", yaml: "tls:\n  enabled: true\n  client_auth: True\n",
			want: TLS{Enabled: true, ClientAuth: "yes"}, generated: true},
		{name: "client_auth false is no", yaml: "tls:\n  enabled: true\n  client_auth: false\n",
			want: TLS{Enabled: true, ClientAuth: "no"}, generated: true},
		{name: "client_auth left empty", yaml: "tls:\n  enabled: true\n  client_auth:\n",
			want: TLS{Enabled: true, ClientAuth: "optional"}, generated: true},
		{name: "plaintext false", yaml: "tls:\n  enabled: true\n  plaintext: false\n",
			want: TLS{Enabled: true, ClientAuth: "optional"}, generated: true},
		{name: "plaintext with its port", yaml: "tls:\n  enabled: true\n  plaintext: true\n  plaintext_port: 7100\n",
			want: TLS{Enabled: true, ClientAuth: "optional", Plaintext: true, PlaintextPort: 7100}, generated: true},
		{name: "plaintext kept while TLS is off", yaml: "tls:\n  enabled: false\n  plaintext: true\n  plaintext_port: 7100\n",
			want: TLS{ClientAuth: "optional", Plaintext: true, PlaintextPort: 7100}, generated: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			inv, err := parseTLS(c.yaml)
			if err != nil {
				t.Fatalf("problems:\n%v", err)
			}
			got := inv.TLS
			got.Line = 0
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("tls:\n got %+v\nwant %+v", got, c.want)
			}
			if got.Generated() != c.generated {
				t.Errorf("Generated() = %v, want %v", got.Generated(), c.generated)
			}
		})
	}
}

// The default for client_auth is the exported constant, which the rest of
// redisctl compares against.
func TestTLSDefaultClientAuth(t *testing.T) {
	if DefaultClientAuth != "optional" {
		t.Errorf("DefaultClientAuth = %q, want optional", DefaultClientAuth)
	}
}

// tlsNotAll is the end of the message for some of the three files.
const tlsNotAll = ": give all three files, or none to have redisctl make a CA and the certificates"

// tlsCases are inventories with a wrong tls section (or TLS directives in
// redis.config), from line 5 on, and their exact problems without the
// file name.
var tlsCases = []struct {
	name string
	yaml string
	want []string
}{
	{
		// An empty path is not "left out": it would silently mean a CA of
		// redisctl's (ca_file) or a file named "" (the others).
		name: "empty ca_file",
		yaml: "tls:\n  enabled: true\n  ca_file: \"\"\n  cert_file: c.pem\n  key_file: k.pem\n",
		want: []string{`7:12: tls.ca_file: empty (want a file path, or leave all three files out to have redisctl make them)`},
	},
	{
		name: "cert_file only",
		yaml: "tls:\n  enabled: true\n  cert_file: host.crt\n",
		want: []string{`7:14: tls: cert_file given without ca_file and key_file` + tlsNotAll},
	},
	{
		name: "ca_file only",
		yaml: "tls:\n  enabled: true\n  ca_file: ca.pem\n",
		want: []string{`7:12: tls: ca_file given without cert_file and key_file` + tlsNotAll},
	},
	{
		name: "key_file only",
		yaml: "tls:\n  key_file: /k.pem\n",
		want: []string{`6:13: tls: key_file given without ca_file and cert_file` + tlsNotAll},
	},
	{
		name: "ca_file and cert_file",
		yaml: "tls:\n  enabled: true\n  ca_file: ca.pem\n  cert_file: \"{host}.crt\"\n",
		want: []string{`7:12: tls: ca_file and cert_file given without key_file` + tlsNotAll},
	},
	{
		name: "cert_file and key_file",
		yaml: "tls:\n  enabled: true\n  cert_file: \"{host}.crt\"\n  key_file: \"{host}.key\"\n",
		want: []string{`7:14: tls: cert_file and key_file given without ca_file` + tlsNotAll},
	},
	{
		name: "host in ca_file",
		yaml: "tls:\n  enabled: true\n  ca_file: /pki/{host}/ca.pem\n  cert_file: /pki/{host}/cert.pem\n  key_file: /pki/{host}/key.pem\n",
		want: []string{`7:12: tls.ca_file: the CA is one for the whole cluster: {host} belongs in cert_file and key_file only`},
	},
	{
		name: "client_auth maybe",
		yaml: "tls:\n  enabled: true\n  client_auth: maybe\n",
		want: []string{`7:16: tls.client_auth: "maybe" is not yes, optional or no`},
	},
	{
		name: "client_auth a number",
		yaml: "tls:\n  enabled: true\n  client_auth: 1\n",
		want: []string{`7:16: tls.client_auth: 1 is not yes, optional or no`},
	},
	{
		name: "client_auth empty",
		yaml: "tls:\n  enabled: true\n  client_auth: \"\"\n",
		want: []string{`7:16: tls.client_auth: "" is not yes, optional or no`},
	},
	{
		name: "client_auth a list",
		yaml: "tls:\n  enabled: true\n  client_auth: [yes]\n",
		want: []string{`7:16: tls.client_auth: want a string, not a list`},
	},
	{
		name: "plaintext true without its port",
		yaml: "tls:\n  enabled: true\n  plaintext: true\n",
		want: []string{`7:14: tls.plaintext: true needs plaintext_port: the port each data node serves plaintext on beside ` +
			`its TLS port (Redis cannot serve both on redis.port)`},
	},
	{
		name: "plaintext_port without plaintext",
		yaml: "tls:\n  enabled: true\n  plaintext_port: 7100\n",
		want: []string{`7:19: tls.plaintext_port: given without plaintext: true (set plaintext: true to open it, or leave plaintext_port out)`},
	},
	{
		name: "plaintext_port is redis.port",
		yaml: "tls:\n  enabled: true\n  plaintext: true\n  plaintext_port: 7000\n",
		want: []string{`8:19: tls.plaintext_port: 7000 is also redis.port (want a port of its own for plaintext clients)`},
	},
	{
		name: "plaintext_port is sentinel.port",
		yaml: "tls:\n  enabled: true\n  plaintext: true\n  plaintext_port: 8000\n",
		want: []string{`8:19: tls.plaintext_port: 8000 is also sentinel.port (want a port of its own for plaintext clients)`},
	},
	{
		name: "plaintext_port out of range",
		yaml: "tls:\n  enabled: true\n  plaintext: true\n  plaintext_port: 70000\n",
		want: []string{`8:19: tls.plaintext_port: 70000 is out of range (want a port, 1 to 65535)`},
	},
	{
		name: "plaintext a string",
		yaml: "tls:\n  enabled: true\n  plaintext: \"no\"\n",
		want: []string{`7:14: tls.plaintext: "no" is not true or false`},
	},
	{
		name: "unknown key port",
		yaml: "tls:\n  enabled: true\n  port: 6380\n",
		want: []string{`7:3: tls: unknown key "port" (the TLS port is redis.port (and sentinel.port for sentinels); a plaintext port beside it is plaintext_port)`},
	},
	{
		name: "unknown key tls_port",
		yaml: "tls:\n  enabled: true\n  tls_port: 6380\n",
		want: []string{`7:3: tls: unknown key "tls_port" (the TLS port is redis.port (and sentinel.port for sentinels))`},
	},
	{
		name: "unknown keys cert, key and ca",
		yaml: "tls:\n  cert: a.crt\n  key: a.key\n  ca: ca.crt\n",
		want: []string{
			`6:3: tls: unknown key "cert" (did you mean "cert_file"?)`,
			`7:3: tls: unknown key "key" (did you mean "key_file"?)`,
			`8:3: tls: unknown key "ca" (did you mean "ca_file"?)`,
		},
	},
	{
		name: "misspelt key",
		yaml: "tls:\n  enabeld: true\n",
		want: []string{`6:3: tls: unknown key "enabeld" (did you mean "enabled"?)`},
	},
	{
		name: "enabled a string",
		yaml: "tls:\n  enabled: \"yes\"\n",
		want: []string{`6:12: tls.enabled: "yes" is not true or false`},
	},
	{
		name: "enabled unquoted yes",
		yaml: "tls:\n  enabled: yes\n",
		want: []string{`6:12: tls.enabled: "yes" is not true or false`},
	},
	{
		name: "enabled a number",
		yaml: "tls:\n  enabled: 1\n",
		want: []string{`6:12: tls.enabled: 1 is not true or false`},
	},
	{
		name: "tls not a mapping",
		yaml: "tls: true\n",
		want: []string{`5:6: tls: want a mapping with enabled, ca_file, cert_file, key_file, plaintext, plaintext_port and client_auth, not true/false`},
	},
	{
		name: "tilde of another user",
		yaml: "tls:\n  ca_file: ~op/ca.pem\n  cert_file: c.pem\n  key_file: k.pem\n",
		want: []string{`6:12: tls.ca_file: "~op/ca.pem": only ~ and ~/ are expanded (write the full path)`},
	},
	{
		name: "several problems at once",
		yaml: "tls:\n  enabled: \"true\"\n  plaintext: true\n  client_auth: maybe\n",
		want: []string{
			`6:12: tls.enabled: "true" is not true or false`,
			`7:14: tls.plaintext: true needs plaintext_port: the port each data node serves plaintext on beside ` +
				`its TLS port (Redis cannot serve both on redis.port)`,
			`8:16: tls.client_auth: "maybe" is not yes, optional or no`,
		},
	},
	{
		name: "tls directives in redis.config",
		yaml: "  config:\n    tls-port: \"6380\"\n    tls-cert-file: /etc/ssl/r.crt\n    tls-auth-clients: \"no\"\n    tls-replication: \"yes\"\n",
		want: []string{
			`6:5: redis.config.tls-port: managed by redisctl (set tls.enabled instead: the TLS port is redis.port)`,
			`7:5: redis.config.tls-cert-file: managed by redisctl (set tls.cert_file instead, or leave it out to have redisctl make the certificates)`,
			`8:5: redis.config.tls-auth-clients: managed by redisctl (set tls.client_auth instead)`,
			`9:5: redis.config.tls-replication: managed by redisctl (set tls.enabled instead: replication uses TLS on a TLS cluster)`,
		},
	},
	{
		name: "tls directives in redis.config with tls enabled",
		yaml: "  config:\n    tls-key-file: /k\n    tls-ca-cert-file: /ca\ntls:\n  enabled: true\n",
		want: []string{
			`6:5: redis.config.tls-key-file: managed by redisctl (set tls.key_file instead, or leave it out to have redisctl make the certificates)`,
			`7:5: redis.config.tls-ca-cert-file: managed by redisctl (set tls.ca_file instead, or leave it out to have redisctl make the CA)`,
		},
	},
}

func TestTLSProblems(t *testing.T) {
	for _, c := range tlsCases {
		t.Run(c.name, func(t *testing.T) {
			inv, err := parseTLS(c.yaml)
			if inv != nil {
				t.Errorf("got an inventory along with the error")
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want a *ValidationError, got %T: %v", err, err)
			}
			var got []string
			for _, p := range ve.Problems {
				s := p.String()
				if !strings.HasPrefix(s, tlsFile+":") {
					t.Errorf("problem does not name the file: %s", s)
				}
				got = append(got, strings.TrimPrefix(s, tlsFile+":"))
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

// ~/ in a TLS file needs HOME; without it the path is refused, not
// resolved against the inventory's directory.
func TestTLSTildeWithoutHome(t *testing.T) {
	noHome := func(string) (string, bool) { return "", false }
	yaml := usersInventory("tls:\n  ca_file: ~/ca.pem\n  cert_file: c.pem\n  key_file: k.pem\n")
	_, _, err := Parse(tlsFile, []byte(yaml), noHome)
	want := tlsFile + `:6:12: tls.ca_file: cannot expand ~: HOME is not set (write the full path)`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}
