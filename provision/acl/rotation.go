package acl

import (
	"fmt"
	"slices"
)

// A rotation replaces one user's password without downtime (issue 14):
//
//  1. add the new password beside the old one wherever the user lives,
//     and persist that, so a server restarted later still accepts it;
//  2. switch every user of the secret to the new password (masterauth,
//     the sentinels' auth-pass and sentinel-pass, redisctl's stored
//     secret), and persist the switched settings;
//  3. verify every link, then remove the old password, persist, and
//     verify again.
//
// NextSteps decides the steps from what is observed, never from a record
// of what was done, so a rotation cut short anywhere resumes on the next
// run from where it stopped. Every step is a change to the observed state
// except the verifications, which leave no trace: a resume repeats the
// verification that was last run, unless removal had already begun (the
// verification before it had then passed), and a rotation that is found
// finished gets no final verification (the caller's usual checks after a
// run cover it).
//
// Adding and removing work with hashes (ACL SETUSER u #<hash>, !<hash>),
// so a resumed run needs the old password's hash only, never the old
// password; the switches need the new password in clear, which the caller
// must have stored before the first step.

// Kind is what a server is.
type Kind int

// The kinds of server a rotation visits: they save their settings
// differently (ACL SAVE and CONFIG REWRITE, or SENTINEL FLUSHCONFIG).
const (
	DataNode Kind = iota
	SentinelNode
)

func (k Kind) String() string {
	if k == SentinelNode {
		return "sentinel"
	}
	return "data node"
}

// RotationState is what was observed of every server involved, plus the
// passwords: Old is the hash being replaced, New the hash replacing it.
type RotationState struct {
	User     string
	Old, New string
	// Servers in the order steps should visit them (the caller's inventory
	// order: data nodes, then sentinels, say).
	Servers []ServerState
	// Stored is the hash of the secret redisctl keeps for this user on the
	// control machine, or nil when redisctl does not log in as this user.
	Stored *string
}

// ServerState is one server as observed.
type ServerState struct {
	Name string
	Kind Kind
	// User is where the rotated user lives on this server, or nil when it
	// does not (the replication user on a sentinel). A server listed with a
	// user must already have that user: adding a password to a user that
	// does not exist would create it, off and without rights.
	User *Passwords
	// The settings on this server that send the rotated secret when it
	// logs in elsewhere, or nil when it does not use it that way:
	// MasterAuth on a data node (to whichever node is master), AuthPass on
	// a sentinel (sentinel auth-pass, to the data nodes), SentinelPass on
	// a sentinel (sentinel sentinel-pass, to the other sentinels).
	MasterAuth, AuthPass, SentinelPass *Secret
}

// Passwords are the hashes a user accepts: Live in the running server (ACL
// GETUSER), Saved in the file it loads at start (the ACL file, or
// sentinel.conf for a sentinel).
type Passwords struct {
	Live, Saved []string
}

// Secret is the hash of a secret a server sends: Live as the running
// server has it (CONFIG GET, SENTINEL MASTER), Saved as its config file
// has it.
type Secret struct {
	Live, Saved string
}

// Step is one action of a rotation. Describe says what it does and never
// holds a password or a hash.
type Step interface {
	Describe() string
}

// AddPassword adds the new password to User on Server
// (ACL SETUSER <user> #<hash>).
type AddPassword struct {
	Server, User, Hash string
}

// SwitchMasterAuth sets masterauth of data node Node to the new password
// (CONFIG SET masterauth).
type SwitchMasterAuth struct{ Node string }

// SwitchSentinelAuth sets the auth-pass of Sentinel to the new password
// (SENTINEL SET <master> auth-pass); Sentinel saves its config itself.
type SwitchSentinelAuth struct{ Sentinel string }

// SwitchSentinelPass sets the sentinel-pass of Sentinel, the password it
// sends to the other sentinels (SENTINEL CONFIG SET sentinel-pass).
type SwitchSentinelPass struct{ Sentinel string }

// SwitchStored makes the new password the secret redisctl keeps for User.
type SwitchStored struct{ User string }

// VerifyLinks checks every replication and sentinel link is up and every
// user of the secret logs in with the new password.
type VerifyLinks struct{}

// RemovePassword removes a password other than the new one from User on
// Server (ACL SETUSER <user> !<hash>). Old tells the old password from one
// nobody knows about (left by an earlier, abandoned rotation, say).
type RemovePassword struct {
	Server, User, Hash string
	Old                bool
}

