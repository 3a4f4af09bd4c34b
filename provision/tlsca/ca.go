package tlsca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// clockSkew is how far back a new certificate's NotBefore is set, so a host
// whose clock runs a little behind the control machine's accepts it at once.
const clockSkew = time.Minute

// CA is a cluster's certificate authority as kept on the control machine.
// Its private key is unexported and no method returns it: the key signs host
// certificates here and is never uploaded.
type CA struct {
	Cert     *x509.Certificate
	CertPEM  []byte // what hosts and clients trust: ca.crt on each host
	CertFile string // <dir>/<cluster>.ca.crt
	KeyFile  string // <dir>/<cluster>.ca.key, mode 0600

	key crypto.Signer
}

// LoadOrCreateCA returns the CA of cluster clusterName kept in dir, making
// one when neither of its files exists: an ECDSA P-256 key and a
// self-signed certificate valid for 10 years, long enough to outlive the
// cluster's host certificates several times over, since replacing a CA means
// touching every host and every client's trust. created reports that it was
// made, so the caller can say where, once.
//
// The key file must be a regular file owned by the current user with no
// group or other permission bits: whoever can read it can mint certificates
// every node and client of the cluster trusts, and whoever can replace it
// (through a link, or as its owner) can make redisctl sign with their key.
// One of the two files without the other is an error rather than a new CA,
// because a new CA silently distrusts every certificate issued so far. Two
// runs making the CA at once end with one CA: the later loads the earlier's.
func LoadOrCreateCA(dir, clusterName string) (ca *CA, created bool, err error) {
	certFile, keyFile, certThere, keyThere, err := caFiles(dir, clusterName)
	if err != nil {
		return nil, false, err
	}
	switch {
	case certThere && keyThere:
		ca, err := loadCA(certFile, keyFile)
		return ca, false, err
	case keyThere:
		return nil, false, fmt.Errorf("CA key %s exists but its certificate %s does not: restore the certificate, "+
			"or remove the key to make a new CA (every host certificate is then issued again)", keyFile, certFile)
	case certThere:
		return nil, false, fmt.Errorf("CA certificate %s exists but its key %s does not, and a CA cannot sign without its key: "+
			"restore the key, or remove the certificate to make a new CA (every host certificate is then issued again)", certFile, keyFile)
	}

	made, keyPEM, err := newCA(clusterName, time.Now())
	if err != nil {
		return nil, false, err
	}
	placed, err := writeCA(dir, certFile, made.CertPEM, keyFile, keyPEM)
	if err != nil {
		return nil, false, err
	}
	// Read back what is on disk, ours or, when another run placed its key
	// first, the other run's CA, so two runs never go on with two CAs.
	ca, err = loadCA(certFile, keyFile)
	return ca, err == nil && placed, err
}

// checkClusterName refuses a cluster name that would not stay one file name
// in dir. The inventory validates names; this holds whatever the caller
// passes.
func checkClusterName(name string) error {
	if name == "" || name == "." || strings.Contains(name, "..") || strings.ContainsAny(name, "/\\\x00") {
		return fmt.Errorf("cluster name %q cannot name a file: it is empty or holds a slash or \"..\"", name)
	}
	return nil
}

// present reports whether name exists, a dangling link included, so a link
// where the key belongs is refused by loadCA rather than written through.
func present(name string) (bool, error) {
	_, err := os.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look for %s: %w", name, err)
	}
	return true, nil
}

