package tlsca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestIssue(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ca, _ := newTestCA(t, "prod", now.Add(-time.Hour))
	tests := []struct {
		name      string
		host      string
		addrs     []string
		wantIPs   []string
		wantNames []string
	}{
		{
			name:      "IPv4 address and a host name",
			host:      "redis-1",
			addrs:     []string{"10.0.0.1"},
			wantIPs:   []string{"10.0.0.1"},
			wantNames: []string{"redis-1"},
		},
		{
			name:      "a DNS address, IPv6 and IPv4",
			host:      "redis-2",
			addrs:     []string{"redis-2.example.com", "fd00::2", "10.0.0.2"},
			wantIPs:   []string{"fd00::2", "10.0.0.2"},
			wantNames: []string{"redis-2.example.com", "redis-2"},
		},
		{
			name:    "host named by its address",
			host:    "10.0.0.3",
			addrs:   []string{"10.0.0.3"},
			wantIPs: []string{"10.0.0.3"},
		},
		{
			name:      "repeats, case and an IPv4-mapped address named once",
			host:      "Redis-4",
			addrs:     []string{"redis-4", "10.0.0.4", "10.0.0.4", "::ffff:10.0.0.4"},
			wantIPs:   []string{"10.0.0.4"},
			wantNames: []string{"redis-4"},
		},
		{
			name:      "no addresses",
			host:      "redis-5",
			wantNames: []string{"redis-5"},
		},
		{
			name:      "fully qualified name with a final dot",
			host:      "redis-6",
			addrs:     []string{"redis-6.example.com."},
			wantNames: []string{"redis-6.example.com", "redis-6"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certPEM, keyPEM := issueForTest(t, ca, tt.host, tt.addrs, now)
			c := parseOne(t, certPEM)

			var ips []string
			for _, ip := range c.IPAddresses {
				ips = append(ips, ip.String())
			}
			if !slices.Equal(ips, tt.wantIPs) || !slices.Equal(c.DNSNames, tt.wantNames) {
				t.Errorf("SANs: IPs %v, names %v; want %v, %v", ips, c.DNSNames, tt.wantIPs, tt.wantNames)
			}
			for _, name := range append(slices.Clone(tt.addrs), tt.host) {
				if err := c.VerifyHostname(name); err != nil {
					t.Errorf("does not cover %q: %v", name, err)
				}
			}
			if c.Subject.CommonName != tt.host {
				t.Errorf("subject %q, want CN=%s", c.Subject, tt.host)
			}

			if err := c.CheckSignatureFrom(ca.Cert); err != nil {
				t.Errorf("not signed by the CA: %v", err)
			}
			if !slices.Equal(c.AuthorityKeyId, ca.Cert.SubjectKeyId) {
				t.Error("AuthorityKeyId is not the CA's SubjectKeyId: chain building by key id fails")
			}
			if c.IsCA {
				t.Error("a host certificate that is a CA")
			}
			if c.KeyUsage != x509.KeyUsageDigitalSignature {
				t.Errorf("KeyUsage %v, want DigitalSignature only (ECDSA)", c.KeyUsage)
			}
			if want := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}; !slices.Equal(c.ExtKeyUsage, want) {
				t.Errorf("ExtKeyUsage %v, want ServerAuth and ClientAuth", c.ExtKeyUsage)
			}
			if pub, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
				t.Errorf("public key %T, want ECDSA P-256", c.PublicKey)
			}
			if want := now.Add(-time.Minute); !c.NotBefore.Equal(want) {
				t.Errorf("NotBefore %v, want %v (a minute back)", c.NotBefore, want)
			}
			if want := now.Add(825 * 24 * time.Hour); !c.NotAfter.Equal(want) {
				t.Errorf("NotAfter %v, want %v (825 days on)", c.NotAfter, want)
			}
			if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 {
				t.Errorf("serial %v: want positive, at most 128 bits", c.SerialNumber)
			}

			key, err := parseKey(keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			if !keyMatches(key, c) {
				t.Error("the key is not the certificate's")
			}
			if !strings.HasPrefix(string(keyPEM), "-----BEGIN PRIVATE KEY-----") {
				t.Errorf("key is not PKCS #8 PEM: %.40q", keyPEM)
			}
		})
	}
}

