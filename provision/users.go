package provision

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/redisctl/redisctl/provision/acl"
	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/redisx"
	"github.com/redisctl/redisctl/provision/render"
)

// UserPasswordFile is where the generated password of ACL user name is
// kept on the control machine: beside the cluster's password file, named
// after it and the user ("<name>.admin.password"). "" when the cluster has
// no password file name (see PasswordFile).
func UserPasswordFile(inv *inventory.Inventory, name string) string {
	pf := PasswordFile(inv)
	if pf == "" {
		return ""
	}
	base := strings.TrimSuffix(filepath.Base(pf), ".password")
	return filepath.Join(filepath.Dir(pf), base+"."+name+".password")
}

// loadCredentials returns the passwords of an ACL cluster's users (nil for
// a cluster without users): the inventory's for application users that
// give one, else the stored generated one, generated and stored (0600) when
// create is true. standIn, for a plan, makes up the ones not stored yet
// instead of failing, and says what up would generate. Passwords are never
// printed; notes say which files were made.
func loadCredentials(inv *inventory.Inventory, create, standIn bool) (cr *render.Credentials, st storedSecrets, notes []string, err error) {
	if !inv.Redis.ACL() {
		return nil, st, nil, nil
	}
	cr = &render.Credentials{Users: map[string]string{}}
	st.Pending = map[string]string{}
	get := func(name string) (string, error) {
		file := UserPasswordFile(inv, name)
		if file == "" {
			return "", fmt.Errorf("user %s: cluster name %q cannot name a password file", name, inv.Name)
		}
		pw, err := readPasswordFile(file)
		if err == nil {
			if name == acl.Admin {
				st.adminLogin = pw
			}
			// A rotation rotate-password began: the new password is
			// the one wanted; the file keeps the old one until it ends.
			next, nerr := readPasswordFile(file + ".new")
			switch {
			case nerr == nil:
				st.Pending[name] = file
				return next, nil
			case !errors.Is(nerr, fs.ErrNotExist):
				return "", nerr
			}
			return pw, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		switch {
		case create:
			if pw, err = GeneratePassword(40); err != nil {
				return "", err
			}
			if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
				return "", err
			}
			if err := writeNewPasswordFile(file, pw); errors.Is(err, fs.ErrExist) {
				return readPasswordFile(file) // another run stored it first
			} else if err != nil {
				return "", fmt.Errorf("store generated password of user %s: %w", name, err)
			}
			notes = append(notes, fmt.Sprintf("generated a password for user %s and stored it in %s (mode 0600); keep that file", name, file))
			if name == acl.Admin {
				st.adminLogin = pw
			}
			return pw, nil
		case standIn:
			notes = append(notes, fmt.Sprintf("generate a password for user %s and store it in %s", name, file))
			return GeneratePassword(40)
		}
		return "", fmt.Errorf("no password for user %s: %s does not exist (run redisctl up first)", name, file)
	}
	for _, b := range []struct {
		name string
		dst  *string
	}{{acl.Admin, &cr.Admin}, {acl.Replication, &cr.Replication}, {acl.Sentinel, &cr.Sentinel}} {
		if *b.dst, err = get(b.name); err != nil {
			return nil, st, notes, err
		}
	}
	for _, u := range inv.Redis.Users {
		pw := u.Password
		if pw == "" {
			if pw, err = get(u.Name); err != nil {
				return nil, st, notes, err
			}
		}
		cr.Users[u.Name] = pw
	}
	return cr, st, notes, nil
}

// storedSecrets is what loadCredentials found of rotations under way.
type storedSecrets struct {
	// adminLogin is the admin password the servers surely accept: the
	// stored one, which a rotation replaces only once every server
	// accepts the new one too.
	adminLogin string
	// Pending maps users with a new password waiting (<file>.new) to the
	// file it replaces when the rotation ends; "default" is the cluster
	// password.
	Pending map[string]string
	// ClusterLogin is the stored cluster password while a new one waits.
	ClusterLogin string
}

// UseSecrets sets the cluster password and, for an ACL cluster, loads the
// users' passwords (see loadCredentials) for clients and rendering.
func (c *Cluster) UseSecrets(pw string, create, standIn bool) ([]string, error) {
	c.SetPassword(pw)
	cr, st, notes, err := loadCredentials(c.Inv, create, standIn)
	if err != nil {
		return notes, err
	}
	c.Creds, c.Stored = cr, st
	if err := c.loadTLS(create, standIn); err != nil {
		return notes, err
	}
	if create || standIn {
		// up: a new cluster password rotate-password stored is the one
		// wanted (other commands keep logging in with the stored one).
		if err := c.pendingClusterPassword(); err != nil {
			return notes, err
		}
	}
	return notes, nil
}

