package up

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/redisctl/redisctl/provision"
	"github.com/redisctl/redisctl/provision/acl"
	"github.com/redisctl/redisctl/provision/render"
)

// The cluster password opens the sentinels (requirepass, sentinel-pass)
// and, on a cluster without ACL users, the data nodes too (requirepass,
// masterauth, sentinel auth-pass); on one with users, the default user
// when the inventory keeps it. A new cluster password (changed in the
// inventory, or made by rotate-password --user default) is rotated like
// a user's password (rotate.go), on the default user of every server.
//
// Until every server accepts the new password, redisctl logs in with the
// one they run with, which it reads from a config file on a host where
// the new one is refused: the old password is never needed on the control
// machine, and a rotation cut short resumes from the hosts alone.
//
// Facts relied on (checked against Redis 7.0.15): ACL SETUSER default
// works on a server and on a sentinel without an ACL file; CONFIG REWRITE
// and SENTINEL FLUSHCONFIG then write a "user default ... #<hash>..." line
// beside requirepass, and at load that line wins. A sentinel keeps the
// requirepass it started with in memory and writes it back on every
// rewrite, so its file may name an old requirepass that its user default
// line overrides (see staleRequirepass).

// findLoginPassword checks that the running servers accept the cluster
// password; when some refuse it, it takes the password they run with from
// a refusing host's config file, for the logins until the rotation has
// given every server the new one.
func (r *upRun) findLoginPassword(ctx context.Context) error {
	c := r.c
	type server struct {
		n        *provision.Node
		sentinel bool
	}
	var servers []server
	for _, n := range c.Nodes {
		if n.Host == nil || n.Facts == nil {
			continue
		}
		if n.Spec.Sentinel && n.Facts.SentinelPid > 0 {
			servers = append(servers, server{n, true})
		}
		if c.Creds == nil && n.Facts.RedisPid > 0 {
			servers = append(servers, server{n, false})
		}
	}
	var mu sync.Mutex
	var refused []server
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Client(s.n, s.sentinel).Ping(ctx).Err(); isAuthError(err) {
				mu.Lock()
				refused = append(refused, s)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(refused) == 0 {
		return nil
	}
	s := refused[0]
	file := c.Layout.RedisConf
	if s.sentinel {
		file = c.Layout.SentinelConf
	}
	data, err := s.n.Host.ReadFile(ctx, file)
	if err != nil {
		return err
	}
	args, _ := provision.ConfigValue(data, "requirepass")
	old := provision.LastArg(args)
	if old == "" || old == c.Password {
		return fmt.Errorf("%s: the running %s refuses the cluster password, and %s names no other: look at it (who changed the password?)", s.n.Spec.Name, map[bool]string{true: "sentinel", false: "Redis"}[s.sentinel], file)
	}
	c.LoginPW = old
	c.ForgetAllClients()
	cl := c.Client(s.n, s.sentinel)
	if err := cl.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%s: the running server refuses both the cluster password and the one in %s: %s", s.n.Spec.Name, file, provision.HideSecret(provision.HideSecret(err.Error(), old), c.Password))
	}
	c.P.Printf("", "the running servers still use the previous cluster password (read from %s on %s): up rotates it", file, s.n.Spec.Name)
	return nil
}

func isAuthError(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "WRONGPASS") || strings.Contains(err.Error(), "NOAUTH"))
}

