package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const tlsDir = "/etc/redis/tls_7000"

// TestTLS sets a cluster up with TLS on every link (issue 15) and checks
// from outside: the plaintext ports refuse, redis-cli --tls with the
// cluster CA works, replication and the sentinels run over TLS, status
// says so, every failover-test mode passes, a certificate for the wrong
// address is refused by verification, and a certificate near its end is
// renewed live, with no data node restarted.
func TestTLS(t *testing.T) {
	base := labInventory()
	_ = run(t, base, "uninstall", "--yes")
	labUp(t, 3)
	dir := t.TempDir()
	inv := tlsInventory(t, base, dir)
	t.Cleanup(func() { run(t, inv, "uninstall", "--yes") })

	r := mustRun(t, inv, "up")
	t.Logf("MEASURE fresh up with TLS (a TLS build included unless cached): %s", r.took.Round(100*time.Millisecond))
	caFile := filepath.Join(dir, masterName+".ca.crt")
	caKeyFile := filepath.Join(dir, masterName+".ca.key")
	for _, f := range []string{caFile, caKeyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatalf("the cluster CA: %v", err)
		}
		if f == caKeyFile && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	caKey, err := os.ReadFile(caKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	useStoredPassword(t, dir)
	t.Setenv("E2E_TLS_CA", caFile)
	waitHealthy(t, inv)
	master := currentMaster(t)
	checkSeedState(t, master) // over TLS: the helpers' clients verify with the CA

	t.Run("each host has its files and not the CA key", func(t *testing.T) {
		for _, h := range labHosts() {
			out, err := hostExec(t, h.Name, "stat", "-c", "%n %a %U:%G", tlsDir+"/ca.crt", tlsDir+"/redis.crt", tlsDir+"/redis.key")
			if err != nil {
				t.Fatal(err)
			}
			want := []string{tlsDir + "/ca.crt 644 redis:redis", tlsDir + "/redis.crt 644 redis:redis", tlsDir + "/redis.key 640 root:redis"}
			if strings.Join(strings.Split(out, "\n"), "|") != strings.Join(want, "|") {
				t.Errorf("%s: %q, want %q", h.Name, out, want)
			}
			key, err := hostExec(t, h.Name, "cat", tlsDir+"/redis.key")
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(key) == strings.TrimSpace(string(caKey)) {
				t.Errorf("%s: the CA key was uploaded", h.Name)
			}
		}
	})

	t.Run("plaintext is refused and redis-cli --tls with the CA works", func(t *testing.T) {
		for _, h := range labHosts() {
			for _, port := range []int{redisPort, sentinelPort} {
				if plainPing(t, h, port) == nil {
					t.Errorf("%s: a plaintext PING to port %d was answered", h.Name, port)
				}
				// redis-cli on the host, with TLS and the CA: the server
				// answers (NOAUTH: no password was given); without TLS it
				// does not.
				p := strconv.Itoa(port)
				out, _ := hostExec(t, h.Name, "redis-cli", "--tls", "--cacert", tlsDir+"/ca.crt", "-h", h.Addr, "-p", p, "PING")
				if !strings.Contains(out, "NOAUTH") {
					t.Errorf("%s: redis-cli --tls to port %d: %q, want NOAUTH", h.Name, port, out)
				}
				out, _ = hostExec(t, h.Name, "redis-cli", "-h", h.Addr, "-p", p, "PING")
				if strings.Contains(out, "NOAUTH") || strings.Contains(out, "PONG") {
					t.Errorf("%s: plaintext redis-cli to port %d was answered: %q", h.Name, port, out)
				}
			}
		}
	})

	t.Run("status shows every link over TLS", func(t *testing.T) {
		d := tlsStatusAllLinks(t, inv, 800*24*time.Hour, 826*24*time.Hour)
		if len(d.Warnings) > 0 {
			t.Errorf("warnings on a new cluster: %v", d.Warnings)
		}
	})

	t.Run("a no-change up restarts nothing and issues no certificate", func(t *testing.T) {
		before := pids(t)
		certs := hostCerts(t)
		r := mustRun(t, inv, "up")
		t.Logf("MEASURE no-change up with TLS: %s", r.took.Round(10*time.Millisecond))
		if after := pids(t); !mapsEqual(before, after) {
			t.Errorf("pids changed: %v -> %v", before, after)
		}
		if after := hostCerts(t); !mapsEqual(certs, after) {
			t.Error("a no-change up replaced a certificate")
		}
		if got := applied(r.stdout + r.stderr); len(got) > 0 {
			t.Errorf("a no-change up changed: %v", got)
		}
	})

	t.Run("a certificate for another address is refused", func(t *testing.T) {
		h := replicaOf(t, currentMaster(t))
		saved := hostCerts(t)[h.Name]
		savedKey, err := hostExec(t, h.Name, "cat", tlsDir+"/redis.key")
		if err != nil {
			t.Fatal(err)
		}
		cert, key := signHost(t, caFile, caKeyFile, "elsewhere", "10.99.99.99", 400*24*time.Hour)
		plantCert(t, h, cert, key)
		d, r := tlsStatus(t, inv)
		if r.code == 0 || d.Verdict == "healthy" {
			t.Errorf("status accepted %s's certificate for 10.99.99.99: exit %d, verdict %s", h.Name, r.code, d.Verdict)
		}
		if !strings.Contains(r.stdout+r.stderr, "10.99.99.99") {
			t.Errorf("status does not say the certificate names 10.99.99.99:\n%s", r.stdout)
		}
		// Put the good pair back (the test's own client skips the check
		// for this one call: the server presents the wrong name).
		plantCertInsecure(t, h, []byte(saved), []byte(savedKey+"\n"))
		waitHealthy(t, inv)
	})

	t.Run("a certificate near its end is renewed live", func(t *testing.T) {
		h := replicaOf(t, currentMaster(t))
		cert, key := signHost(t, caFile, caKeyFile, h.Name, h.Addr, 10*24*time.Hour)
		plantCert(t, h, cert, key)
		if left := servedCertLeft(t, h); left > 11*24*time.Hour {
			t.Fatalf("%s serves a certificate with %s left after the reload, want 10 days", h.Name, left)
		}
		d, r := tlsStatus(t, inv)
		if r.code != 0 || len(d.Warnings) != 1 || d.Warnings[0].Host != h.Name {
			t.Errorf("status: exit %d, warnings %v; want one warning for %s", r.code, d.Warnings, h.Name)
		}
		before := pids(t)
		r = mustRun(t, inv, "up")
		t.Logf("MEASURE up renewing one certificate: %s", r.took.Round(10*time.Millisecond))
		if left := servedCertLeft(t, h); left < 800*24*time.Hour {
			t.Errorf("%s serves a certificate with %s left after up, want a new one of 825 days", h.Name, left)
		}
		after := pids(t)
		for k, v := range before {
			changed := after[k] != v
			wantChange := k == h.Name+"/sentinel" // Sentinel takes no CONFIG SET of its certificate: restarted
			if changed != wantChange {
				t.Errorf("%s: pid %s -> %s (restart expected: %t)", k, v, after[k], wantChange)
			}
		}
		d, _ = tlsStatus(t, inv)
		if d.Verdict != "healthy" || len(d.Warnings) > 0 {
			t.Errorf("after the renewal: verdict %s, warnings %v", d.Verdict, d.Warnings)
		}
	})

	t.Run("backup and restore over TLS", func(t *testing.T) {
		waitHealthy(t, inv)
		m := currentMaster(t)
		replicas := len(labHosts()) - 1
		flushAll(t, m, replicas) // checkKeys counts every key
		writeKeys(t, m, replicas)
		bdir := t.TempDir()
		r := mustRun(t, inv, "backup", "--to", bdir, "-o", "json")
		var b backupDoc
		if err := json.Unmarshal([]byte(r.stdout), &b); err != nil || b.Keys < restoreKeys {
			t.Fatalf("backup: %v %+v", err, b)
		}
		flushAll(t, m, replicas)
		mustRun(t, inv, "restore", "--from", b.File, "--yes")
		for _, h := range labHosts() {
			checkKeys(t, h)
		}
		waitHealthy(t, inv)
	})

	for _, mode := range []string{"stop", "kill", "pause", "manual"} {
		t.Run("failover-test --mode "+mode, func(t *testing.T) { testFailover(t, inv, mode) })
	}
}

// tlsInventory is the lab inventory with TLS on, its password and CA kept
// in dir.
func tlsInventory(t *testing.T, base, dir string) string {
	return editedInventory(t, base, dir, "", "tls:\n  enabled: true")
}

type tlsStatusDoc struct {
	Verdict string `json:"verdict"`
	Nodes   []struct {
		Name string `json:"name"`
		TLS  *struct {
			Client        bool      `json:"client"`
			Replication   bool      `json:"replication"`
			Sentinel      bool      `json:"sentinel"`
			CertExpires   time.Time `json:"cert_expires"`
			PlaintextPort int       `json:"plaintext_port"`
		} `json:"tls"`
	} `json:"nodes"`
	Warnings []struct {
		Host    string `json:"host"`
		Message string `json:"message"`
	} `json:"warnings"`
}

func tlsStatus(t *testing.T, inv string) (tlsStatusDoc, result) {
	t.Helper()
	r := run(t, inv, "status", "-o", "json")
	var d tlsStatusDoc
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("status -o json is not JSON: %v\n%s", err, r.stdout)
	}
	return d, r
}

