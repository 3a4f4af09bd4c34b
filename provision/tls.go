package provision

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/redisx"
	"github.com/redisctl/redisctl/provision/render"
	"github.com/redisctl/redisctl/provision/tlsca"
)

// clusterTLS is what one run knows of a TLS cluster's certificates: the
// cluster CA redisctl keeps (tls without files in the inventory) or the
// operator's files, and the TLS settings of redisctl's own connections.
type clusterTLS struct {
	// ca signs the host certificates redisctl makes; nil with the
	// operator's files. In plan before the first up it is a stand-in that
	// is never saved (standIn).
	ca      *tlsca.CA
	standIn bool
	// files are the operator's files, by host name.
	files map[string]*tlsca.Files
	caPEM []byte
	// client is the base of every connection redisctl opens: the cluster
	// CA as the only root, and a client certificate unless client_auth is
	// no.
	client *tls.Config

	// pending are the servers up has yet to switch to what the inventory
	// says: running without TLS on a TLS cluster, or with TLS on a cluster
	// going back to plaintext. redisctl reaches them as they run until
	// they switch. Set once, before any client is opened, from the facts;
	// changed only by the switch, which closes the server's client as it
	// does.
	pending map[serverKey]bool

	mu sync.Mutex
	// expiry is when the certificate each server presented ends, by
	// address, as seen in this run's handshakes.
	expiry map[string]time.Time
}

// caDir is where the generated CA is kept: beside the cluster's password
// file.
func caDir(inv *inventory.Inventory) (string, error) {
	file := PasswordFile(inv)
	if file == "" {
		return "", fmt.Errorf("%s: the cluster name %q cannot name the CA's files; set redis.password_file, beside which the CA is kept", inv.File, inv.Name)
	}
	return filepath.Dir(file), nil
}

// loadTLS reads the cluster's CA (or the operator's files) and makes the
// TLS settings of redisctl's connections; it does nothing without TLS. up
// (create) makes the CA on its first run; plan (standIn) shows the
// certificates up would make with a CA it does not keep; the other
// commands need the CA up made.
//
// Without TLS in the inventory it still loads the CA when the facts show
// servers that run with TLS: up switches them back, and reaches them over
// TLS until it has.
func (c *Cluster) loadTLS(create, standIn bool) error {
	c.TLS = nil
	t := c.Inv.TLS
	pending := c.pendingTLSSwitch()
	if !t.Enabled && len(pending) == 0 {
		return nil
	}
	if !t.Enabled {
		create = false // the CA that signed what runs: found, never made
	}
	ct := &clusterTLS{expiry: map[string]time.Time{}, pending: pending}
	var clientCert []tls.Certificate
	if t.Generated() {
		dir, err := caDir(c.Inv)
		if err != nil {
			return err
		}
		var ca *tlsca.CA
		switch {
		case create:
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return fmt.Errorf("TLS: %w", err)
			}
			var made bool
			if ca, made, err = tlsca.LoadOrCreateCA(dir, c.Inv.Name); err != nil {
				return fmt.Errorf("TLS: %w", err)
			}
			if made {
				c.P.Printf("", "made the cluster CA %s; its key %s stays on this machine (keep it safe: it signs every host's certificate)", ca.CertFile, ca.KeyFile)
			}
		default:
			var ok bool
			if ca, ok, err = tlsca.LoadCA(dir, c.Inv.Name); err != nil {
				return fmt.Errorf("TLS: %w", err)
			}
			if !ok && !t.Enabled {
				return fmt.Errorf("servers of the cluster run with TLS, and switching them back to plaintext needs the cluster CA %s to reach them, "+
					"which does not exist on this machine (with your own files, keep them in the tls section, with enabled: false)", filepath.Join(dir, c.Inv.Name+".ca.crt"))
			}
			if !ok && !standIn {
				return fmt.Errorf("TLS is on (tls.enabled), but the cluster CA %s does not exist on this machine: run redisctl up, which makes it, or run where it is",
					filepath.Join(dir, c.Inv.Name+".ca.crt"))
			}
			if !ok {
				if ca, err = tlsca.StandInCA(c.Inv.Name); err != nil {
					return fmt.Errorf("TLS: %w", err)
				}
				ct.standIn = true
			}
		}
		ct.ca, ct.caPEM = ca, ca.CertPEM
		if t.ClientAuth != "no" {
			// redisctl's own client certificate: made for this run, in
			// memory only.
			certPEM, keyPEM, err := ca.Issue("redisctl", nil, time.Now())
			if err != nil {
				return fmt.Errorf("TLS: %w", err)
			}
			pair, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				return fmt.Errorf("TLS: redisctl's client certificate: %w", err)
			}
			clientCert = []tls.Certificate{pair}
		}
	} else {
		ct.files = map[string]*tlsca.Files{}
		for i := range c.Inv.Hosts {
			h := &c.Inv.Hosts[i]
			f, err := loadHostFiles(c.Inv, h)
			if err != nil {
				return err
			}
			ct.files[h.Name] = f
			if ct.caPEM == nil {
				ct.caPEM = f.CAPEM
				if t.ClientAuth != "no" {
					pair, err := tls.X509KeyPair(f.CertPEM, f.KeyPEM)
					if err != nil {
						return fmt.Errorf("%s: tls: %w", h.Name, err)
					}
					clientCert = []tls.Certificate{pair}
				}
			}
		}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ct.caPEM) {
		return errors.New("TLS: the CA certificate holds no certificate")
	}
	ct.client = &tls.Config{RootCAs: pool, Certificates: clientCert, MinVersion: tls.VersionTLS12}
	c.TLS = ct
	return nil
}