// rotateClusterPassword rotates the cluster password where the running
// servers do not accept exactly it (see the comment at the top).
func (r *upRun) rotateClusterPassword(ctx context.Context) error {
	c := r.c
	want := acl.HashPassword(c.Password)
	var data, sentinels []*provision.Node
	for _, n := range c.Nodes {
		if n.Facts == nil {
			continue
		}
		if c.DefaultUserOnData() && n.Facts.RedisPid > 0 {
			data = append(data, n)
		}
		if n.Spec.Sentinel && n.Facts.SentinelPid > 0 {
			sentinels = append(sentinels, n)
		}
	}
	live := map[string][]string{} // server name -> the default user's hashes
	var noACL []string            // servers without ACL commands (before Redis 6.2)
	var mu sync.Mutex
	ask := func(nodes []*provision.Node, sentinel bool) error {
		return provision.EachHost(ctx, nodes, provision.NodeName, "list the default user", func(ctx context.Context, n *provision.Node) error {
			lines, err := c.Client(n, sentinel).ACLList(ctx).Result()
			if provision.IsDialError(err) {
				return nil // not running after all: started later, with its files
			}
			if err != nil && strings.Contains(err.Error(), "unknown command") {
				mu.Lock()
				noACL = append(noACL, serverName(n, sentinel))
				mu.Unlock()
				return nil
			}
			if err != nil {
				return fmt.Errorf("ACL LIST: %w", err)
			}
			us, err := acl.Parse([]byte(strings.Join(lines, "\n")))
			if err != nil {
				return fmt.Errorf("ACL LIST: %w", err)
			}
			for _, u := range us {
				if u.Name == acl.Default {
					mu.Lock()
					live[serverName(n, sentinel)] = u.Passwords
					mu.Unlock()
				}
			}
			return nil
		})
	}
	if err := ask(data, false); err != nil {
		return err
	}
	if err := ask(sentinels, true); err != nil {
		return err
	}
	if len(noACL) > 0 {
		if c.LoginPW != "" || c.Stored.Pending[acl.Default] != "" {
			return fmt.Errorf("rotate the cluster password: %s know no ACL commands (Redis before 6.2), which a rotation without downtime needs", strings.Join(noACL, ", "))
		}
		return nil // nothing to rotate, and nothing to rotate with
	}
	stale := false
	olds := map[string]bool{}
	for _, hs := range live {
		stale = stale || len(hs) != 1 || hs[0] != want
		for _, h := range hs {
			if h != want {
				olds[h] = true
			}
		}
	}
	if stale {
		if len(olds) != 1 {
			return fmt.Errorf("rotate the cluster password: the servers accept %d passwords other than the new one; redisctl rotates from one", len(olds))
		}
		st := acl.RotationState{User: acl.Default, New: want}
		for h := range olds {
			st.Old = h
		}
		run := map[string]func(context.Context, acl.Step) error{}
		for _, n := range data {
			files, err := n.Host.ReadFiles(ctx, []string{c.Layout.RedisConf, render.ACLFile(c.Inv)})
			if err != nil {
				return err
			}
			s := acl.ServerState{Name: serverName(n, false), Kind: acl.DataNode, User: &acl.Passwords{Live: live[serverName(n, false)]}}
			if c.Creds != nil {
				s.User.Saved = provision.SavedDefault(files[render.ACLFile(c.Inv)], nil)
			} else {
				s.User.Saved = provision.SavedDefault(files[c.Layout.RedisConf], files[c.Layout.RedisConf])
				if s.MasterAuth, err = masterAuth(ctx, c, n, files[c.Layout.RedisConf]); err != nil {
					return err
				}
			}
			st.Servers = append(st.Servers, s)
			run[s.Name] = func(ctx context.Context, step acl.Step) error { return c.RunDataStep(ctx, n, step, c.Password) }
		}
		for _, n := range sentinels {
			conf, err := n.Host.ReadFile(ctx, c.Layout.SentinelConf)
			if err != nil {
				return err
			}
			s := acl.ServerState{Name: serverName(n, true), Kind: acl.SentinelNode,
				User: &acl.Passwords{Live: live[serverName(n, true)], Saved: provision.SavedDefault(conf, conf)}}
			args, _ := provision.ConfigValue(conf, "sentinel sentinel-pass")
			h := hashOf(provision.LastArg(args))
			s.SentinelPass = &acl.Secret{Live: h, Saved: h}
			if c.Creds == nil {
				args, _ := provision.ConfigValue(conf, "sentinel auth-pass")
				h := hashOf(provision.LastArg(args))
				s.AuthPass = &acl.Secret{Live: h, Saved: h}
			}
			st.Servers = append(st.Servers, s)
			run[s.Name] = func(ctx context.Context, step acl.Step) error { return c.RunSentinelStep(ctx, n, step, c.Password) }
		}
		if _, ok := c.Stored.Pending[acl.Default]; ok {
			h := hashOf(c.Stored.ClusterLogin)
			st.Stored = &h
		}
		steps, err := acl.NextSteps(st)
		if err != nil {
			return fmt.Errorf("rotate the cluster password: %w", err)
		}
		verified := false
		for _, step := range steps {
			var do func() error
			switch s := step.(type) {
			case acl.VerifyLinks:
				first := !verified
				verified = true
				do = func() error {
					if err := c.Verify(ctx, r.master, r.opts.SyncTimeout); err != nil {
						return err
					}
					if first {
						// Every server accepts the new password now: log
						// in with it before the old one goes.
						c.LoginPW = ""
						c.ForgetAllClients()
					}
					return nil
				}
			case acl.SwitchStored:
				do = func() error { return c.FinishPending(acl.Default) }
			default:
				f := run[serverOf(step)]
				if f == nil {
					return fmt.Errorf("step %q: no such server", s.Describe())
				}
				do = func() error { return f(ctx, step) }
			}
			if err := r.change(nil, "", do, "%s", strings.Replace(step.Describe(), "user default", "the cluster password (user default)", 1)); err != nil {
				return err
			}
		}
	}
	if _, ok := c.Stored.Pending[acl.Default]; ok {
		if err := r.change(nil, "", func() error { return c.FinishPending(acl.Default) }, "redisctl: keep the new cluster password"); err != nil {
			return err
		}
	}
	if c.LoginPW != "" && !r.opts.DryRun {
		c.LoginPW = ""
		c.ForgetAllClients()
	}
	return nil
}

func serverName(n *provision.Node, sentinel bool) string {
	if sentinel {
		return n.Spec.Name + " sentinel"
	}
	return n.Spec.Name
}