// tlsStatusAllLinks runs status on a TLS cluster and checks that it is
// healthy, that every host's links (client, replication, sentinel) speak
// TLS, and that each certificate served ends between minLeft and maxLeft
// from now.
func tlsStatusAllLinks(t *testing.T, inv string, minLeft, maxLeft time.Duration) tlsStatusDoc {
	t.Helper()
	d, r := tlsStatus(t, inv)
	if r.code != 0 || d.Verdict != "healthy" {
		t.Fatalf("status: exit %d, verdict %s\n%s", r.code, d.Verdict, r.stdout)
	}
	for _, n := range d.Nodes {
		if n.TLS == nil || !n.TLS.Client || !n.TLS.Replication || !n.TLS.Sentinel {
			t.Errorf("%s: tls %+v, want client, replication and sentinel", n.Name, n.TLS)
			continue
		}
		if left := time.Until(n.TLS.CertExpires); left < minLeft || left > maxLeft {
			t.Errorf("%s: the served certificate ends in %s, want %s to %s", n.Name, left.Round(time.Hour), minLeft, maxLeft)
		}
	}
	return d
}

// useStoredPassword has the helpers log in with the password up stored in
// dir (the password_file of editedInventory's inventories).
func useStoredPassword(t *testing.T, dir string) {
	t.Helper()
	t.Setenv("E2E_PASSWORD", strings.TrimSpace(string(readFile(t, filepath.Join(dir, "redis.password")))))
}