// pendingTLSSwitch are the running servers whose config has TLS when the
// inventory has not, or the reverse, as the facts show (none without
// facts: commands other than up take the inventory's word).
func (c *Cluster) pendingTLSSwitch() map[serverKey]bool {
	pending := map[serverKey]bool{}
	for _, n := range c.Nodes {
		f := n.Facts
		if f == nil {
			continue
		}
		if f.RedisPid > 0 && f.RedisConfTLS != c.Inv.TLS.Enabled {
			pending[serverKey{n, false}] = true
		}
		if n.Spec.Sentinel && f.SentinelPid > 0 && f.SentinelConfTLS != c.Inv.TLS.Enabled {
			pending[serverKey{n, true}] = true
		}
	}
	return pending
}

// loadHostFiles reads and checks the operator's files for host h: the key
// is the certificate's, the certificate is valid through the CA for h's
// address (what redisctl and clients verify), and, unless client_auth is
// no, for client use too, as replicas and sentinels present it to others.
func loadHostFiles(inv *inventory.Inventory, h *inventory.Host) (*tlsca.Files, error) {
	t := inv.TLS
	f, err := tlsca.LoadFiles(t.CAFile, tlsca.ExpandHost(t.CertFile, h.Name), tlsca.ExpandHost(t.KeyFile, h.Name))
	if err != nil {
		return nil, fmt.Errorf("%s: tls: %w", h.Name, err)
	}
	if err := tlsca.Verify(f.CertPEM, f.CAPEM, h.Address); err != nil {
		return nil, fmt.Errorf("%s: tls: certificate file %s: %w", h.Name, f.CertFile, err)
	}
	if !f.ClientAuth && t.ClientAuth != "no" {
		return nil, fmt.Errorf("%s: tls: certificate file %s is for servers only, but replicas and sentinels present it when they connect "+
			"and tls.client_auth is %s: use a certificate that allows client authentication too, or set client_auth: no", h.Name, f.CertFile, t.ClientAuth)
	}
	return f, nil
}

// tlsPaths are the files of a host's TLS directory, which planFiles reads
// along with the rest: to compare them, and to keep a generated
// certificate that is still good.
func (c *Cluster) tlsPaths() []string {
	if c.TLS == nil {
		return nil
	}
	return []string{path.Join(c.Layout.TLSDir, inventory.TLSCAFile), path.Join(c.Layout.TLSDir, inventory.TLSCertFile), path.Join(c.Layout.TLSDir, inventory.TLSKeyFile)}
}

