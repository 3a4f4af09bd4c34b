package tlsca

import (
	"crypto/x509"
	"net"
	"strings"
	"testing"
	"time"
)

func TestNeedsRenewal(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ca, _ := newTestCA(t, "prod", now.AddDate(-1, 0, 0))
	other, _ := newTestCA(t, "prod", now.AddDate(-1, 0, 0)) // the same name, another key: a replaced CA
	addrs := []string{"10.0.0.1", "redis-1.example.com"}
	day := 24 * time.Hour
	issuedAt := func(at time.Time) []byte { return certOnly(issueForTest(t, ca, "redis-1", addrs, at)) }
	serverOnly, _ := signForTest(t, ca, &x509.Certificate{
		DNSNames: []string{"redis-1", "redis-1.example.com"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		NotBefore:   now.Add(-time.Hour), NotAfter: now.Add(400 * day),
	})

	tests := []struct {
		name      string
		certPEM   []byte
		host      string
		addrs     []string
		ca        *x509.Certificate
		wantRenew bool
		want      string // the reason, whole
	}{
		{
			name: "fresh", certPEM: issuedAt(now), host: "redis-1", addrs: addrs, ca: ca.Cert,
			want: "the certificate is valid until 2028-06-03 12:00 UTC, 825 days from now",
		},
		{
			name: "exactly 30 days left", certPEM: issuedAt(now.Add(-795 * day)), host: "redis-1", addrs: addrs, ca: ca.Cert,
			want: "the certificate is valid until 2026-03-31 12:00 UTC, 30 days from now",
		},
		{
			name: "a name and an address the inventory no longer has are fine", certPEM: issuedAt(now), host: "redis-1", addrs: addrs[:1], ca: ca.Cert,
			want: "the certificate is valid until 2028-06-03 12:00 UTC, 825 days from now",
		},
		{
			name: "a minute under 30 days left", certPEM: issuedAt(now.Add(-795*day - time.Minute)), host: "redis-1", addrs: addrs, ca: ca.Cert,
			wantRenew: true, want: "the certificate expires in 29 days, on 2026-03-31 11:59 UTC",
		},
		{
			name: "one day left", certPEM: issuedAt(now.Add(-824 * day)), host: "redis-1", addrs: addrs, ca: ca.Cert,
			wantRenew: true, want: "the certificate expires in 1 day, on 2026-03-02 12:00 UTC",
		},
		{
			name: "an hour left", certPEM: issuedAt(now.Add(-825*day + time.Hour)), host: "redis-1", addrs: addrs, ca: ca.Cert,
			wantRenew: true, want: "the certificate expires in less than a day, on 2026-03-01 13:00 UTC",
		},
		{
			name: "expired", certPEM: issuedAt(now.Add(-900 * day)), host: "redis-1", addrs: addrs, ca: ca.Cert,
			wantRenew: true, want: "the certificate expired on 2025-12-16 12:00 UTC",
		},
		{
			name: "not yet valid", certPEM: issuedAt(now.Add(time.Hour)), host: "redis-1", addrs: addrs, ca: ca.Cert,
			wantRenew: true, want: "the certificate is not valid until 2026-03-01 12:59 UTC",
		},
		{
			name: "signed by another CA", certPEM: issuedAt(now), host: "redis-1", addrs: addrs, ca: other.Cert,
			wantRenew: true, want: "the certificate is not signed by the cluster CA",
		},
		{
			name: "no CA", certPEM: issuedAt(now), host: "redis-1", addrs: addrs, ca: nil,
			wantRenew: true, want: "there is no CA to check the certificate against",
		},
		{
			name: "a new address", certPEM: issuedAt(now), host: "redis-1", addrs: []string{"10.0.0.1", "10.0.0.9", "fd00::9"}, ca: ca.Cert,
			wantRenew: true, want: "the certificate does not name 10.0.0.9, fd00::9 (it names 10.0.0.1, redis-1.example.com, redis-1)",
		},
		{
			name: "another host name", certPEM: issuedAt(now), host: "redis-2", addrs: addrs, ca: ca.Cert,
			wantRenew: true, want: "the certificate does not name redis-2 (it names 10.0.0.1, redis-1.example.com, redis-1)",
		},
		{
			name: "server authentication only", certPEM: serverOnly, host: "redis-1", addrs: addrs, ca: ca.Cert,
			wantRenew: true, want: "the certificate is not for both server and client authentication, which replication and sentinel links need",
		},
		{
			name: "not a certificate", certPEM: []byte("garbage"), host: "redis-1", addrs: addrs, ca: ca.Cert,
			wantRenew: true, want: "the certificate cannot be read: no PEM certificate in it",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reason, renew := NeedsRenewal(tt.certPEM, now, tt.host, tt.addrs, tt.ca)
			if renew != tt.wantRenew || reason != tt.want {
				t.Errorf("NeedsRenewal = %q, %v\n                  want %q, %v", reason, renew, tt.want, tt.wantRenew)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ca, caKey := newTestCA(t, "prod", now)
	cert := certOnly(issueForTest(t, ca, "redis-1", nil, now))
	tests := []struct {
		name    string
		pem     []byte
		want    time.Time
		wantErr string
	}{
		{"host certificate", cert, now.Add(HostValidity), ""},
		{"the first of a chain", append(append([]byte{}, cert...), ca.CertPEM...), now.Add(HostValidity), ""},
		{"a key only", caKey, time.Time{}, "no PEM certificate"},
		{"empty", nil, time.Time{}, "no PEM certificate"},
		{"broken", []byte(pemString("CERTIFICATE", []byte{1, 2, 3})), time.Time{}, "cannot read certificate 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Expiry(tt.pem)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Errorf("Expiry = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	now := time.Now()
	ca, _ := newTestCA(t, "prod", now.AddDate(-3, 0, 0))
	other, _ := newTestCA(t, "other", now.AddDate(-3, 0, 0))
	cert := certOnly(issueForTest(t, ca, "redis-1", []string{"10.0.0.1", "redis-1.example.com"}, now))
	fromOther := certOnly(issueForTest(t, other, "redis-1", []string{"10.0.0.1"}, now))
	expired := certOnly(issueForTest(t, ca, "redis-1", []string{"10.0.0.1"}, now.AddDate(-3, 0, 0)))
	clientOnly, _ := signForTest(t, ca, &x509.Certificate{
		IPAddresses: []net.IP{net.ParseIP("10.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	join := func(pems ...[]byte) []byte {
		var b []byte
		for _, p := range pems {
			b = append(b, p...)
		}
		return b
	}

	tests := []struct {
		name    string
		cert    []byte
		caPEM   []byte
		server  string
		wantErr string // "" verifies
	}{
		{"by IP address", cert, ca.CertPEM, "10.0.0.1", ""},
		{"by host name", cert, ca.CertPEM, "redis-1", ""},
		{"by DNS name in capitals", cert, ca.CertPEM, "REDIS-1.example.com", ""},
		{"CA bundle holding the CA", cert, join(other.CertPEM, ca.CertPEM), "10.0.0.1", ""},
		{"chain sent with the CA", join(cert, ca.CertPEM), ca.CertPEM, "10.0.0.1", ""},
		{"another IP address", cert, ca.CertPEM, "10.0.0.2", "certificate is valid for 10.0.0.1, not 10.0.0.2"},
		{"another host name", cert, ca.CertPEM, "redis-2", "not redis-2"},
		{"no name", cert, ca.CertPEM, "", "no server name"},
		{"another CA's certificate", fromOther, ca.CertPEM, "10.0.0.1", "unknown authority"},
		{"expired", expired, ca.CertPEM, "10.0.0.1", "expired"},
		{"client authentication only", clientOnly, ca.CertPEM, "10.0.0.1", "incompatible key usage"},
		{"no certificate", []byte("garbage"), ca.CertPEM, "10.0.0.1", "no PEM certificate"},
		{"no CA", cert, nil, "10.0.0.1", "CA: no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.cert, tt.caPEM, tt.server)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}