// TestIssueFreshEachTime: two certificates for one host share neither key
// nor serial, so renewal replaces the key too and serials never collide.
func TestIssueFreshEachTime(t *testing.T) {
	now := time.Now()
	ca, _ := newTestCA(t, "prod", now)
	c1, k1 := issueForTest(t, ca, "redis-1", []string{"10.0.0.1"}, now)
	c2, k2 := issueForTest(t, ca, "redis-1", []string{"10.0.0.1"}, now)
	if parseOne(t, c1).SerialNumber.Cmp(parseOne(t, c2).SerialNumber) == 0 {
		t.Error("two certificates with one serial")
	}
	if string(k1) == string(k2) {
		t.Error("two certificates with one key")
	}
}

// TestIssueNearTheCAEnd: a certificate never outlives its CA, and a CA too
// close to its end signs nothing.
func TestIssueNearTheCAEnd(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	endsIn100Days, _ := newTestCA(t, "prod", now.AddDate(-10, 0, 100))
	c := parseOne(t, certOnly(issueForTest(t, endsIn100Days, "redis-1", []string{"10.0.0.1"}, now)))
	if !c.NotAfter.Equal(endsIn100Days.Cert.NotAfter) {
		t.Errorf("NotAfter %v; want the CA's end %v", c.NotAfter, endsIn100Days.Cert.NotAfter)
	}

	endsIn29Days, _ := newTestCA(t, "prod", now.AddDate(-10, 0, 29))
	endsIn29Days.CertFile = "/home/u/.config/redisctl/prod.ca.crt"
	_, _, err := endsIn29Days.Issue("redis-1", []string{"10.0.0.1"}, now)
	if err == nil || !strings.Contains(err.Error(), endsIn29Days.CertFile) || !strings.Contains(err.Error(), "a new CA is needed") {
		t.Errorf("error %v; want a refusal naming the CA file", err)
	}
}

func TestIssueRefuses(t *testing.T) {
	now := time.Now()
	ca, _ := newTestCA(t, "prod", now)
	tests := []struct {
		name  string
		ca    *CA
		host  string
		addrs []string
		want  string
	}{
		{"no host name", ca, "", []string{"10.0.0.1"}, "no host name"},
		{"empty address", ca, "redis-1", []string{""}, `"" is neither`},
		{"address with a port", ca, "redis-1", []string{"10.0.0.1:6379"}, `"10.0.0.1:6379" is neither`},
		{"address with a space", ca, "redis-1", []string{"redis 1"}, `"redis 1" is neither`},
		{"empty label", ca, "redis..example", nil, `"redis..example" is neither`},
		{"IPv6 in brackets", ca, "redis-1", []string{"[fd00::1]"}, `"[fd00::1]" is neither`},
		{"no CA", nil, "redis-1", nil, "no CA key"},
		{"CA certificate without its key", &CA{Cert: ca.Cert}, "redis-1", nil, "no CA key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certPEM, keyPEM, err := tt.ca.Issue(tt.host, tt.addrs, now)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if certPEM != nil || keyPEM != nil {
				t.Error("a refusal returned a certificate or key")
			}
		})
	}
}

func TestValidName(t *testing.T) {
	long := strings.Repeat("a", 63)
	tests := map[string]bool{
		"redis-1":                   true,
		"redis_1.example.com":       true,
		"redis-1.example.com.":      true,
		long + "." + long:           true,
		long + "a":                  false,
		strings.Repeat(long+".", 4): false, // 256 characters
		"":                          false,
		".":                         false,
		"redis-1:6379":              false,
		"*.example.com":             false,
		"réseau":                    false,
		"a/b":                       false,
	}
	for name, want := range tests {
		if got := validName(name); got != want {
			t.Errorf("validName(%q) = %v, want %v", name, got, want)
		}
	}
}

// certOnly drops the key of a (cert, key) pair.
func certOnly(certPEM, _ []byte) []byte { return certPEM }