// pendingClusterPassword makes a new generated cluster password waiting
// beside the stored one (<file>.new) the cluster's password.
func (c *Cluster) pendingClusterPassword() error {
	file := PasswordFile(c.Inv)
	if c.Inv.Redis.PasswordSource != "" || file == "" {
		return nil // given in the inventory (SetPassword fills in a generated one)
	}
	next, err := readPasswordFile(file + ".new")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	if c.Stored.Pending == nil {
		c.Stored.Pending = map[string]string{}
	}
	c.Stored.Pending[acl.Default] = file
	c.Stored.ClusterLogin = c.Password
	c.SetPassword(next)
	return nil
}

// AdminLogin is the admin password redisctl logs in with.
func (c *Cluster) AdminLogin() string {
	if c.Stored.adminLogin != "" {
		return c.Stored.adminLogin
	}
	return c.Creds.Admin
}

// SwitchStoredAdmin makes the new admin password redisctl's own: the
// rotation's SwitchStored step, once every server accepts it.
func (c *Cluster) SwitchStoredAdmin() error {
	if err := c.FinishPending(acl.Admin); err != nil {
		return err
	}
	c.Stored.adminLogin = c.Creds.Admin
	c.forgetDataClients()
	return nil
}

// FinishPending replaces user's stored password by the new one waiting
// beside it (rename, so the file is never missing nor half written); a
// user with none waiting is left alone.
func (c *Cluster) FinishPending(user string) error {
	file, ok := c.Stored.Pending[user]
	if !ok {
		return nil
	}
	if err := os.Rename(file+".new", file); err != nil {
		return fmt.Errorf("store the new password of user %s: %w", user, err)
	}
	delete(c.Stored.Pending, user)
	return nil
}

// forgetDataClients closes every data node client: the next calls log in
// again (with a new admin password).
func (c *Cluster) forgetDataClients() {
	for _, n := range c.Nodes {
		c.forgetClient(n, false)
	}
}

// UserClient opens a client of its own to n's data node, logged in as
// user with pw; the caller closes it.
func (c *Cluster) UserClient(n *Node, user, pw string) *redis.Client {
	return redisx.Data(c.dialServer(n, false), c.DataAddr(n), user, pw)
}

// BeginRotation makes a new password for user and stores it beside the
// current one (<file>.new, mode 0600), for the next up to rotate to: the
// servers take it beside the old one, everything that logs in with it
// switches, and the old one goes (see rotatePasswords); up then makes the
// new file the stored one. A new password already waiting (a rotation
// that was cut short) is kept, so the rotation resumes. Only passwords
// redisctl stores can be rotated so: one given in the inventory is changed
// there.
func BeginRotation(inv *inventory.Inventory, user string) (file string, resumed bool, err error) {
	switch user {
	case acl.Default:
		if inv.Redis.Password != "" {
			return "", false, fmt.Errorf("%s: the cluster password comes from the %s; change it there and run redisctl up", inv.File, inv.Redis.PasswordSource)
		}
		file = PasswordFile(inv)
	case acl.Admin, acl.Replication, acl.Sentinel:
		if !inv.Redis.ACL() {
			return "", false, fmt.Errorf("%s: the cluster has no ACL users (redis.users, redis.default_user): its one password is the cluster password (--user default)", inv.File)
		}
	case "":
		return "", false, fmt.Errorf("name the user: default (the cluster password), admin, replication, sentinel or an application user")
	default:
		found := false
		for _, u := range inv.Redis.Users {
			if u.Name == user {
				found = true
				if u.Password != "" {
					return "", false, fmt.Errorf("%s:%d: user %s: its password comes from the %s; change it there and run redisctl up", inv.File, u.Line, user, u.PasswordSource)
				}
			}
		}
		if !found {
			return "", false, fmt.Errorf("%s: no user %s (redisctl's are admin, replication and sentinel; the inventory's are under redis.users)", inv.File, user)
		}
	}
	if file == "" {
		file = UserPasswordFile(inv, user)
	}
	if file == "" {
		return "", false, fmt.Errorf("cluster name %q cannot name a password file", inv.Name)
	}
	if _, err := readPasswordFile(file); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", false, fmt.Errorf("no password stored for user %s in %s: run redisctl up first", user, file)
		}
		return "", false, err
	}
	pw, err := GeneratePassword(40)
	if err != nil {
		return "", false, err
	}
	err = writeNewPasswordFile(file+".new", pw)
	if errors.Is(err, fs.ErrExist) {
		_, err = readPasswordFile(file + ".new")
		return file + ".new", true, err
	}
	return file + ".new", false, err
}
