package inventory

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// TLS is the inventory's tls section: whether every link of the cluster
// (clients, replication, sentinels) speaks TLS, and with which files.
type TLS struct {
	Enabled bool
	// CAFile, CertFile and KeyFile are the files the operator brings, all
	// three or none; none means redisctl makes a CA and one certificate per
	// host itself (see Generated). CertFile and KeyFile may hold "{host}",
	// replaced by each host's name.
	CAFile, CertFile, KeyFile string
	// ClientAuth is tls-auth-clients: "yes", "optional" (the default) or
	// "no".
	ClientAuth string
	// Plaintext keeps a plaintext port open on each data node beside its
	// TLS port (redis.port), on PlaintextPort, while clients move to TLS.
	// Only with Enabled; sentinels stay TLS only.
	Plaintext     bool
	PlaintextPort int
	Line          int // line of the tls section's value, for messages
}

// DataPlaintextPort is the port a data node of a TLS cluster serves
// plaintext on beside its TLS port, or 0 (closed).
func (t TLS) DataPlaintextPort() int {
	if t.Enabled && t.Plaintext {
		return t.PlaintextPort
	}
	return 0
}

// Generated reports whether redisctl makes the cluster's CA and host
// certificates (no ca_file, cert_file and key_file in the inventory).
func (t TLS) Generated() bool { return t.CAFile == "" }

// DefaultClientAuth is tls-auth-clients when the inventory does not say:
// clients may connect without a certificate (they still verify the
// server's, and still log in with a password), while replicas and
// sentinels present theirs.
const DefaultClientAuth = "optional"

var tlsKeys = keySet{
	names: []string{"enabled", "ca_file", "cert_file", "key_file", "plaintext", "plaintext_port", "client_auth"},
	hints: map[string]string{
		"port":            "the TLS port is redis.port (and sentinel.port for sentinels); a plaintext port beside it is plaintext_port",
		"tls_port":        "the TLS port is redis.port (and sentinel.port for sentinels)",
		"cert":            `did you mean "cert_file"?`,
		"key":             `did you mean "key_file"?`,
		"ca":              `did you mean "ca_file"?`,
		"plain_port":      `did you mean "plaintext_port"?`,
		"plaintext_ports": `did you mean "plaintext_port"?`,
	},
}

func (d *decoder) tls(n *yaml.Node, f fieldPath, t *TLS) {
	t.ClientAuth = DefaultClientAuth
	if absent(n) {
		return
	}
	t.Line = n.Line
	m := d.mapping(n, f, tlsKeys, "a mapping with enabled, ca_file, cert_file, key_file, plaintext, plaintext_port and client_auth")
	if m == nil {
		return
	}
	if b, ok := d.boolean(m["enabled"], f.key("enabled")); ok {
		t.Enabled = b
	}
	if b, ok := d.boolean(m["plaintext"], f.key("plaintext")); ok {
		t.Plaintext = b
	}
	d.port(m["plaintext_port"], f.key("plaintext_port"), &t.PlaintextPort)
	switch {
	case t.Plaintext && absent(m["plaintext_port"]):
		d.errorf(m["plaintext"], f.key("plaintext"), "true needs plaintext_port: the port each data node serves plaintext on beside "+
			"its TLS port (Redis cannot serve both on redis.port)")
	case !t.Plaintext && !absent(m["plaintext_port"]):
		d.errorf(m["plaintext_port"], f.key("plaintext_port"), "given without plaintext: true (set plaintext: true to open it, or leave plaintext_port out)")
	}
	d.clientAuth(m["client_auth"], f.key("client_auth"), t)
	files := []struct {
		key string
		dst *string
	}{{"ca_file", &t.CAFile}, {"cert_file", &t.CertFile}, {"key_file", &t.KeyFile}}
	var given, missing []string
	for _, x := range files {
		if absent(m[x.key]) {
			missing = append(missing, x.key)
			continue
		}
		given = append(given, x.key)
		v, ok := d.str(m[x.key], f.key(x.key))
		if !ok {
			continue
		}
		if v == "" {
			d.errorf(m[x.key], f.key(x.key), "empty (want a file path, or leave all three files out to have redisctl make them)")
			continue
		}
		if p, ok := d.expandPath(m[x.key], f.key(x.key), v); ok {
			*x.dst = p
		}
	}
	if len(given) > 0 && len(missing) > 0 {
		d.errorf(m[given[0]], f, "%s given without %s: give all three files, or none to have redisctl make a CA and the certificates",
			strings.Join(given, " and "), strings.Join(missing, " and "))
	}
	if strings.Contains(t.CAFile, "{host}") {
		d.errorf(m["ca_file"], f.key("ca_file"), "the CA is one for the whole cluster: {host} belongs in cert_file and key_file only")
	}
}

// clientAuth reads tls-auth-clients: yes, optional or no. YAML reads an
// unquoted yes or no as text in YAML 1.2 but true and false as booleans;
// those are taken as yes and no.
func (d *decoder) clientAuth(n *yaml.Node, f fieldPath, t *TLS) {
	if absent(n) {
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		var b bool
		if n.Decode(&b) == nil {
			t.ClientAuth = map[bool]string{true: "yes", false: "no"}[b]
			return
		}
	}
	v, ok := d.str(n, f)
	if !ok {
		return
	}
	switch strings.ToLower(v) {
	case "yes", "optional", "no":
		t.ClientAuth = strings.ToLower(v)
	default:
		d.errorf(n, f, "%s is not yes, optional or no", shown(n))
	}
}
