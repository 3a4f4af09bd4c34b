package provision

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/redisctl/redisctl/provision/acl"
)

// compareACL tells how the ACL file on n (old) differs from the one
// redisctl renders (want), user by user. ACL SAVE rewords category rules
// into its own expansion, so a difference in commands that may be only
// that is settled by asking n's running server how it words the wanted
// rules (probeRules); a server that is not running gets its file
// rewritten, which is harmless.
func (c *Cluster) compareACL(ctx context.Context, n *Node, old, want []byte) ([]acl.Difference, error) {
	wanted, err := acl.Parse(want)
	if err != nil {
		return nil, fmt.Errorf("rendered ACL file: %w", err)
	}
	found, err := acl.Parse(old)
	if err != nil {
		if n.Facts.RedisPid > 0 {
			return nil, fmt.Errorf("%s: the ACL file cannot be read (%v); the running server loaded it, so redisctl will not rewrite it under it: look at it", c.Layout.RedisConf, err)
		}
		return []acl.Difference{{User: "*", Fields: []string{"the file cannot be read: " + err.Error()}}}, nil
	}
	diffs := acl.Compare(found, wanted)
	if n.Facts.RedisPid == 0 {
		return diffs, nil
	}
	byName := func(us []acl.User, name string) acl.User {
		for _, u := range us {
			if u.Name == name {
				return u
			}
		}
		return acl.User{}
	}
	out := diffs[:0]
	for _, d := range diffs {
		if d.MaybeReworded {
			same, err := c.sameCommands(ctx, n, byName(found, d.User), byName(wanted, d.User))
			if err != nil {
				return nil, err
			}
			if same {
				d.Fields = slices.DeleteFunc(d.Fields, func(f string) bool { return f == "commands" })
				d.MaybeReworded = false
			}
		}
		if len(d.Fields) > 0 || d.Missing || d.Unwanted {
			out = append(out, d)
		}
	}
	return out, nil
}

// probeUser is the name of the user sameCommands makes for an instant,
// inside a transaction: no client ever sees it.
const probeUser = "redisctl-probe"

// sameCommands asks n's server whether the command rules of found (as ACL
// SAVE wrote them) are those of wanted (as the inventory wrote them): it
// makes a user with wanted's rules, lists it and deletes it, all in one
// MULTI/EXEC, so nothing is left and no other client sees the user.
func (c *Cluster) sameCommands(ctx context.Context, n *Node, found, wanted acl.User) (bool, error) {
	probe := acl.User{Name: probeUser, Rules: acl.Rules{Commands: wanted.Commands}}
	args := append([]any{"ACL", "SETUSER", probeUser}, probe.SetUserArgs(false)...)
	var list *redis.StringSliceCmd
	_, err := c.Data(n).TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Do(ctx, args...)
		list = p.ACLList(ctx)
		p.Do(ctx, "ACL", "DELUSER", probeUser)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("compare the rules of user %s with the server's wording: %w", wanted.Name, err)
	}
	for _, line := range list.Val() {
		us, err := acl.Parse([]byte(line))
		if err != nil || len(us) != 1 || us[0].Name != probeUser {
			continue
		}
		a, b := found, found
		b.Commands = us[0].Commands
		return len(acl.Compare([]acl.User{a}, []acl.User{b})) == 0, nil
	}
	return false, fmt.Errorf("compare the rules of user %s with the server's wording: the server did not list the probe", wanted.Name)
}

// AclLiveOps turns the users that differ on a running data node into ACL
// SETUSER and ACL DELUSER commands, then ACL SAVE. Passwords are left to
// the rotation (see provision/up/rotate.go): a user whose only difference is its
// passwords gets nothing here. Connections of the users changed stay open
// (ACL SETUSER never closes them; ACL LOAD would).
func (c *Cluster) AclLiveOps(ch FileChange) ([]LiveOp, error) {
	wanted, err := acl.Parse(ch.File.Data)
	if err != nil {
		return nil, err
	}
	var ops []LiveOp
	save := false
	for _, d := range ch.ACL {
		var u acl.User
		for _, w := range wanted {
			if w.Name == d.User {
				u = w
			}
		}
		switch {
		case d.Unwanted:
			ops = append(ops, LiveOp{"ACL DELUSER " + d.User, Command("ACL", "DELUSER", d.User)})
		case d.Missing:
			args := append([]any{"ACL", "SETUSER", d.User}, u.SetUserArgs(false)...)
			ops = append(ops, LiveOp{"ACL SETUSER " + d.User + " (new user; rules and password hashes hidden)", hideAll(Command(args...))})
		default:
			rights := slices.DeleteFunc(slices.Clone(d.Fields), func(f string) bool { return f == "passwords" })
			if len(rights) == 0 {
				// The rotation before configure made the server's
				// passwords right; a file it left unsaved is saved.
				save = true
				continue
			}
			args := append([]any{"ACL", "SETUSER", d.User}, u.SetUserArgs(true)...)
			ops = append(ops, LiveOp{fmt.Sprintf("ACL SETUSER %s (its %v as the inventory says)", d.User, rights), Command(args...)})
		}
	}
	if len(ops) > 0 || save {
		ops = append(ops, LiveOp{"ACL SAVE", Command("ACL", "SAVE")})
	}
	return ops, nil
}

