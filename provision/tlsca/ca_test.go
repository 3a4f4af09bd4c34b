package tlsca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadOrCreateCAMakesThenLoads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "config", "redisctl") // missing: made 0700
	before := time.Now()
	ca, created, err := LoadOrCreateCA(dir, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("created = false for a new CA")
	}
	certFile, keyFile := filepath.Join(dir, "prod.ca.crt"), filepath.Join(dir, "prod.ca.key")
	if ca.CertFile != certFile || ca.KeyFile != keyFile {
		t.Errorf("files = %s, %s; want %s, %s", ca.CertFile, ca.KeyFile, certFile, keyFile)
	}
	for file, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, certFile: 0o644, keyFile: 0o600} {
		if fi, err := os.Lstat(file); err != nil {
			t.Error(err)
		} else if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", file, fi.Mode(), want)
		}
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{"prod.ca.crt", "prod.ca.key"}) {
		t.Errorf("files in %s: %v; want the two CA files only, no temporary file left", dir, got)
	}

	c := ca.Cert
	if !c.IsCA || !c.BasicConstraintsValid || !c.MaxPathLenZero || c.MaxPathLen != 0 {
		t.Errorf("IsCA %v, BasicConstraintsValid %v, MaxPathLen %d (zero %v): want a CA that signs host certificates only",
			c.IsCA, c.BasicConstraintsValid, c.MaxPathLen, c.MaxPathLenZero)
	}
	if c.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("KeyUsage %v lacks CertSign", c.KeyUsage)
	}
	if pub, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key %T, want ECDSA P-256", c.PublicKey)
	}
	if !strings.Contains(c.Subject.CommonName, "prod") {
		t.Errorf("subject %q does not name the cluster", c.Subject)
	}
	if c.NotBefore.After(before) {
		t.Errorf("NotBefore %v is after the moment it was made (%v): no room for clock skew", c.NotBefore, before)
	}
	if want := before.AddDate(10, 0, 0); c.NotAfter.Before(want.Add(-time.Minute)) || c.NotAfter.After(want.Add(time.Minute)) {
		t.Errorf("NotAfter %v, want 10 years on, about %v", c.NotAfter, want)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 {
		t.Errorf("serial %v: want positive, at most 128 bits", c.SerialNumber)
	}

	again, created, err := LoadOrCreateCA(dir, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("created = true when loading the existing CA")
	}
	if !bytes.Equal(again.CertPEM, ca.CertPEM) || !again.Cert.Equal(ca.Cert) {
		t.Error("the loaded CA is not the one made")
	}
	if !keyMatches(again.key, again.Cert) {
		t.Error("the loaded key is not the certificate's")
	}

	other, created, err := LoadOrCreateCA(dir, "staging")
	if err != nil || !created {
		t.Fatalf("a second cluster in the same directory: created %v, %v", created, err)
	}
	if other.Cert.Equal(ca.Cert) {
		t.Error("two clusters share a CA")
	}
}

