package up

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/redisctl/redisctl/provision"
	"github.com/redisctl/redisctl/provision/acl"
	"github.com/redisctl/redisctl/provision/render"
)

// rotateStep is up's step "rotate passwords".
type rotateStep struct{ *upRun }

func (rotateStep) Title() string { return "rotate passwords" }

// Run replaces, without a restart, the password of every ACL
// user whose running servers do not accept exactly the password redisctl
// wants (a new one in the inventory, or one rotate-password generated):
// the new password beside the old one everywhere, every user of it
// switched, the links verified, the old one removed (see acl.NextSteps,
// which decides from what it observes, so an interrupted rotation resumes
// here). Servers that are not running get their files in configure, as
// usual. A cluster without users has nothing to rotate.
func (r rotateStep) Run(ctx context.Context) error {
	c := r.c
	if err := r.rotateClusterPassword(ctx); err != nil {
		return err
	}
	if c.Creds == nil {
		return nil
	}
	var running []*provision.Node
	for _, n := range c.Nodes {
		if n.Facts.RedisPid > 0 {
			running = append(running, n)
		}
	}
	if len(running) == 0 {
		return nil
	}
	wanted, err := render.ACLUsers(c.Inv, c.Creds)
	if err != nil {
		return err
	}
	live, err := c.LiveUsers(ctx, running)
	if err != nil {
		return err
	}
	running = slices.DeleteFunc(running, func(n *provision.Node) bool { return live[n] == nil })
	for _, u := range wanted {
		if u.Name == acl.Default || len(u.Passwords) != 1 {
			// The default user's password is the cluster password,
			// which is also the sentinels': not rotated yet.
			continue
		}
		want := u.Passwords[0]
		stale := false
		for _, n := range running {
			lu, ok := live[n][u.Name]
			stale = stale || ok && !slices.Equal(lu.Passwords, []string{want})
		}
		if stale {
			if err := r.rotate(ctx, running, live, u.Name, want); err != nil {
				return fmt.Errorf("rotate the password of user %s: %w", u.Name, err)
			}
		}
		if _, ok := c.Stored.Pending[u.Name]; ok {
			err := r.change(nil, "", func() error { return c.FinishPending(u.Name) }, "redisctl: keep the new password of user %s", u.Name)
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// rotate observes everything the rotation of user touches and runs the
// steps acl.NextSteps gives.
func (r *upRun) rotate(ctx context.Context, running []*provision.Node, live map[*provision.Node]map[string]acl.User, user, want string) error {
	c := r.c
	newPW := c.Creds.Password(user)
	st := acl.RotationState{User: user, New: want}
	olds := map[string]bool{}
	for _, n := range running {
		for _, h := range live[n][user].Passwords {
			if h != want {
				olds[h] = true
			}
		}
	}
	switch len(olds) {
	case 1:
		for h := range olds {
			st.Old = h
		}
	case 0:
		// The servers accept the new password only; what is left is
		// saving it where a server has not yet (configure does that).
		return nil
	default:
		return fmt.Errorf("the data nodes accept %d passwords other than the new one; redisctl rotates from one: remove the others (ACL SETUSER %s !<hash>) or run up again once one is left", len(olds), user)
	}
	byServer := map[string]func(context.Context, acl.Step) error{}
	for _, n := range running {
		files, err := n.Host.ReadFiles(ctx, []string{render.ACLFile(c.Inv), c.Layout.RedisConf})
		if err != nil {
			return err
		}
		saved, err := acl.Parse(files[render.ACLFile(c.Inv)])
		if err != nil {
			return fmt.Errorf("%s: %s: %w", n.Spec.Name, render.ACLFile(c.Inv), err)
		}
		var savedPW []string
		for _, u := range saved {
			if u.Name == user {
				savedPW = u.Passwords
			}
		}
		s := acl.ServerState{Name: n.Spec.Name, Kind: acl.DataNode,
			User: &acl.Passwords{Live: live[n][user].Passwords, Saved: savedPW}}
		if user == acl.Replication {
			var err error
			if s.MasterAuth, err = masterAuth(ctx, c, n, files[c.Layout.RedisConf]); err != nil {
				return err
			}
		}
		st.Servers = append(st.Servers, s)
		byServer[s.Name] = func(ctx context.Context, step acl.Step) error { return c.RunDataStep(ctx, n, step, newPW) }
	}
	if user == acl.Sentinel {
		for _, n := range c.Sentinels() {
			if n.Facts.SentinelPid == 0 {
				continue
			}
			data, err := n.Host.ReadFile(ctx, c.Layout.SentinelConf)
			if err != nil {
				return err
			}
			// Sentinel saves its config on every SENTINEL SET, so its
			// file says what it runs with.
			args, _ := provision.ConfigValue(data, "sentinel auth-pass")
			h := hashOf(provision.LastArg(args))
			name := n.Spec.Name + " sentinel"
			st.Servers = append(st.Servers, acl.ServerState{Name: name, Kind: acl.SentinelNode, AuthPass: &acl.Secret{Live: h, Saved: h}})
			byServer[name] = func(ctx context.Context, step acl.Step) error { return c.RunSentinelStep(ctx, n, step, newPW) }
		}
	}
	if user == acl.Admin {
		h := hashOf(c.AdminLogin())
		st.Stored = &h
	}
	steps, err := acl.NextSteps(st)
	if err != nil {
		return err
	}
	for _, step := range steps {
		var do func() error
		switch s := step.(type) {
		case acl.VerifyLinks:
			do = func() error { return r.verifyRotation(ctx, running, user, newPW) }
		case acl.SwitchStored:
			do = func() error { return c.SwitchStoredAdmin() }
		default:
			run := byServer[serverOf(step)]
			if run == nil {
				return fmt.Errorf("step %q: no such server", s.Describe())
			}
			do = func() error { return run(ctx, step) }
		}
		if err := r.change(nil, "", do, "%s", step.Describe()); err != nil {
			return err
		}
	}
	return nil
}

// serverOf is the server a step acts on.
func serverOf(step acl.Step) string {
	switch s := step.(type) {
	case acl.AddPassword:
		return s.Server
	case acl.RemovePassword:
		return s.Server
	case acl.Persist:
		return s.Server
	case acl.SwitchMasterAuth:
		return s.Node
	case acl.SwitchSentinelAuth:
		return s.Sentinel
	case acl.SwitchSentinelPass:
		return s.Sentinel
	}
	return ""
}

// verifyRotation checks that user logs in with the new password on every
// running data node, and that replication and every sentinel are healthy.
func (r *upRun) verifyRotation(ctx context.Context, running []*provision.Node, user, newPW string) error {
	c := r.c
	err := provision.EachHost(ctx, running, provision.NodeName, "log in with the new password", func(ctx context.Context, n *provision.Node) error {
		cl := c.UserClient(n, user, newPW)
		defer cl.Close()
		// AUTH is all a user may lack the rights to follow with; the
		// hello of go-redis is off, so a login error is the answer.
		if err := cl.Do(ctx, "ACL", "WHOAMI").Err(); err != nil && !strings.Contains(err.Error(), "NOPERM") {
			return fmt.Errorf("user %s with the new password: %s", user, provision.HideSecret(err.Error(), newPW))
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.Verify(ctx, r.master, r.opts.SyncTimeout)
}

func hashOf(pw string) string {
	if pw == "" {
		return ""
	}
	return acl.HashPassword(pw)
}

// masterAuth is a data node's masterauth as it runs and as its config
// file conf saves it, both as hashes.
func masterAuth(ctx context.Context, c *provision.Cluster, n *provision.Node, conf []byte) (*acl.Secret, error) {
	live, err := c.Data(n).ConfigGet(ctx, "masterauth").Result()
	if err != nil {
		return nil, fmt.Errorf("%s: CONFIG GET masterauth: %w", n.Spec.Name, err)
	}
	args, _ := provision.ConfigValue(conf, "masterauth")
	return &acl.Secret{Live: hashOf(live["masterauth"]), Saved: hashOf(provision.LastArg(args))}, nil
}
