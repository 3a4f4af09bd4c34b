package e2e

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTLSOwnFiles sets a TLS cluster up with the operator's own CA and
// host certificates (tls.ca_file, cert_file and key_file with {host}): a
// key that is not its certificate's is refused before anything is
// installed, naming the host and the files; the right files are what each
// server presents, every link speaks TLS, and a second up changes nothing.
func TestTLSOwnFiles(t *testing.T) {
	base := labInventory()
	_ = run(t, base, "uninstall", "--yes")
	labUp(t, 3)
	dir := t.TempDir()
	own := filepath.Join(dir, "tls")
	if err := os.Mkdir(own, 0o700); err != nil {
		t.Fatal(err)
	}
	caFile, caKeyFile := filepath.Join(own, "ca.crt"), filepath.Join(own, "ca.key")
	writeTestCA(t, caFile, caKeyFile)
	certs := map[string][]byte{}
	for _, h := range labHosts() {
		cert, key := signHost(t, caFile, caKeyFile, h.Name, h.Addr, 400*24*time.Hour)
		certs[h.Name] = cert
		for f, data := range map[string][]byte{h.Name + ".crt": cert, h.Name + ".key": key} {
			if err := os.WriteFile(filepath.Join(own, f), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	section := fmt.Sprintf("tls:\n  enabled: true\n  ca_file: %s\n  cert_file: %s/{host}.crt\n  key_file: %s/{host}.key", caFile, own, own)
	inv := editedInventory(t, base, dir, "", section)
	t.Cleanup(func() { run(t, inv, "uninstall", "--yes") })

	// node2's key file holds node3's key: refused before anything is done.
	node2Key := filepath.Join(own, "node2.key")
	good, other := readFile(t, node2Key), readFile(t, filepath.Join(own, "node3.key"))
	if err := os.WriteFile(node2Key, other, 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, inv, "up")
	msg := r.stdout + r.stderr
	if r.code == 0 || !strings.Contains(msg, "node2") || !strings.Contains(msg, "key file "+node2Key+" does not match certificate file") {
		t.Errorf("up with node2's key mismatched: exit %d, want a refusal naming node2 and its key file:\n%s", r.code, msg)
	}
	for _, h := range labHosts() {
		if out, err := hostExec(t, h.Name, "ls", "/etc/redis"); err == nil && strings.Contains(out, "redis_7000.conf") {
			t.Errorf("%s: the refused up wrote /etc/redis/redis_7000.conf", h.Name)
		}
	}
	if err := os.WriteFile(node2Key, good, 0o600); err != nil {
		t.Fatal(err)
	}

	r = mustRun(t, inv, "up")
	t.Logf("MEASURE fresh up with the operator's TLS files: %s", r.took.Round(100*time.Millisecond))
	useStoredPassword(t, dir)
	t.Setenv("E2E_TLS_CA", caFile)
	waitHealthy(t, inv)
	checkSeedState(t, currentMaster(t)) // over TLS, verified with the operator's CA
	if _, err := os.Stat(filepath.Join(dir, masterName+".ca.key")); err == nil {
		t.Error("up made a CA of its own although the inventory gives one")
	}
	served := hostCerts(t)
	for _, h := range labHosts() {
		if served[h.Name] != string(certs[h.Name]) {
			t.Errorf("%s: %s/redis.crt is not the operator's certificate", h.Name, tlsDir)
		}
	}
	tlsStatusAllLinks(t, inv, 399*24*time.Hour, 401*24*time.Hour) // the operator's: 400 days
	before := pids(t)
	r = mustRun(t, inv, "up")
	if got := applied(r.stdout + r.stderr); len(got) > 0 {
		t.Errorf("a no-change up with the operator's files changed: %v", got)
	}
	if after := pids(t); !mapsEqual(before, after) {
		t.Errorf("a no-change up restarted: %v -> %v", before, after)
	}
}

// writeTestCA writes a self-signed ECDSA CA, as an operator's own, to
// certFile and keyFile (PKCS#8, as signHost reads it).
func writeTestCA(t *testing.T, certFile, keyFile string) {
	t.Helper()
	now := time.Now()
	cert, key := makeCert(t, &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "operator test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(5 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil, nil)
	if err := os.WriteFile(certFile, cert, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
}