// hostTLSFiles decides the TLS files of n: the operator's, or the
// generated certificate and key that are on the host (onHost) while they
// are good, and a new pair from the cluster CA when there is none, it
// was signed by another CA, names other addresses or has less than 30
// days left (said in the progress output).
func (c *Cluster) hostTLSFiles(n *Node, onHost map[string][]byte) (*render.TLSFiles, error) {
	ct := c.TLS
	if ct == nil || !c.Inv.TLS.Enabled {
		return nil, nil
	}
	if ct.ca == nil {
		f := ct.files[n.Spec.Name]
		return &render.TLSFiles{CA: f.CAPEM, Cert: f.CertPEM, Key: f.KeyPEM}, nil
	}
	certPEM := onHost[path.Join(c.Layout.TLSDir, inventory.TLSCertFile)]
	keyPEM := onHost[path.Join(c.Layout.TLSDir, inventory.TLSKeyFile)]
	now := time.Now()
	if len(certPEM) > 0 {
		reason, renew := tlsca.NeedsRenewal(certPEM, now, n.Spec.Name, []string{n.Spec.Address}, ct.ca.Cert)
		if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil && !renew {
			reason, renew = "the key on the host is not the certificate's", true
		}
		if !renew {
			return &render.TLSFiles{CA: ct.caPEM, Cert: certPEM, Key: keyPEM}, nil
		}
		if !ct.standIn {
			c.P.Printf(n.Spec.Name, "a new certificate: %s", reason)
		}
	}
	certPEM, keyPEM, err := ct.ca.Issue(n.Spec.Name, []string{n.Spec.Address}, now)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.Spec.Name, err)
	}
	return &render.TLSFiles{CA: ct.caPEM, Cert: certPEM, Key: keyPEM}, nil
}

// dialServer is how redisctl reaches one of n's servers (its sentinel, or
// its data node): through n's SSH connection, with TLS when the server
// speaks it (see speaksTLS).
func (c *Cluster) dialServer(n *Node, sentinel bool) redisx.Dialer {
	if !c.SpeaksTLS(n, sentinel) {
		return n.Host.Dial
	}
	return redisx.TLS(n.Host.Dial, c.TLS.client, c.TLS.seen)
}

// serverKey names one server of a node.
type serverKey struct {
	node     *Node
	sentinel bool
}

// seen records the end of the certificate a server presented.
func (ct *clusterTLS) seen(addr string, st tls.ConnectionState) {
	if len(st.PeerCertificates) == 0 {
		return
	}
	ct.mu.Lock()
	defer ct.mu.Unlock()
	ct.expiry[addr] = st.PeerCertificates[0].NotAfter
}

// certExpiry is when the certificate of the server at addr ends, as its
// last handshake in this run showed; ok is false without one.
func (c *Cluster) certExpiry(addr string) (time.Time, bool) {
	if c.TLS == nil {
		return time.Time{}, false
	}
	c.TLS.mu.Lock()
	defer c.TLS.mu.Unlock()
	t, ok := c.TLS.expiry[addr]
	return t, ok
}

// SpeaksTLS reports whether n's data node (or sentinel) speaks TLS now:
// as the inventory says, unless up has yet to switch it.
func (c *Cluster) SpeaksTLS(n *Node, sentinel bool) bool {
	if c.TLS == nil {
		return false
	}
	c.TLS.mu.Lock()
	defer c.TLS.mu.Unlock()
	return c.Inv.TLS.Enabled != c.TLS.pending[serverKey{n, sentinel}]
}

// SwitchPending reports whether n's data node (or sentinel) still runs
// the other way than the inventory says (with TLS or without).
func (c *Cluster) SwitchPending(n *Node, sentinel bool) bool {
	if c.TLS == nil {
		return false
	}
	c.TLS.mu.Lock()
	defer c.TLS.mu.Unlock()
	return c.TLS.pending[serverKey{n, sentinel}]
}

// renderTLS is how n's config of one server is rendered: as it runs while
// its switch is pending, else as the inventory says.
func (c *Cluster) renderTLS(n *Node, sentinel bool) render.TLSMode {
	switch {
	case !c.SwitchPending(n, sentinel):
		return render.TLSAsInventory
	case c.Inv.TLS.Enabled:
		return render.TLSOff
	}
	return render.TLSOn
}

// Switched records that n's data node (or sentinel) now runs as the
// inventory says, and drops its client, which spoke the other way.
func (c *Cluster) Switched(n *Node, sentinel bool) {
	c.TLS.mu.Lock()
	delete(c.TLS.pending, serverKey{n, sentinel})
	c.TLS.mu.Unlock()
	c.forgetClient(n, sentinel)
}
