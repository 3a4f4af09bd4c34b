package tlsca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newTestCA makes a CA valid from now without touching the disk, and
// returns its key in PEM.
func newTestCA(t *testing.T, cluster string, now time.Time) (*CA, []byte) {
	t.Helper()
	ca, keyPEM, err := newCA(cluster, now)
	if err != nil {
		t.Fatal(err)
	}
	return ca, keyPEM
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// chmod is an arrangement that sets the CA key's mode.
func chmod(mode os.FileMode) func(t *testing.T, certFile, keyFile string) {
	return func(t *testing.T, _, keyFile string) {
		t.Helper()
		must(t, os.Chmod(keyFile, mode))
	}
}

// dirNames lists the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// snapshot describes every entry of dir (name, mode, link target or
// content), to show that a refusal changed nothing.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	for _, name := range dirNames(t, dir) {
		file := filepath.Join(dir, name)
		fi, err := os.Lstat(file)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %v ", name, fi.Mode())
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(file)
			fmt.Fprintf(&b, "-> %s; ", target)
		case fi.Mode().IsRegular():
			data, _ := os.ReadFile(file)
			fmt.Fprintf(&b, "%q; ", data)
		default:
			b.WriteString("; ")
		}
	}
	return b.String()
}

func pemString(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// issueForTest is ca.Issue that must succeed.
func issueForTest(t *testing.T, ca *CA, host string, addrs []string, now time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	certPEM, keyPEM, err := ca.Issue(host, addrs, now)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM
}

// parseOne parses the one certificate of certPEM.
func parseOne(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	certs, err := parseCerts(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 1 {
		t.Fatalf("%d certificates, want 1", len(certs))
	}
	return certs[0]
}

// signForTest signs a host certificate made from tmpl with ca's key, for
// certificates Issue never makes (a server-only one, say); tmpl gets a
// fresh key, a serial and, when unset, a validity around now.
func signForTest(t *testing.T, ca *CA, tmpl *x509.Certificate) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.SerialNumber, err = randomSerial(); err != nil {
		t.Fatal(err)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(HostValidity)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	if keyPEM, err = marshalKey(key); err != nil {
		t.Fatal(err)
	}
	return []byte(pemString("CERTIFICATE", der)), keyPEM
}
