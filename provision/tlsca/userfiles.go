package tlsca

import (
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"
)

// Files is a CA, certificate and key a user brings (the inventory's
// ca_file, cert_file and key_file) instead of the ones redisctl makes,
// read and checked by LoadFiles.
type Files struct {
	CAFile, CertFile, KeyFile string
	CAPEM, CertPEM, KeyPEM    []byte // what is uploaded, as read

	Cert *x509.Certificate // the first certificate of CertFile, the host's

	// ClientAuth reports whether the certificate may also authenticate
	// its host as a client. Redis presents it when a replica connects to
	// its master and a sentinel to others, and the other end asks for it
	// unless tls-auth-clients is no; the caller, which knows that setting,
	// decides whether a server-only certificate will do.
	ClientAuth bool
}

// ExpandHost puts host in place of every "{host}" in pattern, so one
// cert_file or key_file pattern of the inventory names each host's own file.
func ExpandHost(pattern, host string) string {
	return strings.ReplaceAll(pattern, "{host}", host)
}

// LoadFiles reads a user's CA, certificate and key files and checks what
// would otherwise fail only on the hosts, after upload, with an OpenSSL error
// in a Redis log: that the key is the certificate's, and that the
// certificate is valid now for server use through the CA (further
// certificates in certFile are taken as intermediates, as a server sends
// them). Each error names the file at fault.
//
// Unlike the CA key LoadOrCreateCA reads, these files may be links and their
// modes are the user's business: tools that manage certificates, certbot
// among them, keep the current files as links into an archive.
func LoadFiles(caFile, certFile, keyFile string) (*Files, error) {
	f := &Files{CAFile: caFile, CertFile: certFile, KeyFile: keyFile}
	var err error
	if f.CAPEM, err = os.ReadFile(caFile); err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	if f.CertPEM, err = os.ReadFile(certFile); err != nil {
		return nil, fmt.Errorf("read certificate file: %w", err)
	}
	if f.KeyPEM, err = os.ReadFile(keyFile); err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	roots, err := pool(f.CAPEM)
	if err != nil {
		return nil, fmt.Errorf("CA file %s: %w", caFile, err)
	}
	certs, err := parseCerts(f.CertPEM)
	if err != nil {
		return nil, fmt.Errorf("certificate file %s: %w", certFile, err)
	}
	f.Cert = certs[0]
	key, err := parseKey(f.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", keyFile, err)
	}
	if !keyMatches(key, f.Cert) {
		return nil, fmt.Errorf("key file %s does not match certificate file %s: they are from different key pairs", keyFile, certFile)
	}
	opts := x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates(certs),
		CurrentTime:   time.Now(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if _, err := f.Cert.Verify(opts); err != nil {
		return nil, fmt.Errorf("certificate file %s is not valid through CA file %s: %w", certFile, caFile, err)
	}
	opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	_, err = f.Cert.Verify(opts)
	f.ClientAuth = err == nil
	return f, nil
}