// TestLoadOrCreateCARefuses covers every file state that must stop redisctl
// rather than make or use a CA: each case arranges the directory of cluster
// "prod" (which holds a good CA unless the case removes it) and the error
// must name the file at fault. A refusal changes no file.
func TestLoadOrCreateCARefuses(t *testing.T) {
	otherCA, otherKey := newTestCA(t, "other", time.Now())
	tests := []struct {
		name    string
		arrange func(t *testing.T, certFile, keyFile string)
		want    []string // substrings of the error; "CERT" and "KEY" stand for the files
	}{
		{
			name:    "key readable by the group",
			arrange: chmod(0o640),
			want:    []string{"KEY", "mode 0640", "chmod 600"},
		},
		{
			name:    "key readable by others",
			arrange: chmod(0o604),
			want:    []string{"KEY", "mode 0604"},
		},
		{
			name:    "key writable by the group",
			arrange: chmod(0o620),
			want:    []string{"KEY", "mode 0620"},
		},
		{
			name: "key is a link to a good key",
			arrange: func(t *testing.T, _, keyFile string) {
				moved := filepath.Join(t.TempDir(), "real.key")
				must(t, os.Rename(keyFile, moved))
				must(t, os.Symlink(moved, keyFile))
			},
			want: []string{"KEY", "symbolic link"},
		},
		{
			name: "key is a dangling link",
			arrange: func(t *testing.T, _, keyFile string) {
				must(t, os.Remove(keyFile))
				must(t, os.Symlink(filepath.Join(t.TempDir(), "nothing"), keyFile))
			},
			want: []string{"KEY", "symbolic link"},
		},
		{
			name: "key is a directory",
			arrange: func(t *testing.T, _, keyFile string) {
				must(t, os.Remove(keyFile))
				must(t, os.Mkdir(keyFile, 0o700))
			},
			want: []string{"KEY", "not a regular file"},
		},
		{
			name: "key of another CA",
			arrange: func(t *testing.T, _, keyFile string) {
				must(t, os.WriteFile(keyFile, otherKey, 0o600))
			},
			want: []string{"KEY", "CERT", "does not match"},
		},
		{
			name: "certificate of another CA",
			arrange: func(t *testing.T, certFile, _ string) {
				must(t, os.WriteFile(certFile, otherCA.CertPEM, 0o644))
			},
			want: []string{"KEY", "CERT", "does not match"},
		},
		{
			name: "certificate that is not a CA",
			arrange: func(t *testing.T, certFile, keyFile string) {
				leaf, key := issueForTest(t, otherCA, "redis-1", []string{"10.0.0.1"}, time.Now())
				must(t, os.WriteFile(certFile, leaf, 0o644))
				must(t, os.WriteFile(keyFile, key, 0o600))
			},
			want: []string{"CERT", "not a CA certificate"},
		},
		{
			name: "key without its certificate",
			arrange: func(t *testing.T, certFile, _ string) {
				must(t, os.Remove(certFile))
			},
			want: []string{"KEY", "CERT", "does not", "remove the key"},
		},
		{
			name: "certificate without its key",
			arrange: func(t *testing.T, _, keyFile string) {
				must(t, os.Remove(keyFile))
			},
			want: []string{"KEY", "CERT", "cannot sign without its key"},
		},
		{
			name: "key file holds no key",
			arrange: func(t *testing.T, _, keyFile string) {
				must(t, os.WriteFile(keyFile, []byte("not a key\n"), 0o600))
			},
			want: []string{"KEY", "no PEM private key"},
		},
		{
			name: "key file holds a broken key",
			arrange: func(t *testing.T, _, keyFile string) {
				must(t, os.WriteFile(keyFile, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600))
			},
			want: []string{"KEY", "cannot read the private key"},
		},
		{
			name: "certificate file holds no certificate",
			arrange: func(t *testing.T, certFile, _ string) {
				must(t, os.WriteFile(certFile, []byte("garbage"), 0o644))
			},
			want: []string{"CERT", "no PEM certificate"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, _, err := LoadOrCreateCA(dir, "prod"); err != nil {
				t.Fatal(err)
			}
			certFile, keyFile := filepath.Join(dir, "prod.ca.crt"), filepath.Join(dir, "prod.ca.key")
			tt.arrange(t, certFile, keyFile)
			before := snapshot(t, dir)

			ca, created, err := LoadOrCreateCA(dir, "prod")
			if err == nil {
				t.Fatalf("loaded (created %v, CA %v); want a refusal", created, ca.Cert.Subject)
			}
			for _, w := range tt.want {
				w = strings.NewReplacer("CERT", certFile, "KEY", keyFile).Replace(w)
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if ca != nil || created {
				t.Errorf("refusal returned CA %v, created %v", ca, created)
			}
			if after := snapshot(t, dir); after != before {
				t.Errorf("the refusal changed the directory:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// TestLoadOrCreateCAAtOnce: runs making one cluster's CA at the same time
// end with one CA on disk, and every run that succeeds returns it; at most
// one says it made it. A run may fail if it reads between the other's key
// and certificate, never with a CA that is not on disk.
func TestLoadOrCreateCAAtOnce(t *testing.T) {
	for range 20 {
		dir := t.TempDir()
		type result struct {
			ca      *CA
			created bool
			err     error
		}
		results := make(chan result)
		for range 4 {
			go func() {
				ca, created, err := LoadOrCreateCA(dir, "prod")
				results <- result{ca, created, err}
			}()
		}
		var got []result
		for range 4 {
			got = append(got, <-results)
		}
		onDisk, created, err := LoadOrCreateCA(dir, "prod")
		if err != nil || created {
			t.Fatalf("after the runs: created %v, %v", created, err)
		}
		made := 0
		for _, r := range got {
			if r.err != nil {
				if !strings.Contains(r.err.Error(), "exists but its certificate") {
					t.Errorf("a run failed: %v", r.err)
				}
				continue
			}
			if !r.ca.Cert.Equal(onDisk.Cert) {
				t.Error("a run returned a CA that is not the one on disk")
			}
			if r.created {
				made++
			}
		}
		if made > 1 {
			t.Errorf("%d runs say they made the CA", made)
		}
		if names := dirNames(t, dir); !slices.Equal(names, []string{"prod.ca.crt", "prod.ca.key"}) {
			t.Errorf("files left: %v", names)
		}
	}
}

func TestLoadOrCreateCACannotMakeDirectory(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "redisctl")
	must(t, os.WriteFile(dir, nil, 0o600)) // a file where the directory belongs
	_, _, err := LoadOrCreateCA(dir, "prod")
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("error %v; want one naming %s", err, dir)
	}
	if names := dirNames(t, parent); !slices.Equal(names, []string{"redisctl"}) {
		t.Errorf("files left: %v", names)
	}
}

func TestLoadOrCreateCARefusesClusterNames(t *testing.T) {
	for _, name := range []string{"", ".", "..", "a/b", "../prod", `a\b`, "a\x00b"} {
		dir := t.TempDir()
		if _, _, err := LoadOrCreateCA(dir, name); err == nil || !strings.Contains(err.Error(), "cannot name a file") {
			t.Errorf("cluster name %q: error %v, want a refusal", name, err)
		}
		if got := dirNames(t, dir); len(got) != 0 {
			t.Errorf("cluster name %q: wrote %v", name, got)
		}
	}
}

func TestParseKeyForms(t *testing.T) {
	_, keyPEM := newTestCA(t, "x", time.Now())
	key, err := parseKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ec := key.(*ecdsa.PrivateKey)
	sec1, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		pem     string
		wantErr string
	}{
		{"PKCS #8", string(keyPEM), ""},
		{"SEC 1 after a certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" + pemString("EC PRIVATE KEY", sec1), ""},
		{"encrypted", pemString("ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}), "encrypted"},
		{"empty", "", "no PEM private key"},
		{"broken SEC 1", pemString("EC PRIVATE KEY", []byte{1, 2, 3}), "cannot read the ec private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseKey([]byte(tt.pem))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.(*ecdsa.PrivateKey).Equal(ec) {
				t.Error("a different key")
			}
		})
	}
}
