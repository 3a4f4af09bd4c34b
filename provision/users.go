package provision

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/redisctl/redisctl/provision/acl"
	"github.com/redisctl/redisctl/provision/inventory"
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
func loadCredentials(inv *inventory.Inventory, create, standIn bool) (cr *render.Credentials, notes []string, err error) {
	if !inv.Redis.ACL() {
		return nil, nil, nil
	}
	cr = &render.Credentials{Users: map[string]string{}}
	get := func(name string) (string, error) {
		file := UserPasswordFile(inv, name)
		if file == "" {
			return "", fmt.Errorf("user %s: cluster name %q cannot name a password file", name, inv.Name)
		}
		pw, err := readPasswordFile(file)
		if err == nil {
			return pw, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		switch {
		case create:
			if pw, err = generatePassword(40); err != nil {
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
			return pw, nil
		case standIn:
			notes = append(notes, fmt.Sprintf("generate a password for user %s and store it in %s", name, file))
			return generatePassword(40)
		}
		return "", fmt.Errorf("no password for user %s: %s does not exist (run redisctl up first)", name, file)
	}
	for _, b := range []struct {
		name string
		dst  *string
	}{{acl.Admin, &cr.Admin}, {acl.Replication, &cr.Replication}, {acl.Sentinel, &cr.Sentinel}} {
		if *b.dst, err = get(b.name); err != nil {
			return nil, notes, err
		}
	}
	for _, u := range inv.Redis.Users {
		pw := u.Password
		if pw == "" {
			if pw, err = get(u.Name); err != nil {
				return nil, notes, err
			}
		}
		cr.Users[u.Name] = pw
	}
	return cr, notes, nil
}

// useSecrets sets the cluster password and, for an ACL cluster, loads the
// users' passwords (see loadCredentials) for clients and rendering.
func (c *Cluster) useSecrets(pw string, create, standIn bool) ([]string, error) {
	c.SetPassword(pw)
	cr, notes, err := loadCredentials(c.Inv, create, standIn)
	if err != nil {
		return notes, err
	}
	c.Creds = cr
	return notes, nil
}