// readFile returns a control-side file's contents, or fails the test.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// hostCerts returns each host's redis.crt.
func hostCerts(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, h := range labHosts() {
		c, err := hostExec(t, h.Name, "cat", tlsDir+"/redis.crt")
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = c + "\n"
	}
	return out
}

// replicaOf returns a host that is not m.
func replicaOf(t *testing.T, m labHost) labHost {
	for _, h := range labHosts() {
		if h != m {
			return h
		}
	}
	t.Fatal("no replica")
	return labHost{}
}

// signHost makes a certificate and key for name and ip, signed by the
// cluster CA (read from its files as any holder of the key could), valid
// for the given time.
func signHost(t *testing.T, caFile, caKeyFile, name, ip string, valid time.Duration) (certPEM, keyPEM []byte) {
	t.Helper()
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	kPEM, err := os.ReadFile(caKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := pem.Decode(caPEM)
	kb, _ := pem.Decode(kPEM)
	if cb == nil || kb == nil {
		t.Fatal("CA files are not PEM")
	}
	ca, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	return makeCert(t, &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(valid),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.ParseIP(ip)},
		DNSNames:     []string{name},
	}, ca, caKey)
}

// makeCert makes a new ECDSA key and a certificate of it from tmpl, signed
// by parent's key (self-signed when parent is nil), both PEM (the key
// PKCS#8).
func makeCert(t *testing.T, tmpl, parent *x509.Certificate, parentKey any) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// plantCert writes a certificate and key over h's files (keeping their
// owner and mode) and has its data node load them, as a person renewing
// by hand would.
func plantCert(t *testing.T, h labHost, cert, key []byte) {
	t.Helper()
	writeHostFile(t, h, tlsDir+"/redis.crt", cert)
	writeHostFile(t, h, tlsDir+"/redis.key", key)
	if _, err := do(t, addr(h, redisPort), "CONFIG", "SET", "tls-cert-file", tlsDir+"/redis.crt", "tls-key-file", tlsDir+"/redis.key"); err != nil {
		t.Fatalf("%s: CONFIG SET tls-cert-file: %v", h.Name, err)
	}
}

