package tlsca

import (
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// NeedsRenewal decides whether a host's certificate (the first in certPEM)
// is to be issued again, and says why in a short sentence a person can read
// in plan or status: it cannot be read, is not signed by ca (the CA was
// replaced), is not yet or no longer valid, has less than RenewBefore left,
// does not name host and every address of addrs, or cannot serve both ends
// of a link. When nothing is wrong, renew is false and reason says how long
// it is valid, for status.
//
// A nil ca renews: a certificate not checked against the CA is not known to
// be trusted by the cluster.
func NeedsRenewal(certPEM []byte, now time.Time, host string, addrs []string, ca *x509.Certificate) (reason string, renew bool) {
	certs, err := parseCerts(certPEM)
	if err != nil {
		return fmt.Sprintf("the certificate cannot be read: %v", err), true
	}
	c := certs[0]
	if ca == nil {
		return "there is no CA to check the certificate against", true
	}
	if err := c.CheckSignatureFrom(ca); err != nil {
		return "the certificate is not signed by the cluster CA", true
	}
	switch left := c.NotAfter.Sub(now); {
	case now.Before(c.NotBefore):
		return fmt.Sprintf("the certificate is not valid until %s", stamp(c.NotBefore)), true
	case left <= 0:
		return fmt.Sprintf("the certificate expired on %s", stamp(c.NotAfter)), true
	case left < RenewBefore:
		return fmt.Sprintf("the certificate expires in %s, on %s", days(left), stamp(c.NotAfter)), true
	}
	var missing []string
	for _, name := range append(addrs[:len(addrs):len(addrs)], host) {
		if name != "" && c.VerifyHostname(name) != nil && !slices.Contains(missing, name) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Sprintf("the certificate does not name %s (it names %s)", strings.Join(missing, ", "), sanList(c)), true
	}
	if !hasUsage(c, x509.ExtKeyUsageServerAuth) || !hasUsage(c, x509.ExtKeyUsageClientAuth) {
		return "the certificate is not for both server and client authentication, which replication and sentinel links need", true
	}
	return fmt.Sprintf("the certificate is valid until %s, %s from now", stamp(c.NotAfter), days(c.NotAfter.Sub(now))), false
}

// Expiry returns when the first certificate in certPEM ends, for status.
func Expiry(certPEM []byte) (time.Time, error) {
	certs, err := parseCerts(certPEM)
	if err != nil {
		return time.Time{}, err
	}
	return certs[0].NotAfter, nil
}

// Verify checks, as a TLS client does, that the first certificate in
// certPEM is valid now for a server reached as name (a host name or an IP
// address), signed through any further certificates in certPEM by one of
// the certificates in caPEM. redisctl checks a server this way before
// trusting it with the password. An empty name is an error, not a skipped
// check: a certificate for another host must never pass.
func Verify(certPEM, caPEM []byte, name string) error {
	if name == "" {
		return errors.New("verify certificate: no server name to check it for")
	}
	certs, err := parseCerts(certPEM)
	if err != nil {
		return fmt.Errorf("verify certificate: %w", err)
	}
	roots, err := pool(caPEM)
	if err != nil {
		return fmt.Errorf("verify certificate: CA: %w", err)
	}
	_, err = certs[0].Verify(x509.VerifyOptions{
		DNSName:       name,
		Roots:         roots,
		Intermediates: intermediates(certs),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return fmt.Errorf("verify certificate for %s: %w", name, err)
	}
	return nil
}

// pool holds every certificate of caPEM, so a CA file may be a bundle (a
// new CA beside the old one while hosts move over).
func pool(caPEM []byte) (*x509.CertPool, error) {
	cas, err := parseCerts(caPEM)
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	for _, c := range cas {
		p.AddCert(c)
	}
	return p, nil
}

// intermediates holds the certificates after the leaf, as a server sends
// its chain.
func intermediates(certs []*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs[1:] {
		p.AddCert(c)
	}
	return p
}

func hasUsage(c *x509.Certificate, u x509.ExtKeyUsage) bool {
	return slices.Contains(c.ExtKeyUsage, u) || slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny)
}

// sanList is the certificate's SANs, for a message.
func sanList(c *x509.Certificate) string {
	var sans []string
	for _, ip := range c.IPAddresses {
		sans = append(sans, ip.String())
	}
	sans = append(sans, c.DNSNames...)
	if len(sans) == 0 {
		return "nothing"
	}
	return strings.Join(sans, ", ")
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// days rounds d down to whole days, as a person counts what is left.
func days(d time.Duration) string {
	switch n := int(d / (24 * time.Hour)); n {
	case 0:
		return "less than a day"
	case 1:
		return "1 day"
	default:
		return fmt.Sprintf("%d days", n)
	}
}