// Persist writes what Server runs to the files it starts from: ACL SAVE
// and CONFIG REWRITE on a data node, SENTINEL FLUSHCONFIG on a sentinel.
type Persist struct {
	Server string
	Kind   Kind
}

func (s AddPassword) Describe() string {
	return fmt.Sprintf("%s: add the new password of user %s beside the old one", s.Server, s.User)
}

func (s SwitchMasterAuth) Describe() string {
	return fmt.Sprintf("%s: replicate with the new password (masterauth)", s.Node)
}

func (s SwitchSentinelAuth) Describe() string {
	return fmt.Sprintf("%s: monitor the data nodes with the new password (sentinel auth-pass)", s.Sentinel)
}

func (s SwitchSentinelPass) Describe() string {
	return fmt.Sprintf("%s: talk to the other sentinels with the new password (sentinel sentinel-pass)", s.Sentinel)
}

func (s SwitchStored) Describe() string {
	return fmt.Sprintf("redisctl: keep the new password of user %s", s.User)
}

func (VerifyLinks) Describe() string {
	return "verify every replica and sentinel link is up with the new password"
}

func (s RemovePassword) Describe() string {
	what := "the old password"
	if !s.Old {
		what = "a password that is neither the old nor the new one"
	}
	return fmt.Sprintf("%s: remove %s of user %s; connections already open keep working, new logins with it are refused", s.Server, what, s.User)
}

func (s Persist) Describe() string {
	if s.Kind == SentinelNode {
		return fmt.Sprintf("%s: save the sentinel's config (SENTINEL FLUSHCONFIG)", s.Server)
	}
	return fmt.Sprintf("%s: save the ACL file and redis.conf (ACL SAVE, CONFIG REWRITE)", s.Server)
}

// consumer is one place that sends the secret, and the servers it logs in
// to: every data node for masterauth (any of them may become master) and
// auth-pass, every sentinel for sentinel-pass, every server for redisctl.
type consumer struct {
	name    string // for errors: "masterauth of n1"
	secret  *Secret
	targets Kind
	all     bool // logs in to every server, whatever its kind
	// savesItself: the switch also saves the setting, as Sentinel does
	// on SENTINEL SET and SENTINEL CONFIG SET.
	savesItself bool
	step        Step
}

func (st RotationState) consumers() []consumer {
	var cs []consumer
	for _, s := range st.Servers {
		if s.MasterAuth != nil {
			cs = append(cs, consumer{"masterauth of " + s.Name, s.MasterAuth, DataNode, false, false, SwitchMasterAuth{s.Name}})
		}
	}
	for _, s := range st.Servers {
		if s.AuthPass != nil {
			cs = append(cs, consumer{"sentinel auth-pass of " + s.Name, s.AuthPass, DataNode, false, true, SwitchSentinelAuth{s.Name}})
		}
	}
	for _, s := range st.Servers {
		if s.SentinelPass != nil {
			cs = append(cs, consumer{"sentinel sentinel-pass of " + s.Name, s.SentinelPass, SentinelNode, false, true, SwitchSentinelPass{s.Name}})
		}
	}
	if st.Stored != nil {
		cs = append(cs, consumer{"redisctl's stored secret", &Secret{Live: *st.Stored, Saved: *st.Stored}, 0, true, true, SwitchStored{st.User}})
	}
	return cs
}