// plantCertInsecure is plantCert for a server whose certificate does not
// verify: the reload goes through a connection that skips the check.
func plantCertInsecure(t *testing.T, h labHost, cert, key []byte) {
	t.Helper()
	writeHostFile(t, h, tlsDir+"/redis.crt", cert)
	writeHostFile(t, h, tlsDir+"/redis.key", key)
	c := redis.NewClient(&redis.Options{Addr: addr(h, redisPort), Password: password(t), MaxRetries: -1, DisableIdentity: true, Protocol: 2,
		TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	defer c.Close()
	ctx, cancel := ctx5()
	defer cancel()
	if err := c.ConfigSet(ctx, "tls-cert-file", tlsDir+"/redis.crt").Err(); err != nil {
		t.Fatalf("%s: CONFIG SET tls-cert-file: %v", h.Name, err)
	}
}

// writeHostFile replaces the content of an existing file on h, as root,
// from standard input (so it shows in no command line).
func writeHostFile(t *testing.T, h labHost, file string, data []byte) {
	t.Helper()
	pid, err := hostPID(h.Name)
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command("nsenter", "-t", strconv.Itoa(pid), "-m", "-u", "-p", "-n", "-r", "-w", "--", "sh", "-c", `cat > "$1"`, "sh", file)
	c.Stdin = bytes.NewReader(data)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("%s: write %s: %v: %s", h.Name, file, err, out)
	}
}

// servedCertLeft is how long the certificate h's data node presents has
// left, from a verified handshake.
func servedCertLeft(t *testing.T, h labHost) time.Duration {
	t.Helper()
	d := tls.Dialer{Config: testTLS()}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr(h, redisPort))
	if err != nil {
		t.Fatalf("%s: TLS: %v", h.Name, err)
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		t.Fatalf("%s: no certificate", h.Name)
	}
	return time.Until(certs[0].NotAfter)
}

