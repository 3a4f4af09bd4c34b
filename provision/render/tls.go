package render

import (
	"path"

	"github.com/redisctl/redisctl/provision/inventory"
)

// TLSConf is what a TLS cluster's redis.conf and sentinel.conf say about
// TLS: the host's files and tls-auth-clients. Port becomes tls-port, port
// 0 closes the plaintext one, and tls-replication yes makes replicas and
// sentinels connect over TLS too (for a sentinel it also means its own
// port, which the other sentinels reach, is TLS).
type TLSConf struct {
	CertFile    string
	KeyFile     string
	CAFile      string
	AuthClients string // yes, optional or no
	// PlaintextPort, on a data node, is a plaintext port kept open beside
	// the TLS one (tls.plaintext); 0 closes it. Sentinels have none.
	PlaintextPort int
}

// NewTLSConf is the TLS part of a host's configs, or nil when the cluster
// does not use TLS.
func NewTLSConf(inv *inventory.Inventory) *TLSConf {
	if !inv.TLS.Enabled {
		return nil
	}
	return tlsConf(inv)
}

// TLSMode is whether a config is rendered with TLS.
type TLSMode int

// TLS modes of HostOptions.
const (
	TLSAsInventory TLSMode = iota // tls.enabled decides
	TLSOff                        // without TLS, whatever the inventory says
	TLSOn                         // with TLS, whatever the inventory says
)

// tlsFor is the TLS part of a config in mode m.
func tlsFor(inv *inventory.Inventory, m TLSMode) *TLSConf {
	switch m {
	case TLSOff:
		return nil
	case TLSOn:
		return tlsConf(inv)
	}
	return NewTLSConf(inv)
}

// tlsConf is the TLS part of a host's configs, enabled or not.
func tlsConf(inv *inventory.Inventory) *TLSConf {
	l := inv.Layout()
	auth := inv.TLS.ClientAuth
	if auth == "" {
		auth = inventory.DefaultClientAuth
	}
	return &TLSConf{
		CertFile:    path.Join(l.TLSDir, inventory.TLSCertFile),
		KeyFile:     path.Join(l.TLSDir, inventory.TLSKeyFile),
		CAFile:      path.Join(l.TLSDir, inventory.TLSCAFile),
		AuthClients: auth,
	}
}

// TLSFiles are the PEM contents of one host's TLS files.
type TLSFiles struct {
	CA, Cert, Key []byte
}

// tlsFiles returns the files of a host's TLS directory: the CA and the
// certificate readable by all (they are public), the key 0640 root:redis,
// readable by the servers and secret.
func tlsFiles(inv *inventory.Inventory, f *TLSFiles) []File {
	c := NewTLSConf(inv)
	if c == nil || f == nil {
		return nil
	}
	return []File{
		{Path: c.CAFile, Mode: 0o644, Owner: RedisUser + ":" + RedisUser, Data: f.CA},
		{Path: c.CertFile, Mode: 0o644, Owner: RedisUser + ":" + RedisUser, Data: f.Cert},
		{Path: c.KeyFile, Mode: 0o640, Owner: "root:" + RedisUser, Data: f.Key, Secret: true},
	}
}
