package provision

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redisctl/redisctl/provision/internal/testkit"
	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/tlsca"
)

// tlsTestCluster is a cluster of testInventory with TLS on (client_auth
// optional, the CA generated beside the password file, in a temporary
// directory), not connected: its nodes have only their inventory host.
// edit, when not nil, changes the inventory first. The progress output is
// kept in the returned buffer as well as logged.
func tlsTestCluster(t *testing.T, edit func(*inventory.Inventory)) (*Cluster, *bytes.Buffer) {
	t.Helper()
	inv := testInventory(t)
	inv.TLS = inventory.TLS{Enabled: true, ClientAuth: inventory.DefaultClientAuth}
	if edit != nil {
		edit(inv)
	}
	out := &bytes.Buffer{}
	c := &Cluster{Inv: inv, Layout: inv.Layout(), P: NewProgress(io.MultiWriter(testkit.LogWriter{T: t}, out), "", "test", false)}
	for i := range inv.Hosts {
		c.Nodes = append(c.Nodes, &Node{Spec: &inv.Hosts[i]})
	}
	return c, out
}

// tlsCADir is where tlsTestCluster's CA is kept.
func tlsCADir(c *Cluster) string { return filepath.Dir(c.Inv.Redis.PasswordFile) }

// tlsOnHost is what a host holds in its TLS directory, as planFiles reads
// it: the certificate and the key by path (nil ones left out).
func tlsOnHost(c *Cluster, certPEM, keyPEM []byte) map[string][]byte {
	m := map[string][]byte{}
	if certPEM != nil {
		m[path.Join(c.Layout.TLSDir, inventory.TLSCertFile)] = certPEM
	}
	if keyPEM != nil {
		m[path.Join(c.Layout.TLSDir, inventory.TLSKeyFile)] = keyPEM
	}
	return m
}

// tlsNewKey is a fresh P-256 key.
func tlsNewKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func tlsKeyPEM(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// tlsSign signs tmpl (given a serial and, when unset, a validity of a
// year from an hour ago) for a fresh key with parent and parentKey, or
// self-signed when parent is nil. It returns the certificate and key in
// PEM.
func tlsSign(t *testing.T, tmpl, parent *x509.Certificate, parentKey crypto.Signer) (certPEM, keyPEM []byte) {
	t.Helper()
	key := tlsNewKey(t)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	if tmpl.NotAfter.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), tlsKeyPEM(t, key)
}

// tlsCATemplate is a CA certificate's template.
func tlsCATemplate(name string) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

// tlsHostTemplate is a host certificate's template naming addr (an IP
// address) and name, for usages.
func tlsHostTemplate(name, addr string, usages ...x509.ExtKeyUsage) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           usages,
		BasicConstraintsValid: true,
		IPAddresses:           []net.IP{net.ParseIP(addr)},
		DNSNames:              []string{name},
	}
}

var tlsBothUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}

