package render

import (
	"fmt"
	"path"
	"strconv"

	"github.com/redisctl/redisctl/provision/acl"
	"github.com/redisctl/redisctl/provision/inventory"
)

// Credentials are the secrets of a cluster with ACL users (the inventory's
// redis.users or redis.default_user, see inventory.Redis.ACL): the
// passwords of redisctl's own users and of the application users, filled
// in by the caller from the inventory and the files it generated. The
// cluster password (inventory.Redis.Password) stays the sentinels'
// password, and the default user's when the inventory keeps it.
type Credentials struct {
	Admin       string // redisctl itself
	Replication string // replicas on their master (masteruser)
	Sentinel    string // sentinels on the data nodes (sentinel auth-user)
	// Users holds the application users' passwords, by name.
	Users map[string]string
}

// ACLFile is where a data node's users live: beside redis.conf, named
// after the port like it, owned by redis (ACL SAVE writes it).
func ACLFile(inv *inventory.Inventory) string {
	return path.Join(inv.Layout().ConfDir, "users_"+strconv.Itoa(inv.Redis.Port)+".acl")
}

// ACLUsers are the users every data node of an ACL cluster has: the
// default user (off, unless the inventory keeps it, then with the cluster
// password and every right), redisctl's admin, replication and sentinel
// users, and the application users. Only password hashes are kept.
func ACLUsers(inv *inventory.Inventory, cr *Credentials) ([]acl.User, error) {
	if cr == nil {
		return nil, fmt.Errorf("no credentials for the ACL users")
	}
	for _, p := range []struct{ who, pw string }{
		{acl.Admin, cr.Admin}, {acl.Replication, cr.Replication}, {acl.Sentinel, cr.Sentinel},
	} {
		if p.pw == "" {
			return nil, fmt.Errorf("no password for user %s", p.who)
		}
	}
	var def acl.User
	if inv.Redis.DefaultUser {
		if inv.Redis.Password == "" {
			return nil, fmt.Errorf("no password for the default user (the cluster password)")
		}
		def = acl.DefaultUser(true, acl.HashPassword(inv.Redis.Password))
	} else {
		def = acl.DefaultUser(false)
	}
	users := []acl.User{
		def,
		acl.AdminUser(acl.HashPassword(cr.Admin)),
		acl.ReplicationUser(acl.HashPassword(cr.Replication)),
		acl.SentinelUser(acl.HashPassword(cr.Sentinel)),
	}
	for _, u := range inv.Redis.Users {
		pw := cr.Users[u.Name]
		if pw == "" {
			return nil, fmt.Errorf("no password for user %s", u.Name)
		}
		au, err := acl.NewAppUser(u.Name, u.Rules, acl.HashPassword(pw))
		if err != nil {
			if u.Line > 0 {
				return nil, fmt.Errorf("%s:%d: redis.users: %w", inv.File, u.Line, err)
			}
			return nil, err
		}
		users = append(users, au)
	}
	return users, nil
}

// Password is the password of user name: one of redisctl's users or an
// application user; "" for any other name.
func (cr *Credentials) Password(name string) string {
	switch name {
	case acl.Admin:
		return cr.Admin
	case acl.Replication:
		return cr.Replication
	case acl.Sentinel:
		return cr.Sentinel
	}
	return cr.Users[name]
}