// newCA makes a CA valid from now, and its key in PEM for writeCA.
func newCA(clusterName string, now time.Time) (*CA, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// The cluster name in the subject tells a person trusting several
		// clusters' CAs which one this is.
		Subject:               pkix.Name{CommonName: "redisctl CA " + clusterName, Organization: []string{"redisctl"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// Host certificates only: no intermediate CA can be made under it.
		MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("make CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := marshalKey(key)
	if err != nil {
		return nil, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return &CA{Cert: cert, CertPEM: certPEM, key: key}, keyPEM, nil
}

// randomSerial returns a random positive 128-bit serial number: unique
// without keeping a counter, and unpredictable, which RFC 5280 and the
// CA/Browser Forum ask for.
func randomSerial() (*big.Int, error) {
	b := make([]byte, 16)
	for {
		if _, err := io.ReadFull(rand.Reader, b); err != nil {
			return nil, fmt.Errorf("generate serial number: %w", err)
		}
		if n := new(big.Int).SetBytes(b); n.Sign() > 0 {
			return n, nil
		}
	}
}

// marshalKey encodes key as PKCS #8 ("PRIVATE KEY"), which OpenSSL, and so
// Redis, reads whatever the key type.
func marshalKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// writeCA puts the CA's files in place, the key first and only where there
// is none: of two runs making the cluster's CA at once, one places its key
// and certificate and the other (placed false) writes nothing, so the files
// on disk are always one pair. Each file is written in full to a temporary
// file first, so a reader never sees half a file. A key file without its
// certificate is what a crash between the two leaves; LoadOrCreateCA says
// so.
func writeCA(dir, certFile string, certPEM []byte, keyFile string, keyPEM []byte) (placed bool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("make CA directory: %w", err)
	}
	keyTmp, err := writeTemp(dir, keyFile, keyPEM, 0o600)
	if err != nil {
		return false, err
	}
	defer os.Remove(keyTmp)
	certTmp, err := writeTemp(dir, certFile, certPEM, 0o644)
	if err != nil {
		return false, err
	}
	defer os.Remove(certTmp)

	// A hard link is a rename that never replaces.
	err = os.Link(keyTmp, keyFile)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		// A file system without hard links: rename, which would replace
		// a key another run placed meanwhile; the read back then finds
		// the certificate not matching and says so.
		if err := os.Rename(keyTmp, keyFile); err != nil {
			return false, fmt.Errorf("write CA key: %w", err)
		}
	}
	if err := os.Rename(certTmp, certFile); err != nil {
		return false, fmt.Errorf("write CA certificate: %w", err)
	}
	syncDir(dir)
	return true, nil
}

// writeTemp writes data to a new file beside final and returns its name.
// os.CreateTemp opens with O_EXCL and mode 0600, so the file is never
// readable by others, not even before the chmod, and a link planted under
// the temporary name is refused rather than followed. The chmod sets mode
// whatever the umask.
func writeTemp(dir, final string, data []byte, mode fs.FileMode) (string, error) {
	f, err := os.CreateTemp(dir, "."+filepath.Base(final)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", final, err)
	}
	tmp := f.Name()
	err = f.Chmod(mode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("write %s: %w", final, err)
	}
	return tmp, nil
}

// syncDir makes the renames in dir durable. A failure only weakens
// durability after a crash, so it is not reported.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// loadCA reads the CA's files, checking the key file first (see
// LoadOrCreateCA) and that the key is the certificate's.
func loadCA(certFile, keyFile string) (*CA, error) {
	keyPEM, err := readKeyFile(keyFile, os.Getuid())
	if err != nil {
		return nil, err
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("CA key %s: %w", keyFile, err)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("read CA certificate: %w", err)
	}
	certs, err := parseCerts(certPEM)
	if err != nil {
		return nil, fmt.Errorf("CA certificate %s: %w", certFile, err)
	}
	cert := certs[0]
	if !cert.BasicConstraintsValid || !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("CA certificate %s is not a CA certificate (it cannot sign certificates)", certFile)
	}
	if !keyMatches(key, cert) {
		return nil, fmt.Errorf("CA key %s does not match CA certificate %s: they are from different key pairs; "+
			"restore the pair that belongs together", keyFile, certFile)
	}
	return &CA{Cert: cert, CertPEM: certPEM, CertFile: certFile, KeyFile: keyFile, key: key}, nil
}

// readKeyFile reads the CA key file after checkKeyFile accepts it. The
// checks are made on the opened file, which is opened without following a
// link, so the file read is the file checked.
func readKeyFile(name string, uid int) ([]byte, error) {
	fi, err := os.Lstat(name)
	if err != nil {
		return nil, fmt.Errorf("read CA key: %w", err)
	}
	if err := checkKeyFile(name, fi, uid); err != nil {
		return nil, err
	}
	f, err := openNoFollow(name)
	if err != nil {
		return nil, fmt.Errorf("read CA key: %w", err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("read CA key: %w", err)
	}
	if err := checkKeyFile(name, fi, uid); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read CA key %s: %w", name, err)
	}
	return data, nil
}

// checkKeyFile refuses a CA key file that is a link, not a regular file,
// open to the group or others, or owned by someone other than uid.
func checkKeyFile(name string, fi fs.FileInfo, uid int) error {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("CA key %s is a symbolic link: redisctl reads the CA key only from a regular file, "+
			"so nobody can point it at another key; put the key itself there", name)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("CA key %s is not a regular file", name)
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("CA key %s has mode %04o: its group or others may read or change it, and whoever reads it can make certificates the cluster trusts; "+
			"run chmod 600 %s (and make a new CA if others may have read it)", name, fi.Mode().Perm(), name)
	}
	if owner, ok := fileOwner(fi); ok && owner != uid {
		return fmt.Errorf("CA key %s is owned by uid %d, not by the current user (uid %d): its owner could replace it; "+
			"chown it to the user who runs redisctl", name, owner, uid)
	}
	return nil
}

