package tlsca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"
)

const (
	// HostValidity is how long a host certificate is valid: 825 days, the
	// longest server certificate lifetime Apple's platforms and other
	// clients that enforce the CA/Browser Forum's 2018 limit accept, so an
	// application on any platform can use these certificates.
	HostValidity = 825 * 24 * time.Hour

	// RenewBefore is how long before its end a host certificate is renewed
	// and status warns: time for a few runs of up to find it, even when up
	// runs only monthly.
	RenewBefore = 30 * 24 * time.Hour
)

// Issue makes a key and a certificate for one host, signed by the CA, valid
// from a minute before now (a host clock a little behind still accepts it)
// for HostValidity, or until the CA's own end if that comes first, as a
// certificate cannot outlive its CA. It names every address of addrs and the
// host name: IP addresses as IP SANs, names as DNS SANs, since clients,
// replicas and sentinels reach a node by whichever the inventory gives. It
// serves both ends of a TLS link (ExtKeyUsage ServerAuth and ClientAuth)
// because Redis presents the same certificate when it accepts a connection
// and when it connects to its master or to other sentinels.
//
// Issue refuses when the CA has less than RenewBefore left: a certificate
// from it would be due for renewal at once, on every run. The CA must be
// replaced then.
func (ca *CA) Issue(host string, addrs []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	if ca == nil || ca.key == nil {
		return nil, nil, errors.New("issue a certificate: no CA key (the CA was not loaded with LoadOrCreateCA)")
	}
	ips, names, err := subjectAltNames(host, addrs)
	if err != nil {
		return nil, nil, fmt.Errorf("issue a certificate for %s: %w", host, err)
	}
	if left := ca.Cert.NotAfter.Sub(now); left < RenewBefore {
		return nil, nil, fmt.Errorf("issue a certificate for %s: the cluster CA %s ends on %s, too soon to sign for it; "+
			"a new CA is needed (move the CA files aside and run up: every host gets a certificate from the new CA)",
			host, ca.CertFile, ca.Cert.NotAfter.UTC().Format(time.DateOnly))
	}
	notAfter := now.Add(HostValidity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key for %s: %w", host, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// Verification uses the SANs only; the host name in the subject is
		// for a person reading the certificate (openssl x509 -text).
		Subject:               pkix.Name{CommonName: host, Organization: []string{"redisctl"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IPAddresses:           ips,
		DNSNames:              names,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("sign certificate for %s: %w", host, err)
	}
	if keyPEM, err = marshalKey(key); err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// subjectAltNames sorts addrs and then host into IP addresses and DNS names,
// each once, in the order given. Names are lower-cased: DNS names match
// whatever their case, so "Redis-1" and "redis-1" are one name; a final dot
// (a fully qualified name) is dropped, as verification drops it.
func subjectAltNames(host string, addrs []string) ([]net.IP, []string, error) {
	if host == "" {
		return nil, nil, errors.New("no host name")
	}
	var ips []net.IP
	var names []string
	for _, a := range append(addrs[:len(addrs):len(addrs)], host) {
		if ip := net.ParseIP(a); ip != nil {
			if ip4 := ip.To4(); ip4 != nil {
				ip = ip4
			}
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
			continue
		}
		if !validName(a) {
			return nil, nil, fmt.Errorf("%q is neither an IP address nor a host name (no port, no spaces)", a)
		}
		if n := strings.ToLower(strings.TrimSuffix(a, ".")); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return ips, names, nil
}

// validName accepts what may stand in a DNS SAN for a host: letters,
// digits, '-', '_' and dots between non-empty labels, at most 253
// characters. It keeps "host:6379" or a name with a space out of a
// certificate, where nothing would ever match it.
func validName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