// tlsReadCAKey reads the generated CA's key from its file.
func tlsReadCAKey(t *testing.T, c *Cluster) crypto.Signer {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(tlsCADir(c), c.Inv.Name+".ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	return tlsParseKey(t, data)
}

// tlsParseKey reads a PKCS #8 PEM key, as tlsca writes them.
func tlsParseKey(t *testing.T, keyPEM []byte) crypto.Signer {
	t.Helper()
	block, _ := pem.Decode(keyPEM)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("no PKCS #8 PEM key in:\n%s", keyPEM)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return key.(crypto.Signer)
}

func tlsParseCert(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatalf("no PEM certificate in %q", certPEM)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// tlsCheckIssued checks that cert and key are a pair from the cluster CA
// for n: its name and its address.
func tlsCheckIssued(t *testing.T, c *Cluster, n *Node, certPEM, keyPEM []byte) {
	t.Helper()
	for _, name := range []string{n.Spec.Address, n.Spec.Name} {
		if err := tlsca.Verify(certPEM, c.TLS.caPEM, name); err != nil {
			t.Errorf("the certificate for %s: %v", n.Spec.Name, err)
		}
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Errorf("the key is not the certificate's: %v", err)
	}
	if reason, renew := tlsca.NeedsRenewal(certPEM, time.Now(), n.Spec.Name, []string{n.Spec.Address}, c.TLS.ca.Cert); renew {
		t.Errorf("the new certificate would be renewed at once: %s", reason)
	}
}

func TestHostTLSFilesGenerated(t *testing.T) {
	c, out := tlsTestCluster(t, nil)
	if err := c.loadTLS(true, false); err != nil {
		t.Fatal(err)
	}
	n := c.Nodes[1] // node2, 10.0.0.2
	caKey := tlsReadCAKey(t, c)
	ca := c.TLS.ca.Cert

	goodCert, goodKey, err := c.TLS.ca.Issue(n.Spec.Name, []string{n.Spec.Address}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	node1Cert, node1Key, err := c.TLS.ca.Issue("node1", []string{"10.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := c.TLS.ca.Issue(n.Spec.Name, []string{n.Spec.Address}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	shortTmpl := tlsHostTemplate(n.Spec.Name, n.Spec.Address, tlsBothUsages...)
	shortTmpl.NotBefore, shortTmpl.NotAfter = time.Now().Add(-800*24*time.Hour), time.Now().Add(10*24*time.Hour)
	shortCert, shortKey := tlsSign(t, shortTmpl, ca, caKey)
	expiredTmpl := tlsHostTemplate(n.Spec.Name, n.Spec.Address, tlsBothUsages...)
	expiredTmpl.NotBefore, expiredTmpl.NotAfter = time.Now().Add(-800*24*time.Hour), time.Now().Add(-time.Hour)
	expiredCert, expiredKey := tlsSign(t, expiredTmpl, ca, caKey)
	serverOnlyCert, serverOnlyKey := tlsSign(t, tlsHostTemplate(n.Spec.Name, n.Spec.Address, x509.ExtKeyUsageServerAuth), ca, caKey)
	otherCAPEM, otherCAKeyPEM := tlsSign(t, tlsCATemplate("other"), nil, nil)
	foreignCert, foreignKey := tlsSign(t, tlsHostTemplate(n.Spec.Name, n.Spec.Address, tlsBothUsages...),
		tlsParseCert(t, otherCAPEM), tlsParseKey(t, otherCAKeyPEM))

	tests := []struct {
		name      string
		cert, key []byte // on the host; nil for none
		keep      bool
		why       string // in the progress output when renewed ("" prints nothing)
	}{
		{name: "no certificate on the host", why: ""},
		{name: "only a key on the host", key: goodKey, why: ""},
		{name: "certificate still good", cert: goodCert, key: goodKey, keep: true},
		{name: "10 days left", cert: shortCert, key: shortKey, why: "a new certificate: the certificate expires in 9 days"},
		{name: "expired", cert: expiredCert, key: expiredKey, why: "a new certificate: the certificate expired on"},
		{name: "from another CA", cert: foreignCert, key: foreignKey, why: "a new certificate: the certificate is not signed by the cluster CA"},
		{name: "key not the certificate's", cert: goodCert, key: otherKey, why: "a new certificate: the key on the host is not the certificate's"},
		{name: "key missing", cert: goodCert, why: "a new certificate: the key on the host is not the certificate's"},
		{name: "another host's certificate", cert: node1Cert, key: node1Key, why: "a new certificate: the certificate does not name 10.0.0.2, node2"},
		{name: "server-only certificate", cert: serverOnlyCert, key: serverOnlyKey, why: "a new certificate: the certificate is not for both server and client authentication"},
		{name: "not a certificate", cert: []byte("garbage\n"), key: goodKey, why: "a new certificate: the certificate cannot be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out.Reset()
			f, err := c.hostTLSFiles(n, tlsOnHost(c, tt.cert, tt.key))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(f.CA, c.TLS.ca.CertPEM) {
				t.Errorf("the CA file is not the cluster CA's certificate")
			}
			if tt.keep {
				if !bytes.Equal(f.Cert, tt.cert) || !bytes.Equal(f.Key, tt.key) {
					t.Errorf("a good certificate and key were replaced")
				}
				if out.Len() > 0 {
					t.Errorf("kept, but said: %s", out)
				}
				return
			}
			if bytes.Equal(f.Cert, tt.cert) || bytes.Equal(f.Key, tt.key) {
				t.Errorf("the certificate or key on the host was kept; want a new pair")
			}
			tlsCheckIssued(t, c, n, f.Cert, f.Key)
			got := out.String()
			switch {
			case tt.why == "" && got != "":
				t.Errorf("no certificate before, but said: %s", got)
			case tt.why != "" && !strings.Contains(got, tt.why):
				t.Errorf("progress %q does not say %q", got, tt.why)
			case tt.why != "" && !strings.HasPrefix(got, "node2 "):
				t.Errorf("progress %q does not name the host", got)
			}
		})
	}
}

// Without TLS there are no TLS files, and no paths to read for them.
func TestHostTLSFilesWithoutTLS(t *testing.T) {
	c, _ := tlsTestCluster(t, func(inv *inventory.Inventory) { inv.TLS.Enabled = false })
	if err := c.loadTLS(true, false); err != nil {
		t.Fatal(err)
	}
	f, err := c.hostTLSFiles(c.Nodes[0], nil)
	if f != nil || err != nil {
		t.Errorf("hostTLSFiles without TLS: %+v, %v; want nil, nil", f, err)
	}
	if p := c.tlsPaths(); p != nil {
		t.Errorf("tlsPaths without TLS: %q", p)
	}
}

// Each host gets a certificate of its own, and tlsPaths are the host's
// three TLS files, read to compare them (and to keep a good certificate).
func TestHostTLSFilesPerHost(t *testing.T) {
	c, _ := tlsTestCluster(t, nil)
	if err := c.loadTLS(true, false); err != nil {
		t.Fatal(err)
	}
	want := []string{"/etc/redis/tls_7000/ca.crt", "/etc/redis/tls_7000/redis.crt", "/etc/redis/tls_7000/redis.key"}
	if got := c.tlsPaths(); !slices.Equal(got, want) {
		t.Errorf("tlsPaths %q, want %q", got, want)
	}
	for _, n := range c.Nodes {
		f, err := c.hostTLSFiles(n, map[string][]byte{})
		if err != nil {
			t.Fatal(err)
		}
		tlsCheckIssued(t, c, n, f.Cert, f.Key)
		for _, other := range c.Nodes {
			if other != n && tlsca.Verify(f.Cert, f.CA, other.Spec.Address) == nil {
				t.Errorf("%s's certificate is also good for %s", n.Spec.Name, other.Spec.Name)
			}
		}
	}
}

// In plan with a stand-in CA, a certificate to renew is not announced
// (plan's diff shows it), and it is issued by the stand-in.
func TestHostTLSFilesStandInIsQuiet(t *testing.T) {
	c, out := tlsTestCluster(t, nil)
	if err := c.loadTLS(false, true); err != nil {
		t.Fatal(err)
	}
	other, err := tlsca.StandInCA("other")
	if err != nil {
		t.Fatal(err)
	}
	n := c.Nodes[0]
	cert, key, err := other.Issue(n.Spec.Name, []string{n.Spec.Address}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.hostTLSFiles(n, tlsOnHost(c, cert, key))
	if err != nil {
		t.Fatal(err)
	}
	tlsCheckIssued(t, c, n, f.Cert, f.Key)
	if out.Len() > 0 {
		t.Errorf("plan with a stand-in CA said: %s", out)
	}
}

func TestLoadTLSDisabled(t *testing.T) {
	c, _ := tlsTestCluster(t, func(inv *inventory.Inventory) { inv.TLS.Enabled = false })
	c.TLS = &clusterTLS{} // left from an earlier load
	before := tlsDirNames(t, tlsCADir(c))
	for _, mode := range [][2]bool{{true, false}, {false, true}, {false, false}} {
		if err := c.loadTLS(mode[0], mode[1]); err != nil {
			t.Errorf("loadTLS%v: %v", mode, err)
		}
		if c.TLS != nil {
			t.Errorf("loadTLS%v without TLS left TLS settings", mode)
		}
	}
	if after := tlsDirNames(t, tlsCADir(c)); !slices.Equal(before, after) {
		t.Errorf("without TLS the CA directory changed from %q to %q", before, after)
	}
}

func tlsDirNames(t *testing.T, dir string) []string {
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

func TestLoadTLSWithoutCA(t *testing.T) {
	c, _ := tlsTestCluster(t, nil)
	dir := tlsCADir(c)
	before := tlsDirNames(t, dir)
	err := c.loadTLS(false, false)
	crt := filepath.Join(dir, "mymaster.ca.crt")
	for _, want := range []string{"the cluster CA " + crt + " does not exist", "run redisctl up"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("no CA, not plan: error %v, want one saying %q", err, want)
		}
	}
	if c.TLS != nil {
		t.Errorf("TLS settings left after an error")
	}

	// plan: a stand-in that is never saved.
	if err := c.loadTLS(false, true); err != nil {
		t.Fatalf("plan without a CA: %v", err)
	}
	if c.TLS == nil || !c.TLS.standIn || c.TLS.ca == nil {
		t.Fatalf("plan without a CA: want a stand-in CA, got %+v", c.TLS)
	}
	if _, err := c.hostTLSFiles(c.Nodes[0], nil); err != nil {
		t.Errorf("a stand-in CA cannot issue: %v", err)
	}
	if after := tlsDirNames(t, dir); !slices.Equal(before, after) {
		t.Errorf("plan wrote into the CA directory: %q, was %q", after, before)
	}
}

func TestLoadTLSCreate(t *testing.T) {
	c, out := tlsTestCluster(t, nil)
	dir := tlsCADir(c)
	if err := c.loadTLS(true, false); err != nil {
		t.Fatal(err)
	}
	crt, key := filepath.Join(dir, "mymaster.ca.crt"), filepath.Join(dir, "mymaster.ca.key")
	if _, err := os.Stat(crt); err != nil {
		t.Errorf("CA certificate: %v", err)
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("CA key: %v, %v; want mode 0600", fi, err)
	}
	if c.TLS == nil || c.TLS.ca == nil || c.TLS.standIn || c.TLS.files != nil {
		t.Fatalf("want the generated CA, got %+v", c.TLS)
	}
	if c.TLS.ca.CertFile != crt || c.TLS.ca.KeyFile != key {
		t.Errorf("CA files %s and %s, want %s and %s", c.TLS.ca.CertFile, c.TLS.ca.KeyFile, crt, key)
	}
	if !strings.Contains(out.String(), "made the cluster CA "+crt) || !strings.Contains(out.String(), key) {
		t.Errorf("making the CA said %q", out)
	}
	caPEM := c.TLS.caPEM
	onDisk, _ := os.ReadFile(crt)
	if !bytes.Equal(caPEM, onDisk) {
		t.Errorf("the CA in use is not the one on disk")
	}

	// Later runs use the same CA, without a word; plan too.
	for _, mode := range [][2]bool{{true, false}, {false, false}, {false, true}} {
		out.Reset()
		if err := c.loadTLS(mode[0], mode[1]); err != nil {
			t.Fatalf("loadTLS%v with the CA there: %v", mode, err)
		}
		if !bytes.Equal(c.TLS.caPEM, caPEM) || c.TLS.standIn {
			t.Errorf("loadTLS%v: another CA (stand-in %v)", mode, c.TLS.standIn)
		}
		if out.Len() > 0 {
			t.Errorf("loadTLS%v said: %s", mode, out)
		}
	}
}

// redisctl's own connections trust the cluster CA alone and present a
// client certificate from it unless client_auth is no.
func TestLoadTLSClientConfig(t *testing.T) {
	for _, auth := range []string{"yes", "optional", "no"} {
		t.Run(auth, func(t *testing.T) {
			c, _ := tlsTestCluster(t, func(inv *inventory.Inventory) { inv.TLS.ClientAuth = auth })
			if err := c.loadTLS(true, false); err != nil {
				t.Fatal(err)
			}
			cfg := c.TLS.client
			if cfg.MinVersion != tls.VersionTLS12 || cfg.RootCAs == nil || cfg.InsecureSkipVerify {
				t.Errorf("client config: MinVersion %x, RootCAs %v, InsecureSkipVerify %v", cfg.MinVersion, cfg.RootCAs, cfg.InsecureSkipVerify)
			}
			if auth == "no" {
				if len(cfg.Certificates) != 0 {
					t.Errorf("client_auth no: %d client certificates, want none", len(cfg.Certificates))
				}
				return
			}
			if len(cfg.Certificates) != 1 {
				t.Fatalf("%d client certificates, want 1", len(cfg.Certificates))
			}
			leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
			if err != nil {
				t.Fatal(err)
			}
			roots := x509.NewCertPool()
			roots.AddCert(c.TLS.ca.Cert)
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("redisctl's client certificate is not good for client authentication through the CA: %v", err)
			}
			if leaf.Subject.CommonName != "redisctl" {
				t.Errorf("client certificate for %q, want redisctl", leaf.Subject.CommonName)
			}
		})
	}
}

// A cluster name that cannot name the CA's files (only when the password
// file is not set: the CA is kept beside it).
func TestLoadTLSNoCADir(t *testing.T) {
	c, _ := tlsTestCluster(t, func(inv *inventory.Inventory) {
		inv.Name = "a/b"
		inv.Redis.PasswordFile = ""
	})
	err := c.loadTLS(true, false)
	if err == nil || !strings.Contains(err.Error(), "cannot name the CA's files") {
		t.Errorf("error %v, want one saying the name cannot name the CA's files", err)
	}
}

// tlsOperatorFiles writes a CA and, for each host of inv, a certificate
// and key into a temporary directory, and points inv's tls files at them
// ({host} patterns). cert makes each host's template; it may return nil
// to leave the host without files.
func tlsOperatorFiles(t *testing.T, inv *inventory.Inventory, cert func(h *inventory.Host) *x509.Certificate) (dir string) {
	t.Helper()
	dir = t.TempDir()
	caPEM, caKeyPEM := tlsSign(t, tlsCATemplate("operator CA"), nil, nil)
	caCert, caKey := tlsParseCert(t, caPEM), tlsParseKey(t, caKeyPEM)
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", caPEM)
	for i := range inv.Hosts {
		h := &inv.Hosts[i]
		tmpl := cert(h)
		if tmpl == nil {
			continue
		}
		certPEM, keyPEM := tlsSign(t, tmpl, caCert, caKey)
		write(h.Name+".crt", certPEM)
		write(h.Name+".key", keyPEM)
	}
	inv.TLS.CAFile = filepath.Join(dir, "ca.pem")
	inv.TLS.CertFile = filepath.Join(dir, "{host}.crt")
	inv.TLS.KeyFile = filepath.Join(dir, "{host}.key")
	return dir
}

func TestLoadTLSOperatorFiles(t *testing.T) {
	good := func(h *inventory.Host) *x509.Certificate { return tlsHostTemplate(h.Name, h.Address, tlsBothUsages...) }
	serverOnly := func(h *inventory.Host) *x509.Certificate {
		return tlsHostTemplate(h.Name, h.Address, x509.ExtKeyUsageServerAuth)
	}
	tests := []struct {
		name       string
		clientAuth string
		cert       func(h *inventory.Host) *x509.Certificate
		wantErr    []string // {dir} is the files' directory; nil loads
	}{
		{name: "good files", clientAuth: "optional", cert: good},
		{name: "good files, client_auth yes", clientAuth: "yes", cert: good},
		{name: "good files, client_auth no", clientAuth: "no", cert: good},
		{
			name: "node2's certificate names another address", clientAuth: "optional",
			cert: func(h *inventory.Host) *x509.Certificate {
				if h.Name == "node2" {
					return tlsHostTemplate(h.Name, "10.9.9.9", tlsBothUsages...)
				}
				return good(h)
			},
			wantErr: []string{"node2: tls: certificate file {dir}/node2.crt", "10.0.0.2"},
		},
		{
			name: "server-only certificates, client_auth optional", clientAuth: "optional", cert: serverOnly,
			wantErr: []string{"node1: tls: certificate file {dir}/node1.crt is for servers only", "tls.client_auth is optional", "client_auth: no"},
		},
		{
			name: "server-only certificates, client_auth yes", clientAuth: "yes", cert: serverOnly,
			wantErr: []string{"node1: tls: certificate file {dir}/node1.crt is for servers only", "tls.client_auth is yes"},
		},
		{name: "server-only certificates, client_auth no", clientAuth: "no", cert: serverOnly},
		{
			name: "node3 has no files", clientAuth: "optional",
			cert: func(h *inventory.Host) *x509.Certificate {
				if h.Name == "node3" {
					return nil
				}
				return good(h)
			},
			wantErr: []string{"node3: tls: read certificate file", "{dir}/node3.crt"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dir string
			c, _ := tlsTestCluster(t, func(inv *inventory.Inventory) {
				inv.TLS.ClientAuth = tt.clientAuth
				dir = tlsOperatorFiles(t, inv, tt.cert)
			})
			caDirBefore := tlsDirNames(t, tlsCADir(c))
			err := c.loadTLS(true, false)
			if after := tlsDirNames(t, tlsCADir(c)); !slices.Equal(caDirBefore, after) {
				t.Errorf("with the operator's files a CA was made: %q", after)
			}
			if tt.wantErr != nil {
				for _, w := range tt.wantErr {
					w = strings.ReplaceAll(w, "{dir}", dir)
					if err == nil || !strings.Contains(err.Error(), w) {
						t.Errorf("error %v, want one saying %q", err, w)
					}
				}
				if c.TLS != nil {
					t.Errorf("TLS settings left after an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.TLS.ca != nil || len(c.TLS.files) != len(c.Nodes) {
				t.Fatalf("want the operator's files for %d hosts, got CA %v and %d", len(c.Nodes), c.TLS.ca, len(c.TLS.files))
			}
			// The files on the host are read to compare them.
			if p, want := c.tlsPaths(), []string{"/etc/redis/tls_7000/ca.crt", "/etc/redis/tls_7000/redis.crt", "/etc/redis/tls_7000/redis.key"}; !slices.Equal(p, want) {
				t.Errorf("with the operator's files, tlsPaths %q; want %q", p, want)
			}
			caPEM, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
			for _, n := range c.Nodes {
				// What is on the host does not matter: the operator's
				// files are uploaded as they are.
				f, err := c.hostTLSFiles(n, tlsOnHost(c, []byte("old"), []byte("old")))
				if err != nil {
					t.Fatal(err)
				}
				cert, _ := os.ReadFile(filepath.Join(dir, n.Spec.Name+".crt"))
				key, _ := os.ReadFile(filepath.Join(dir, n.Spec.Name+".key"))
				if !bytes.Equal(f.CA, caPEM) || !bytes.Equal(f.Cert, cert) || !bytes.Equal(f.Key, key) {
					t.Errorf("%s: the TLS files are not the operator's files for it", n.Spec.Name)
				}
			}
			certs := c.TLS.client.Certificates
			if tt.clientAuth == "no" {
				if len(certs) != 0 {
					t.Errorf("client_auth no: redisctl presents %d certificates", len(certs))
				}
				return
			}
			node1Cert, _ := os.ReadFile(filepath.Join(dir, "node1.crt"))
			if len(certs) != 1 || !bytes.Equal(certs[0].Certificate[0], tlsParseCert(t, node1Cert).Raw) {
				t.Errorf("redisctl's client certificate is not the first host's")
			}
		})
	}
}

// certExpiry reads what the handshakes' seen recorded, by address.
func TestCertExpiry(t *testing.T) {
	c, _ := tlsTestCluster(t, nil)
	if _, ok := c.certExpiry("10.0.0.1:7000"); ok {
		t.Error("an expiry without TLS")
	}
	if err := c.loadTLS(true, false); err != nil {
		t.Fatal(err)
	}
	end := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c.TLS.seen("10.0.0.1:7000", tls.ConnectionState{PeerCertificates: []*x509.Certificate{{NotAfter: end}}})
	c.TLS.seen("10.0.0.2:7000", tls.ConnectionState{})
	if got, ok := c.certExpiry("10.0.0.1:7000"); !ok || !got.Equal(end) {
		t.Errorf("expiry %v, %v; want %v", got, ok, end)
	}
	if _, ok := c.certExpiry("10.0.0.2:7000"); ok {
		t.Error("an expiry from a handshake without a certificate")
	}
}

func TestTLSBuild(t *testing.T) {
	tests := []struct {
		name    string
		tls     bool
		init    string
		version string // installed; "" for none
		libssl  bool   // the installed build has TLS
		flags   string
		install bool
	}{
		{"systemd, no TLS, installed", false, "systemd", "7.0.15", false, "USE_SYSTEMD=yes", false},
		{"systemd, TLS, build without TLS", true, "systemd", "7.0.15", false, "USE_SYSTEMD=yes BUILD_TLS=yes", true},
		{"systemd, TLS, build with TLS", true, "systemd", "7.0.15", true, "USE_SYSTEMD=yes BUILD_TLS=yes", false},
		{"sysv, TLS, build without TLS", true, "sysv", "7.0.15", false, "BUILD_TLS=yes", true},
		{"sysv, no TLS, TLS build installed", false, "sysv", "7.0.15", true, "", false},
		{"sysv, TLS, other version with TLS", true, "sysv", "7.0.14", true, "BUILD_TLS=yes", true},
		{"systemd, no TLS, nothing installed", false, "systemd", "", false, "USE_SYSTEMD=yes", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := tlsTestCluster(t, func(inv *inventory.Inventory) { inv.TLS.Enabled = tt.tls })
			n := c.Nodes[0]
			n.SetFacts(&Facts{Init: tt.init, RedisVersion: tt.version, RedisTLS: tt.libssl}, &Manifest{}, c.Layout)
			if got := c.makeFlags(n); got != tt.flags {
				t.Errorf("makeFlags %q, want %q", got, tt.flags)
			}
			if got := c.NeedsInstall(n); got != tt.install {
				t.Errorf("needsInstall %v, want %v", got, tt.install)
			}
			src := &Source{SHA256: strings.Repeat("ab", 32)}
			dir := c.buildDir("/cache", src, "debian-12-x86_64")
			if strings.HasSuffix(dir, "-tls") != tt.tls {
				t.Errorf("build directory %s: a TLS build must be kept apart, and only a TLS build", dir)
			}
		})
	}
}