// NextSteps returns the steps left to finish the rotation, none when it is
// finished. It returns an error, and no steps, when the state is one the
// rotation never leads to and going on would not mend: a password that is
// neither the old nor the new one in use, or the old password already
// gone from a server that something still logs in to with it (that link is
// down now; a person must look, and the error names the server).
func NextSteps(st RotationState) ([]Step, error) {
	if err := st.check(); err != nil {
		return nil, err
	}
	// Work on copies: the plan is made by applying each step to the state
	// it expects, so that a later phase sees what the earlier ones leave.
	servers := make([]ServerState, len(st.Servers))
	for i, s := range st.Servers {
		servers[i] = s
		if s.User != nil {
			servers[i].User = &Passwords{Live: slices.Clone(s.User.Live), Saved: slices.Clone(s.User.Saved)}
		}
		for _, p := range []**Secret{&servers[i].MasterAuth, &servers[i].AuthPass, &servers[i].SentinelPass} {
			if *p != nil {
				c := **p
				*p = &c
			}
		}
	}
	st.Servers = servers
	if st.Stored != nil {
		s := *st.Stored
		st.Stored = &s
	}
	var steps []Step
	persist := func(need func(ServerState) bool) {
		for i, s := range st.Servers {
			if need(s) {
				steps = append(steps, Persist{s.Name, s.Kind})
				if s.User != nil {
					st.Servers[i].User.Saved = slices.Clone(s.User.Live)
				}
				for _, c := range []*Secret{s.MasterAuth, s.AuthPass, s.SentinelPass} {
					if c != nil {
						c.Saved = c.Live
					}
				}
			}
		}
	}

	// 1. The new password beside the old one, and saved, before anything
	// sends it: a server restarted after the switch must still accept it.
	for _, s := range st.Servers {
		if s.User != nil && !slices.Contains(s.User.Live, st.New) {
			steps = append(steps, AddPassword{s.Name, st.User, st.New})
			s.User.Live = append(s.User.Live, st.New)
		}
	}
	persist(func(s ServerState) bool {
		return s.User != nil && !slices.Contains(s.User.Saved, st.New)
	})

	// 2. Every sender switched, and saved, before the old password goes:
	// a server restarted from a file still holding the old masterauth would
	// otherwise fail to replicate once it is removed. A sentinel saves its
	// config itself when a setting changes; a sentinel observed with a
	// setting not saved (its rewrite failed) is saved here too.
	for _, c := range st.consumers() {
		if c.secret.Live != st.New {
			steps = append(steps, c.step)
			c.secret.Live = st.New
			if c.savesItself {
				c.secret.Saved = st.New
			}
		}
	}
	persist(func(s ServerState) bool {
		for _, c := range []*Secret{s.MasterAuth, s.AuthPass, s.SentinelPass} {
			if c != nil && c.Saved != c.Live {
				return true
			}
		}
		return false
	})

	// 3. Verify, remove every password but the new one, save, verify.
	var removals []Step
	begun := false
	for _, s := range st.Servers {
		if s.User == nil {
			continue
		}
		if !slices.Contains(s.User.Live, st.Old) {
			begun = true
		}
		for _, h := range s.User.Live {
			if h != st.New {
				removals = append(removals, RemovePassword{s.Name, st.User, h, h == st.Old})
			}
		}
		s.User.Live = []string{st.New}
	}
	if len(removals) > 0 && !begun {
		steps = append(steps, VerifyLinks{})
	}
	steps = append(steps, removals...)
	persist(func(s ServerState) bool {
		return s.User != nil && !sameSet(s.User.Live, s.User.Saved)
	})
	if len(steps) > 0 {
		steps = append(steps, VerifyLinks{})
	}
	return steps, nil
}

// check refuses states the rotation cannot go on from.
func (st RotationState) check() error {
	if err := checkHash(st.Old); err != nil {
		return fmt.Errorf("rotation of user %s: old password: %w", st.User, err)
	}
	if err := checkHash(st.New); err != nil {
		return fmt.Errorf("rotation of user %s: new password: %w", st.User, err)
	}
	if st.Old == st.New {
		return fmt.Errorf("rotation of user %s: the new password is the old one", st.User)
	}
	seen := map[string]bool{}
	for _, s := range st.Servers {
		if seen[s.Name] {
			return fmt.Errorf("rotation of user %s: server %s is listed twice", st.User, s.Name)
		}
		seen[s.Name] = true
	}
	for _, c := range st.consumers() {
		switch c.secret.Live {
		case st.New:
			// A server without the new password yet gets it first.
		case st.Old:
			for _, s := range st.Servers {
				if s.User != nil && (c.all || s.Kind == c.targets) && !slices.Contains(s.User.Live, st.Old) {
					return fmt.Errorf("rotation of user %s: %s %s no longer accepts the old password, but %s still uses it: "+
						"that link is down, and this rotation never removes a password something uses, so something else changed it; "+
						"look at %s (its ACL file, a restart from an older file) before running again",
						st.User, s.Kind, s.Name, c.name, s.Name)
				}
			}
		default:
			return fmt.Errorf("rotation of user %s: %s is neither the old nor the new password; "+
				"set it to one of them, or rotate from what it is", st.User, c.name)
		}
	}
	return nil
}
