package provision

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"github.com/redisctl/redisctl/provision/inventory"
)

// ConnectInfo is what a client needs to reach the cluster through its
// sentinels. It comes from the inventory alone: no host is contacted.
type ConnectInfo struct {
	MasterName string   `json:"master_name"`
	Sentinels  []string `json:"sentinels"` // host:port, inventory order
	TLS        bool     `json:"tls"`
	CAFile     string   `json:"ca_file"` // "" while TLS is off
	// PlaintextPort is the data nodes' plaintext port beside TLS
	// (tls.plaintext), for clients that connect to a node directly while
	// they move to TLS: the sentinels name only TLS ports.
	PlaintextPort int    `json:"plaintext_port,omitempty"`
	User          string `json:"user"`
	// PasswordFile is where the generated password is stored on this
	// machine ("" when the inventory gives it).
	PasswordFile string `json:"password_file,omitempty"`
	// Password is set only when asked for (--show-secrets).
	Password string `json:"password,omitempty"`
	// SentinelPasswordFile and SentinelPassword are the sentinels'
	// password (the cluster password) when it is not the user's: on a
	// cluster with ACL users. SentinelPassword only with --show-secrets.
	SentinelPasswordFile string `json:"sentinel_password_file,omitempty"`
	SentinelPassword     string `json:"sentinel_password,omitempty"`
	// SeparateSentinelPassword: the sentinels take another password than
	// the data nodes (a cluster with ACL users).
	SeparateSentinelPassword bool `json:"separate_sentinel_password,omitempty"`
}

// ConnectInfoForUser builds the connection details of inv for one user of
// a cluster with ACL users: an application user of the inventory, or
// default when the inventory keeps it; "" means the first application
// user. Without ACL users the only user is default. With showSecret the
// stored (or inventory) password is included, else it never is.
func ConnectInfoForUser(inv *inventory.Inventory, user string, showSecret bool) (*ConnectInfo, error) {
	ci := &ConnectInfo{MasterName: inv.Name, User: "default", TLS: inv.TLS.Enabled, PlaintextPort: inv.TLS.DataPlaintextPort()}
	if ci.TLS {
		ci.CAFile = inv.TLS.CAFile
		if inv.TLS.Generated() {
			dir, err := caDir(inv)
			if err != nil {
				return nil, err
			}
			ci.CAFile = filepath.Join(dir, inv.Name+".ca.crt")
		}
	}
	for _, h := range inv.SentinelHosts() {
		ci.Sentinels = append(ci.Sentinels, net.JoinHostPort(h.Address, strconv.Itoa(inv.Sentinel.Port)))
	}
	if inv.Redis.ACL() {
		return ci.forACLUser(inv, user, showSecret)
	}
	if user != "" && user != "default" {
		return nil, fmt.Errorf("%s: the cluster has no ACL users (redis.users): its only user is default", inv.File)
	}
	if inv.Redis.Password == "" {
		ci.PasswordFile = PasswordFile(inv)
	}
	if showSecret {
		sp, err := LoadPassword(inv, false)
		if err != nil {
			return nil, err
		}
		ci.Password = sp.Password
		if sp.File != "" {
			ci.PasswordFile = sp.File
		}
	}
	return ci, nil
}

// forACLUser fills ci for an application user of an ACL cluster.
func (ci *ConnectInfo) forACLUser(inv *inventory.Inventory, user string, showSecret bool) (*ConnectInfo, error) {
	ci.SeparateSentinelPassword = true
	if inv.Redis.Password == "" {
		ci.SentinelPasswordFile = PasswordFile(inv)
	}
	if showSecret {
		sp, err := LoadPassword(inv, false)
		if err != nil {
			return nil, err
		}
		ci.SentinelPassword = sp.Password
	}
	if user == "" && len(inv.Redis.Users) > 0 {
		user = inv.Redis.Users[0].Name
	}
	if user == "" || user == "default" {
		if !inv.Redis.DefaultUser {
			return nil, fmt.Errorf("%s: the default user is off and there is no application user: add one under redis.users (redisctl's own users are not for applications)", inv.File)
		}
		ci.User, ci.PasswordFile, ci.Password = "default", ci.SentinelPasswordFile, ci.SentinelPassword
		return ci, nil
	}
	for _, u := range inv.Redis.Users {
		if u.Name != user {
			continue
		}
		ci.User = u.Name
		if u.Password == "" {
			ci.PasswordFile = UserPasswordFile(inv, u.Name)
		}
		if showSecret {
			ci.Password = u.Password
			if ci.Password == "" {
				pw, err := readPasswordFile(ci.PasswordFile)
				if err != nil {
					return nil, fmt.Errorf("user %s: %w (run redisctl up first)", u.Name, err)
				}
				ci.Password = pw
			}
		}
		return ci, nil
	}
	return nil, fmt.Errorf("%s: no application user %s under redis.users", inv.File, user)
}