// hideAll runs a command whose arguments hold secrets: its error, if any,
// says only that it failed and Redis's first words.
func hideAll(do func(context.Context, *redis.Client) error) func(context.Context, *redis.Client) error {
	return func(ctx context.Context, cl *redis.Client) error {
		if err := do(ctx, cl); err != nil {
			return fmt.Errorf("%s", MaskText(err.Error()))
		}
		return nil
	}
}

// LiveUsers lists the users of each running data node (ACL LIST).
func (c *Cluster) LiveUsers(ctx context.Context, nodes []*Node) (map[*Node]map[string]acl.User, error) {
	var mu sync.Mutex
	out := map[*Node]map[string]acl.User{}
	err := EachHost(ctx, nodes, NodeName, "list ACL users", func(ctx context.Context, n *Node) error {
		lines, err := c.Data(n).ACLList(ctx).Result()
		if IsDialError(err) {
			return nil // not running after all: started later, with its files
		}
		if err != nil {
			return fmt.Errorf("ACL LIST: %w", err)
		}
		us, err := acl.Parse([]byte(strings.Join(lines, "\n")))
		if err != nil {
			return fmt.Errorf("ACL LIST: %w", err)
		}
		m := map[string]acl.User{}
		for _, u := range us {
			m[u.Name] = u
		}
		mu.Lock()
		out[n] = m
		mu.Unlock()
		return nil
	})
	return out, err
}

// RunDataStep runs one rotation step on data node n.
func (c *Cluster) RunDataStep(ctx context.Context, n *Node, step acl.Step, newPW string) error {
	cl := c.Data(n)
	var err error
	switch step.(type) {
	case acl.AddPassword, acl.RemovePassword:
		err = setUserPassword(ctx, cl, step)
	case acl.SwitchMasterAuth:
		err = cl.ConfigSet(ctx, "masterauth", newPW).Err()
	case acl.Persist:
		if c.Creds != nil {
			err = cl.Do(ctx, "ACL", "SAVE").Err()
		}
		if err == nil {
			err = cl.ConfigRewrite(ctx).Err()
		}
	default:
		return fmt.Errorf("%s: step %q does not apply to a data node", n.Spec.Name, step.Describe())
	}
	if err != nil {
		return fmt.Errorf("%s: %s", n.Spec.Name, HideSecret(err.Error(), newPW))
	}
	return nil
}

// RunSentinelStep runs one rotation step on n's sentinel.
func (c *Cluster) RunSentinelStep(ctx context.Context, n *Node, step acl.Step, newPW string) error {
	cl := c.Sentinel(n)
	var err error
	switch step.(type) {
	case acl.AddPassword, acl.RemovePassword:
		err = setUserPassword(ctx, cl, step)
	case acl.SwitchSentinelPass:
		err = cl.Do(ctx, "SENTINEL", "CONFIG", "SET", "sentinel-pass", newPW).Err()
	case acl.SwitchSentinelAuth:
		err = cl.Do(ctx, "SENTINEL", "SET", c.Inv.Name, "auth-pass", newPW).Err()
	case acl.Persist:
		err = cl.Do(ctx, "SENTINEL", "FLUSHCONFIG").Err()
	default:
		return fmt.Errorf("%s sentinel: step %q does not apply to a sentinel", n.Spec.Name, step.Describe())
	}
	if err != nil {
		return fmt.Errorf("%s sentinel: %s", n.Spec.Name, HideSecret(err.Error(), newPW))
	}
	return nil
}

// setUserPassword adds (#hash) or removes (!hash) one password of a user,
// on a data node or a sentinel alike.
func setUserPassword(ctx context.Context, cl *redis.Client, step acl.Step) error {
	switch s := step.(type) {
	case acl.AddPassword:
		return cl.Do(ctx, "ACL", "SETUSER", s.User, "#"+s.Hash).Err()
	case acl.RemovePassword:
		return cl.Do(ctx, "ACL", "SETUSER", s.User, "!"+s.Hash).Err()
	}
	return fmt.Errorf("step %q changes no password", step.Describe())
}

// HideSecret removes a secret from a message.
func HideSecret(msg, secret string) string {
	if secret == "" {
		return msg
	}
	return strings.ReplaceAll(msg, secret, hidden)
}

// IsDialError tells a server that is not there (connection refused) from
// one that answered.
func IsDialError(err error) bool {
	var op *net.OpError
	return err != nil && (errors.As(err, &op) && op.Op == "dial" || strings.Contains(err.Error(), "connection refused"))
}
