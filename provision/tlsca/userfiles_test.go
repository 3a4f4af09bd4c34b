package tlsca

import (
	"bytes"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExpandHost(t *testing.T) {
	tests := []struct{ pattern, host, want string }{
		{"./tls/{host}.crt", "redis-1", "./tls/redis-1.crt"},
		{"/etc/pki/{host}/{host}.key", "redis-2", "/etc/pki/redis-2/redis-2.key"},
		{"./tls/ca.crt", "redis-1", "./tls/ca.crt"},
		{"./tls/{HOST}.crt", "redis-1", "./tls/{HOST}.crt"},
		{"./tls/{host.crt", "redis-1", "./tls/{host.crt"},
		{"", "redis-1", ""},
	}
	for _, tt := range tests {
		if got := ExpandHost(tt.pattern, tt.host); got != tt.want {
			t.Errorf("ExpandHost(%q, %q) = %q, want %q", tt.pattern, tt.host, got, tt.want)
		}
	}
}

// TestLoadFiles arranges ./tls as a user would (ca.crt, {host}.crt and
// {host}.key for redis-1, issued by the cluster's CA), changes one thing per
// case, and loads redis-1's files through the inventory's patterns.
func TestLoadFiles(t *testing.T) {
	now := time.Now()
	ca, _ := newTestCA(t, "prod", now.AddDate(-3, 0, 0))
	other, _ := newTestCA(t, "other", now.AddDate(-3, 0, 0))
	addrs := []string{"10.0.0.1"}
	redis2Cert, redis2Key := issueForTest(t, ca, "redis-2", []string{"10.0.0.2"}, now)
	otherCert, otherKey := issueForTest(t, other, "redis-1", addrs, now)
	expiredCert, expiredKey := issueForTest(t, ca, "redis-1", addrs, now.AddDate(-3, 0, 0))
	serverOnlyCert, serverOnlyKey := signForTest(t, ca, &x509.Certificate{
		IPAddresses: []net.IP{net.ParseIP("10.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	clientOnlyCert, clientOnlyKey := signForTest(t, ca, &x509.Certificate{
		IPAddresses: []net.IP{net.ParseIP("10.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	write := func(t *testing.T, file string, data []byte) {
		t.Helper()
		must(t, os.WriteFile(file, data, 0o644))
	}
	pair := func(certPEM, keyPEM []byte) func(t *testing.T, _, certFile, keyFile string) {
		return func(t *testing.T, _, certFile, keyFile string) {
			write(t, certFile, certPEM)
			write(t, keyFile, keyPEM)
		}
	}

	tests := []struct {
		name           string
		arrange        func(t *testing.T, caFile, certFile, keyFile string)
		wantErr        []string // substrings; {ca}, {cert} and {key} stand for the files; nil loads
		wantClientAuth bool
	}{
		{
			name:           "as issued",
			arrange:        func(*testing.T, string, string, string) {},
			wantClientAuth: true,
		},
		{
			name: "links into an archive, as certbot keeps them",
			arrange: func(t *testing.T, caFile, certFile, keyFile string) {
				archive := t.TempDir()
				for _, f := range []string{caFile, certFile, keyFile} {
					moved := filepath.Join(archive, filepath.Base(f))
					must(t, os.Rename(f, moved))
					must(t, os.Symlink(moved, f))
				}
			},
			wantClientAuth: true,
		},
		{
			name: "certificate file with the chain after the host's certificate",
			arrange: func(t *testing.T, _, certFile, _ string) {
				data, err := os.ReadFile(certFile)
				must(t, err)
				write(t, certFile, append(data, ca.CertPEM...))
			},
			wantClientAuth: true,
		},
		{
			name: "CA file holding two CAs",
			arrange: func(t *testing.T, caFile, _, _ string) {
				write(t, caFile, append(append([]byte{}, other.CertPEM...), ca.CertPEM...))
			},
			wantClientAuth: true,
		},
		{
			name:    "a certificate for server use only",
			arrange: pair(serverOnlyCert, serverOnlyKey),
		},
		{
			name:    "no CA file",
			arrange: func(t *testing.T, caFile, _, _ string) { must(t, os.Remove(caFile)) },
			wantErr: []string{"read CA file: open {ca}: no such file"},
		},
		{
			name:    "no certificate file",
			arrange: func(t *testing.T, _, certFile, _ string) { must(t, os.Remove(certFile)) },
			wantErr: []string{"read certificate file: open {cert}: no such file"},
		},
		{
			name:    "no key file",
			arrange: func(t *testing.T, _, _, keyFile string) { must(t, os.Remove(keyFile)) },
			wantErr: []string{"read key file: open {key}: no such file"},
		},
		{
			name:    "CA file holds no certificate",
			arrange: func(t *testing.T, caFile, _, _ string) { write(t, caFile, []byte("garbage")) },
			wantErr: []string{"CA file {ca}: no PEM certificate"},
		},
		{
			name:    "certificate file holds a key",
			arrange: func(t *testing.T, _, certFile, _ string) { write(t, certFile, redis2Key) },
			wantErr: []string{"certificate file {cert}: no PEM certificate"},
		},
		{
			name:    "key file holds a certificate",
			arrange: func(t *testing.T, _, _, keyFile string) { write(t, keyFile, redis2Cert) },
			wantErr: []string{"key file {key}: no PEM private key"},
		},
		{
			name:    "key of another host",
			arrange: func(t *testing.T, _, _, keyFile string) { write(t, keyFile, redis2Key) },
			wantErr: []string{"key file {key} does not match certificate file {cert}"},
		},
		{
			name:    "certificate from another CA",
			arrange: pair(otherCert, otherKey),
			wantErr: []string{"certificate file {cert} is not valid through CA file {ca}", "unknown authority"},
		},
		{
			name:    "expired certificate",
			arrange: pair(expiredCert, expiredKey),
			wantErr: []string{"certificate file {cert} is not valid through CA file {ca}", "expired"},
		},
		{
			name:    "a certificate for client use only",
			arrange: pair(clientOnlyCert, clientOnlyKey),
			wantErr: []string{"certificate file {cert} is not valid through CA file {ca}", "incompatible key usage"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "tls")
			must(t, os.Mkdir(dir, 0o755))
			caFile := filepath.Join(dir, "ca.crt")
			certFile := ExpandHost(filepath.Join(dir, "{host}.crt"), "redis-1")
			keyFile := ExpandHost(filepath.Join(dir, "{host}.key"), "redis-1")
			certPEM, keyPEM := issueForTest(t, ca, "redis-1", addrs, now)
			write(t, caFile, ca.CertPEM)
			write(t, certFile, certPEM)
			write(t, keyFile, keyPEM)
			tt.arrange(t, caFile, certFile, keyFile)

			f, err := LoadFiles(caFile, certFile, keyFile)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatal("loaded; want a refusal")
				}
				for _, w := range tt.wantErr {
					w = strings.NewReplacer("{ca}", caFile, "{cert}", certFile, "{key}", keyFile).Replace(w)
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				file string
				got  []byte
			}{{caFile, f.CAPEM}, {certFile, f.CertPEM}, {keyFile, f.KeyPEM}} {
				if data, _ := os.ReadFile(c.file); !bytes.Equal(c.got, data) {
					t.Errorf("%s: loaded bytes differ from the file's", c.file)
				}
			}
			if f.CAFile != caFile || f.CertFile != certFile || f.KeyFile != keyFile {
				t.Errorf("files %s, %s, %s", f.CAFile, f.CertFile, f.KeyFile)
			}
			if f.Cert == nil || f.Cert.CheckSignatureFrom(ca.Cert) != nil {
				t.Error("Cert is not the host's certificate")
			}
			if f.ClientAuth != tt.wantClientAuth {
				t.Errorf("ClientAuth %v, want %v", f.ClientAuth, tt.wantClientAuth)
			}
		})
	}
}