// TestTLSSwitch switches a running plaintext cluster to TLS by setting
// tls.enabled and running up, under a writer that speaks TLS where the
// server does (as an application being moved would): the build moves to
// one with TLS by rolling restarts, each data node flips its port to TLS
// live, the sentinels restart together; no acknowledged write is lost and
// the writer's longest wait is reported.
func TestTLSSwitch(t *testing.T) {
	base := labInventory()
	_ = run(t, base, "uninstall", "--yes")
	labUp(t, 3)
	dir := t.TempDir()
	plainInv := tlsInventory(t, base, dir)
	data, err := os.ReadFile(plainInv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plainInv, bytes.Replace(data, []byte("  enabled: true"), []byte("  enabled: false"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	inv := tlsInventory(t, base, dir)
	t.Cleanup(func() { run(t, inv, "uninstall", "--yes") })
	mustRun(t, plainInv, "up")
	useStoredPassword(t, dir)
	waitHealthy(t, plainInv)
	caFile := filepath.Join(dir, masterName+".ca.crt")

	p := mustRun(t, inv, "plan")
	for _, want := range []string{"to apply the TLS build", "switch redis_7000 to TLS live", "restart sentinel_8000 on node1, node2, node3 together, with TLS"} {
		if !strings.Contains(p.stdout+p.stderr, want) {
			t.Errorf("plan does not say %q:\n%s", want, p.stdout+p.stderr)
		}
	}
	if _, err := os.Stat(caFile); err == nil {
		t.Error("plan made the CA")
	}

	w := startSwitchWriter(t, caFile)
	r := mustRun(t, inv, "up")
	t.Logf("MEASURE up switching a running cluster to TLS (TLS build cached or built): %s", r.took.Round(100*time.Millisecond))
	acked, gap, _ := w.stop()
	t.Setenv("E2E_TLS_CA", caFile)
	master := currentMaster(t)
	missing := w.missing(t, addr(master, redisPort))
	t.Logf("MEASURE writer during the switch to TLS: %d writes acknowledged, %d missing, longest wait between two %s (from %s), %d errors (%s)",
		acked, missing, gap.Round(10*time.Millisecond), w.gapStart().Format("15:04:05.000"), w.errors(), w.firstErrors())
	if acked < 100 {
		t.Fatalf("only %d writes acknowledged: the writer did not run", acked)
	}
	if missing != 0 {
		t.Errorf("%d acknowledged writes missing after the switch", missing)
	}
	checkSeedState(t, master) // over TLS only: the helpers' clients verify with the CA
	for _, h := range labHosts() {
		for _, port := range []int{redisPort, sentinelPort} {
			if plainPing(t, h, port) == nil {
				t.Errorf("%s: port %d still answers without TLS", h.Name, port)
			}
		}
	}
	before := pids(t)
	r = mustRun(t, inv, "up")
	if got := applied(r.stdout + r.stderr); len(got) > 0 {
		t.Errorf("up after the switch changed: %v", got)
	}
	if after := pids(t); !mapsEqual(before, after) {
		t.Errorf("up after the switch restarted: %v -> %v", before, after)
	}
	testFailover(t, inv, "manual")
	withPlain := testPlaintextPort(t, base, dir, inv)
	// Back to plaintext from a cluster whose plaintext port is open, with
	// the plaintext settings left in the inventory: each node's flip moves
	// the plaintext listener back to redis.port.
	mustRun(t, withPlain, "up")
	backInv := editedInventory(t, base, dir, "", fmt.Sprintf("tls:\n  enabled: false\n  plaintext: true\n  plaintext_port: %d", redisPort+100))

	// And back: tls.enabled false again, under the same kind of writer.
	// The TLS build stays (it serves plaintext too): no restart but the
	// sentinels'.
	p = mustRun(t, backInv, "plan")
	for _, want := range []string{"switch redis_7000 back to plaintext live", "restart sentinel_8000 on node1, node2, node3 together, without TLS"} {
		if !strings.Contains(p.stdout+p.stderr, want) {
			t.Errorf("plan does not say %q:\n%s", want, p.stdout+p.stderr)
		}
	}
	before = pids(t)
	w = startSwitchWriter(t, caFile)
	r = mustRun(t, backInv, "up")
	t.Logf("MEASURE up switching a running cluster back to plaintext: %s", r.took.Round(100*time.Millisecond))
	acked, gap, _ = w.stop()
	t.Setenv("E2E_TLS_CA", "")
	master = currentMaster(t)
	missing = w.missing(t, addr(master, redisPort))
	t.Logf("MEASURE writer during the switch back to plaintext: %d writes acknowledged, %d missing, longest wait between two %s (from %s), %d errors (%s)",
		acked, missing, gap.Round(10*time.Millisecond), w.gapStart().Format("15:04:05.000"), w.errors(), w.firstErrors())
	if acked < 100 || missing != 0 {
		t.Errorf("switch back: %d writes acknowledged, %d missing", acked, missing)
	}
	after := pids(t)
	for k, v := range before {
		if restarted := after[k] != v; restarted != strings.HasSuffix(k, "/sentinel") {
			t.Errorf("%s: pid %s -> %s across the switch back (only sentinels restart)", k, v, after[k])
		}
	}
	checkSeedState(t, master) // plaintext now
	for _, h := range labHosts() {
		if plainPing(t, h, redisPort+100) == nil {
			t.Errorf("%s: port %d still answers after the switch back to plaintext", h.Name, redisPort+100)
		}
	}
	for _, h := range labHosts() {
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 2 * time.Second}, Config: &tls.Config{InsecureSkipVerify: true}}
		ctx, cancel := ctx5()
		if conn, err := d.DialContext(ctx, "tcp", addr(h, redisPort)); err == nil {
			conn.Close()
			t.Errorf("%s: port %d still completes a TLS handshake", h.Name, redisPort)
		}
		cancel()
	}
	r = mustRun(t, plainInv, "up")
	if got := applied(r.stdout + r.stderr); len(got) > 0 {
		t.Errorf("up after the switch back changed: %v", got)
	}

	// To TLS once more, now with the plaintext port set: the servers run
	// the TLS build already, so each data node only flips, to port 7100
	// tls-port 7000 in one CONFIG SET, and only the sentinels restart.
	before = pids(t)
	r = mustRun(t, withPlain, "up")
	t.Logf("MEASURE up switching to TLS with a plaintext port, TLS build in place: %s", r.took.Round(10*time.Millisecond))
	if !strings.Contains(r.stdout+r.stderr, fmt.Sprintf("CONFIG SET port %d tls-port %d tls-replication yes", redisPort+100, redisPort)) {
		t.Errorf("up did not flip with the plaintext port:\n%s", r.stdout+r.stderr)
	}
	t.Setenv("E2E_TLS_CA", caFile)
	after = pids(t)
	for k, v := range before {
		if restarted := after[k] != v; restarted != strings.HasSuffix(k, "/sentinel") {
			t.Errorf("%s: pid %s -> %s across the switch to TLS with a plaintext port (only sentinels restart)", k, v, after[k])
		}
	}
	checkSeedState(t, currentMaster(t))
	for _, h := range labHosts() {
		if err := plainPing(t, h, redisPort+100); err != nil {
			t.Errorf("%s: plaintext port %d after the switch to TLS: %v", h.Name, redisPort+100, err)
		}
	}
}

// testPlaintextPort opens a plaintext port beside TLS on a running TLS
// cluster (tls.plaintext), and closes it again: both live, with no
// restart; the TLS ports and the sentinels stay TLS only.
func testPlaintextPort(t *testing.T, base, dir, inv string) (withPlain string) {
	const plainPort = redisPort + 100
	withPlain = editedInventory(t, base, dir, "", fmt.Sprintf("tls:\n  enabled: true\n  plaintext: true\n  plaintext_port: %d", plainPort))
	answers := func(h labHost, port int) error { return plainPing(t, h, port) }
	want := fmt.Sprintf("CONFIG SET port %d", plainPort)
	if p := mustRun(t, withPlain, "plan"); !strings.Contains(p.stdout+p.stderr, want) {
		t.Errorf("plan does not say %q:\n%s", want, p.stdout+p.stderr)
	}
	before := pids(t)
	r := mustRun(t, withPlain, "up")
	t.Logf("MEASURE up opening the plaintext port beside TLS: %s", r.took.Round(10*time.Millisecond))
	if after := pids(t); !mapsEqual(before, after) {
		t.Errorf("opening the plaintext port restarted: %v -> %v", before, after)
	}
	for _, h := range labHosts() {
		if err := answers(h, plainPort); err != nil {
			t.Errorf("%s: plaintext port %d: %v", h.Name, plainPort, err)
		}
		for _, port := range []int{redisPort, sentinelPort} {
			if answers(h, port) == nil {
				t.Errorf("%s: port %d answers without TLS beside the plaintext port", h.Name, port)
			}
		}
	}
	// A plaintext client writes on the master; the write reaches a replica
	// over the TLS replication link.
	master := currentMaster(t)
	plain := redis.NewClient(&redis.Options{Addr: addr(master, plainPort), Password: password(t), MaxRetries: -1, DisableIdentity: true, Protocol: 2})
	ctx, cancel := ctx5()
	err := plain.Set(ctx, "e2e:plaintext", "yes", 0).Err()
	cancel()
	plain.Close()
	if err != nil {
		t.Errorf("a plaintext write to the master's port %d: %v", plainPort, err)
	}
	d, sr := tlsStatus(t, withPlain)
	if sr.code != 0 {
		t.Errorf("status with the plaintext port: exit %d\n%s", sr.code, sr.stdout)
	}
	for _, n := range d.Nodes {
		if n.TLS == nil || n.TLS.PlaintextPort != plainPort || !n.TLS.Client || !n.TLS.Replication {
			t.Errorf("%s: status tls %+v, want TLS links and plaintext_port %d", n.Name, n.TLS, plainPort)
		}
	}
	if r := mustRun(t, withPlain, "up"); len(applied(r.stdout+r.stderr)) > 0 {
		t.Errorf("a second up with the plaintext port changed: %v", applied(r.stdout+r.stderr))
	}
	r = mustRun(t, inv, "up")
	t.Logf("MEASURE up closing the plaintext port: %s", r.took.Round(10*time.Millisecond))
	if after := pids(t); !mapsEqual(before, after) {
		t.Errorf("closing the plaintext port restarted: %v -> %v", before, after)
	}
	for _, h := range labHosts() {
		if answers(h, plainPort) == nil {
			t.Errorf("%s: plaintext port %d still answers after plaintext was turned off", h.Name, plainPort)
		}
	}
	d, _ = tlsStatus(t, inv)
	for _, n := range d.Nodes {
		if n.TLS == nil || n.TLS.PlaintextPort != 0 {
			t.Errorf("%s: status tls %+v after the plaintext port closed", n.Name, n.TLS)
		}
	}
	for _, h := range labHosts() {
		var got any
		var err error
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if got, err = do(t, addr(h, redisPort), "GET", "e2e:plaintext"); got == "yes" {
				break
			}
		}
		if got != "yes" {
			t.Errorf("%s: the plaintext client's write reads %v (%v) over TLS", h.Name, got, err)
		}
	}
	return withPlain
}