// parseKey reads the first private key in keyPEM: PKCS #8, SEC 1 ("EC
// PRIVATE KEY") or PKCS #1 ("RSA PRIVATE KEY"), the forms OpenSSL writes.
func parseKey(keyPEM []byte) (crypto.Signer, error) {
	for rest := keyPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no PEM private key in it")
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("the private key is encrypted; give it unencrypted (openssl pkey -in FILE -out FILE)")
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cannot read the %s: %w", strings.ToLower(block.Type), err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("a %T cannot sign", key)
		}
		return signer, nil
	}
}

// keyMatches reports whether key is the private half of cert's public key.
func keyMatches(key crypto.Signer, cert *x509.Certificate) bool {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}

// parseCerts returns every certificate in data, in order; other PEM blocks
// are skipped. It fails when there is none.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("cannot read certificate %d in it: %w", len(certs)+1, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate in it")
	}
	return certs, nil
}

// StandInCA makes a CA that is not saved anywhere, for plan on a cluster
// whose CA does not exist yet: plan shows the certificates up would issue
// without leaving a CA behind. Nothing it signs is ever uploaded.
func StandInCA(clusterName string) (*CA, error) {
	if err := checkClusterName(clusterName); err != nil {
		return nil, err
	}
	ca, _, err := newCA(clusterName, time.Now())
	return ca, err
}

// LoadCA returns the CA of cluster clusterName kept in dir, without making
// one; ok is false when neither of its files exists.
func LoadCA(dir, clusterName string) (ca *CA, ok bool, err error) {
	certFile, keyFile, certThere, keyThere, err := caFiles(dir, clusterName)
	if err != nil {
		return nil, false, err
	}
	if !certThere && !keyThere {
		return nil, false, nil
	}
	if !certThere || !keyThere {
		// LoadOrCreateCA's messages say which is missing and what to do.
		ca, _, err := LoadOrCreateCA(dir, clusterName)
		return ca, err == nil, err
	}
	ca, err = loadCA(certFile, keyFile)
	return ca, err == nil, err
}

// caFiles names the CA files of cluster clusterName in dir and says which
// exist.
func caFiles(dir, clusterName string) (certFile, keyFile string, certThere, keyThere bool, err error) {
	if err := checkClusterName(clusterName); err != nil {
		return "", "", false, false, err
	}
	certFile = filepath.Join(dir, clusterName+".ca.crt")
	keyFile = filepath.Join(dir, clusterName+".ca.key")
	if certThere, err = present(certFile); err != nil {
		return "", "", false, false, err
	}
	if keyThere, err = present(keyFile); err != nil {
		return "", "", false, false, err
	}
	return certFile, keyFile, certThere, keyThere, nil
}