// switchWriter writes through the sentinels like startWriter, with a
// dialer that speaks TLS to a server that does and plaintext otherwise.
type switchWriter struct {
	*testWriter
	errMu sync.Mutex
	errs  []string
	nErr  int
}

func startSwitchWriter(t *testing.T, caFile string) *switchWriter {
	var sentinels []string
	for _, h := range labHosts() {
		sentinels = append(sentinels, addr(h, sentinelPort))
	}
	// Each connection first asks in plaintext (PING): a plaintext server
	// answers at once, a TLS one drops the connection at once; the
	// writer then dials again with TLS, verifying against the CA.
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		d := &net.Dialer{Timeout: time.Second}
		raw, err := d.DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		raw.SetDeadline(time.Now().Add(time.Second))
		var line string
		if _, err = raw.Write([]byte("PING\r\n")); err == nil {
			line, err = bufio.NewReader(raw).ReadString('\n')
		}
		if err == nil && (strings.HasPrefix(line, "+") || strings.HasPrefix(line, "-")) {
			raw.SetDeadline(time.Time{})
			return raw, nil
		}
		raw.Close()
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("the server does not speak plaintext and there is no CA yet: %w", err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		host, _, _ := net.SplitHostPort(address)
		return (&tls.Dialer{NetDialer: d, Config: &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12}}).DialContext(ctx, network, address)
	}
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: masterName, SentinelAddrs: sentinels,
		Password: password(t), SentinelPassword: password(t), Dialer: dial, DialTimeout: time.Second,
		ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: -1, DisableIdentity: true, Protocol: 2})
	ctx, cancel := context.WithCancel(context.Background())
	w := &switchWriter{testWriter: &testWriter{cancel: cancel, done: make(chan struct{})}}
	go func() {
		defer close(w.done)
		defer c.Close()
		for i := 0; ctx.Err() == nil; i++ {
			err := c.Set(ctx, "e2e:writer:"+strconv.Itoa(i), i, time.Hour).Err()
			if err == nil {
				w.mu.Lock()
				w.okAt = append(w.okAt, time.Now())
				w.okKeys = append(w.okKeys, i)
				w.mu.Unlock()
			} else if ctx.Err() == nil {
				w.errMu.Lock()
				w.nErr++
				if len(w.errs) < 3 && !slices.Contains(w.errs, err.Error()) {
					w.errs = append(w.errs, err.Error())
				}
				w.errMu.Unlock()
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return w
}

func (w *switchWriter) errors() int {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.nErr
}

func (w *switchWriter) firstErrors() string {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return strings.Join(w.errs, "; ")
}

// gapStart is when the longest wait between two acknowledged writes began
// (after stop), to set beside up's log.
func (w *switchWriter) gapStart() time.Time {
	var at time.Time
	var gap time.Duration
	for i := 1; i < len(w.okAt); i++ {
		if d := w.okAt[i].Sub(w.okAt[i-1]); d > gap {
			gap, at = d, w.okAt[i-1]
		}
	}
	return at
}

// plainPing sends a PING with the cluster password, without TLS, to port
// on h: nil when it is answered.
func plainPing(t *testing.T, h labHost, port int) error {
	t.Helper()
	plain := redis.NewClient(&redis.Options{Addr: addr(h, port), Password: password(t), MaxRetries: -1,
		DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, DisableIdentity: true, Protocol: 2})
	defer plain.Close()
	ctx, cancel := ctx5()
	defer cancel()
	return plain.Ping(ctx).Err()
}
