package acl

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var (
	hOld = HashPassword("old-secret")
	hNew = HashPassword("new-secret")
)

// cluster is three data nodes and three sentinels at the start of a
// rotation of user's password, everything on the old one. Which servers
// the user lives on and who sends its secret depend on the user, as they
// will in redisctl.
func cluster(user string) RotationState {
	st := RotationState{User: user, Old: hOld, New: hNew}
	pw := func() *Passwords { return &Passwords{Live: []string{hOld}, Saved: []string{hOld}} }
	sec := func() *Secret { return &Secret{Live: hOld, Saved: hOld} }
	for _, n := range []string{"n1", "n2", "n3"} {
		s := ServerState{Name: n, Kind: DataNode, User: pw()}
		if user == Replication || user == Default {
			s.MasterAuth = sec()
		}
		st.Servers = append(st.Servers, s)
	}
	for _, n := range []string{"s1", "s2", "s3"} {
		s := ServerState{Name: n, Kind: SentinelNode}
		switch user {
		case Sentinel:
			s.AuthPass = sec()
		case Admin:
			s.User = pw()
		case Default:
			// A cluster without users: one password for everything,
			// sentinels included (requirepass and sentinel-pass).
			s.User, s.AuthPass, s.SentinelPass = pw(), sec(), sec()
		}
		st.Servers = append(st.Servers, s)
	}
	if user == Admin || user == Default {
		st.Stored = &hOld
	}
	return st
}

// apply is what running a step does to what a later run would observe:
// the test's own model of the servers, written apart from NextSteps.
// Sentinels save their config themselves on SENTINEL SET and SENTINEL
// CONFIG SET, so their switches are saved at once.
func apply(t *testing.T, st RotationState, step Step) RotationState {
	t.Helper()
	st = clone(st)
	server := func(name string) *ServerState {
		for i := range st.Servers {
			if st.Servers[i].Name == name {
				return &st.Servers[i]
			}
		}
		t.Fatalf("step %#v names no server", step)
		return nil
	}
	switch s := step.(type) {
	case AddPassword:
		u := server(s.Server).User
		if !slices.Contains(u.Live, s.Hash) {
			u.Live = append(u.Live, s.Hash)
		}
	case RemovePassword:
		u := server(s.Server).User
		u.Live = slices.DeleteFunc(u.Live, func(h string) bool { return h == s.Hash })
	case SwitchMasterAuth:
		server(s.Node).MasterAuth.Live = st.New
	case SwitchSentinelAuth:
		server(s.Sentinel).AuthPass.Live = st.New
		server(s.Sentinel).AuthPass.Saved = st.New
	case SwitchSentinelPass:
		server(s.Sentinel).SentinelPass.Live = st.New
		server(s.Sentinel).SentinelPass.Saved = st.New
	case SwitchStored:
		n := st.New
		st.Stored = &n
	case Persist:
		sv := server(s.Server)
		if sv.User != nil {
			sv.User.Saved = slices.Clone(sv.User.Live)
		}
		for _, c := range []*Secret{sv.MasterAuth, sv.AuthPass, sv.SentinelPass} {
			if c != nil {
				c.Saved = c.Live
			}
		}
	case VerifyLinks:
	default:
		t.Fatalf("unknown step %#v", step)
	}
	return st
}

func clone(st RotationState) RotationState {
	st.Servers = slices.Clone(st.Servers)
	for i := range st.Servers {
		s := &st.Servers[i]
		if s.User != nil {
			s.User = &Passwords{Live: slices.Clone(s.User.Live), Saved: slices.Clone(s.User.Saved)}
		}
		for _, p := range []**Secret{&s.MasterAuth, &s.AuthPass, &s.SentinelPass} {
			if *p != nil {
				c := **p
				*p = &c
			}
		}
	}
	if st.Stored != nil {
		s := *st.Stored
		st.Stored = &s
	}
	return st
}

// TestRotationPlan pins the whole rotation of the user with the most
// parts, the default user of a cluster without users.
func TestRotationPlan(t *testing.T) {
	steps, err := NextSteps(cluster(Default))
	if err != nil {
		t.Fatal(err)
	}
	u := Default
	want := []Step{
		AddPassword{"n1", u, hNew}, AddPassword{"n2", u, hNew}, AddPassword{"n3", u, hNew},
		AddPassword{"s1", u, hNew}, AddPassword{"s2", u, hNew}, AddPassword{"s3", u, hNew},
		Persist{"n1", DataNode}, Persist{"n2", DataNode}, Persist{"n3", DataNode},
		Persist{"s1", SentinelNode}, Persist{"s2", SentinelNode}, Persist{"s3", SentinelNode},
		SwitchMasterAuth{"n1"}, SwitchMasterAuth{"n2"}, SwitchMasterAuth{"n3"},
		SwitchSentinelAuth{"s1"}, SwitchSentinelAuth{"s2"}, SwitchSentinelAuth{"s3"},
		SwitchSentinelPass{"s1"}, SwitchSentinelPass{"s2"}, SwitchSentinelPass{"s3"},
		SwitchStored{u},
		Persist{"n1", DataNode}, Persist{"n2", DataNode}, Persist{"n3", DataNode},
		VerifyLinks{},
		RemovePassword{"n1", u, hOld, true}, RemovePassword{"n2", u, hOld, true}, RemovePassword{"n3", u, hOld, true},
		RemovePassword{"s1", u, hOld, true}, RemovePassword{"s2", u, hOld, true}, RemovePassword{"s3", u, hOld, true},
		Persist{"n1", DataNode}, Persist{"n2", DataNode}, Persist{"n3", DataNode},
		Persist{"s1", SentinelNode}, Persist{"s2", SentinelNode}, Persist{"s3", SentinelNode},
		VerifyLinks{},
	}
	if !reflect.DeepEqual(steps, want) {
		t.Errorf("got:\n%s\nwant:\n%s", describe(steps), describe(want))
	}
}

func describe(steps []Step) string {
	var b strings.Builder
	for _, s := range steps {
		fmt.Fprintf(&b, "  %#v\n", s)
	}
	return b.String()
}

// TestRotationResumes interrupts a rotation after each of its steps, for
// each kind of user, and checks a new run plans exactly what was left.
// Verifications leave no trace, so after one the next run repeats it; and
// the final one is not planned again once everything else is done.
func TestRotationResumes(t *testing.T) {
	for _, user := range []string{Default, Admin, Replication, Sentinel, "app"} {
		t.Run(user, func(t *testing.T) {
			st := cluster(user)
			steps, err := NextSteps(st)
			if err != nil {
				t.Fatal(err)
			}
			if len(steps) == 0 {
				t.Fatal("no steps for a rotation not begun")
			}
			for k := 0; k <= len(steps); k++ {
				if k > 0 {
					st = apply(t, st, steps[k-1])
				}
				got, err := NextSteps(st)
				if err != nil {
					t.Fatalf("after step %d (%s): %v", k, describeStep(steps, k), err)
				}
				want := steps[k:]
				if k > 0 && isVerify(steps[k-1]) {
					want = steps[k-1:]
				}
				if !slices.ContainsFunc(want, func(s Step) bool { return !isVerify(s) }) {
					want = nil
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("after step %d (%s):\n got:\n%s\nwant:\n%s", k, describeStep(steps, k), describe(got), describe(want))
				}
			}
			// The end: only the new password, saved everywhere, used by all.
			for _, s := range st.Servers {
				if s.User != nil && (!slices.Equal(s.User.Live, []string{hNew}) || !slices.Equal(s.User.Saved, []string{hNew})) {
					t.Errorf("%s ends with %d live and %d saved passwords, want only the new one", s.Name, len(s.User.Live), len(s.User.Saved))
				}
				for _, c := range []*Secret{s.MasterAuth, s.AuthPass, s.SentinelPass} {
					if c != nil && (c.Live != hNew || c.Saved != hNew) {
						t.Errorf("%s still sends the old password", s.Name)
					}
				}
			}
			if st.Stored != nil && *st.Stored != hNew {
				t.Errorf("redisctl still keeps the old password")
			}
		})
	}
}

func describeStep(steps []Step, k int) string {
	if k == 0 {
		return "none yet"
	}
	return steps[k-1].Describe()
}

func isVerify(s Step) bool { _, ok := s.(VerifyLinks); return ok }

// TestRotationOrder checks the safety rules on every plan of
// TestRotationResumes's users: nothing sends the new password before every
// server has it saved, nothing is removed before every sender is switched
// and saved and the links verified.
func TestRotationOrder(t *testing.T) {
	for _, user := range []string{Default, Admin, Replication, Sentinel, "app"} {
		steps, err := NextSteps(cluster(user))
		if err != nil {
			t.Fatal(err)
		}
		last := func(pred func(Step) bool) int {
			i := -1
			for j, s := range steps {
				if pred(s) {
					i = j
				}
			}
			return i
		}
		first := func(pred func(Step) bool) int {
			return slices.IndexFunc(steps, pred)
		}
		isAdd := func(s Step) bool { _, ok := s.(AddPassword); return ok }
		isRemove := func(s Step) bool { _, ok := s.(RemovePassword); return ok }
		isSwitch := func(s Step) bool {
			switch s.(type) {
			case SwitchMasterAuth, SwitchSentinelAuth, SwitchSentinelPass, SwitchStored:
				return true
			}
			return false
		}
		isPersist := func(s Step) bool { _, ok := s.(Persist); return ok }
		lastAdd, firstSwitch, lastSwitch, firstRemove := last(isAdd), first(isSwitch), last(isSwitch), first(isRemove)
		if firstSwitch >= 0 && first(func(s Step) bool { return isPersist(s) }) > firstSwitch {
			t.Errorf("%s: a sender is switched before the new password is saved", user)
		}
		if firstSwitch >= 0 && lastAdd > firstSwitch {
			t.Errorf("%s: a sender is switched before every server has the new password", user)
		}
		if firstRemove < 0 || !isVerify(steps[firstRemove-1]) || lastSwitch > firstRemove {
			t.Errorf("%s: removal does not follow every switch and a verification:\n%s", user, describe(steps))
		}
		if !isVerify(steps[len(steps)-1]) {
			t.Errorf("%s: the plan does not end with a verification", user)
		}
		for _, s := range steps {
			d := s.Describe()
			if strings.Contains(d, hOld) || strings.Contains(d, hNew) || strings.Contains(d, "secret") && !strings.Contains(d, "sentinel") {
				t.Errorf("%s: %q shows a password", user, d)
			}
		}
	}
}

func TestRotationCases(t *testing.T) {
	stray := HashPassword("left by an abandoned rotation")
	for _, tc := range []struct {
		name   string
		user   string
		change func(st *RotationState)
		want   []Step
	}{
		{
			name: "finished",
			user: Replication,
			change: func(st *RotationState) {
				for i := range st.Servers {
					s := &st.Servers[i]
					if s.User != nil {
						s.User.Live, s.User.Saved = []string{hNew}, []string{hNew}
					}
					if s.MasterAuth != nil {
						*s.MasterAuth = Secret{hNew, hNew}
					}
				}
			},
			want: nil,
		},
		{
			// n2 restarted from a file saved before the add reached it, and
			// n1 already replicates with the new password: adding it again
			// mends the link.
			name: "a server lost the new password that a sender uses",
			user: Replication,
			change: func(st *RotationState) {
				for i := range st.Servers {
					if u := st.Servers[i].User; u != nil && st.Servers[i].Name != "n2" {
						u.Live, u.Saved = []string{hOld, hNew}, []string{hOld, hNew}
					}
				}
				*st.Servers[0].MasterAuth = Secret{hNew, hNew}
			},
			want: []Step{
				AddPassword{"n2", Replication, hNew}, Persist{"n2", DataNode},
				SwitchMasterAuth{"n2"}, SwitchMasterAuth{"n3"},
				Persist{"n2", DataNode}, Persist{"n3", DataNode},
				VerifyLinks{},
				RemovePassword{"n1", Replication, hOld, true}, RemovePassword{"n2", Replication, hOld, true}, RemovePassword{"n3", Replication, hOld, true},
				Persist{"n1", DataNode}, Persist{"n2", DataNode}, Persist{"n3", DataNode},
				VerifyLinks{},
			},
		},
		{
			name: "a password nobody knows is removed with the old one",
			user: "app",
			change: func(st *RotationState) {
				st.Servers[1].User.Live = []string{hOld, stray}
				st.Servers[1].User.Saved = []string{hOld, stray}
			},
			want: []Step{
				AddPassword{"n1", "app", hNew}, AddPassword{"n2", "app", hNew}, AddPassword{"n3", "app", hNew},
				Persist{"n1", DataNode}, Persist{"n2", DataNode}, Persist{"n3", DataNode},
				VerifyLinks{},
				RemovePassword{"n1", "app", hOld, true},
				RemovePassword{"n2", "app", hOld, true}, RemovePassword{"n2", "app", stray, false},
				RemovePassword{"n3", "app", hOld, true},
				Persist{"n1", DataNode}, Persist{"n2", DataNode}, Persist{"n3", DataNode},
				VerifyLinks{},
			},
		},
		{
			// A sentinel whose SENTINEL SET was not saved (a failed config
			// rewrite) is saved before the old password goes.
			name: "a sentinel switched but not saved",
			user: Sentinel,
			change: func(st *RotationState) {
				for i := range st.Servers {
					if u := st.Servers[i].User; u != nil {
						u.Live, u.Saved = []string{hOld, hNew}, []string{hOld, hNew}
					}
					if c := st.Servers[i].AuthPass; c != nil {
						*c = Secret{hNew, hNew}
					}
				}
				st.Servers[4].AuthPass.Saved = hOld
			},
			want: []Step{
				Persist{"s2", SentinelNode},
				VerifyLinks{},
				RemovePassword{"n1", Sentinel, hOld, true}, RemovePassword{"n2", Sentinel, hOld, true}, RemovePassword{"n3", Sentinel, hOld, true},
				Persist{"n1", DataNode}, Persist{"n2", DataNode}, Persist{"n3", DataNode},
				VerifyLinks{},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := cluster(tc.user)
			tc.change(&st)
			got, err := NextSteps(st)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got:\n%s\nwant:\n%s", describe(got), describe(tc.want))
			}
		})
	}
}

func TestRotationRefuses(t *testing.T) {
	unknown := HashPassword("something else")
	for _, tc := range []struct {
		name    string
		user    string
		change  func(st *RotationState)
		wantErr []string
	}{
		{
			name: "old password gone where a replica still sends it",
			user: Replication,
			change: func(st *RotationState) {
				for i := range st.Servers {
					if u := st.Servers[i].User; u != nil {
						u.Live, u.Saved = []string{hOld, hNew}, []string{hOld, hNew}
					}
				}
				st.Servers[1].User.Live = []string{hNew}
			},
			wantErr: []string{"data node n2 no longer accepts the old password", "masterauth of n1 still uses it", "look at n2"},
		},
		{
			name: "old password gone on a sentinel redisctl logs in to with it",
			user: Admin,
			change: func(st *RotationState) {
				st.Servers[5].User.Live = []string{hNew}
			},
			wantErr: []string{"sentinel s3 no longer accepts the old password", "redisctl's stored secret still uses it"},
		},
		{
			name: "old password gone on a sentinel another sentinel sends it to",
			user: Default,
			change: func(st *RotationState) {
				for i := range st.Servers {
					s := &st.Servers[i]
					s.User.Live = []string{hOld, hNew}
					for _, c := range []*Secret{s.MasterAuth, s.AuthPass} {
						if c != nil {
							*c = Secret{hNew, hNew}
						}
					}
				}
				n := hNew
				st.Stored = &n
				st.Servers[3].User.Live = []string{hNew}
			},
			wantErr: []string{"sentinel s1 no longer accepts the old password", "sentinel sentinel-pass of s1 still uses it"},
		},
		{
			name:    "a sender with a password that is neither",
			user:    Sentinel,
			change:  func(st *RotationState) { st.Servers[4].AuthPass.Live = unknown },
			wantErr: []string{"sentinel auth-pass of s2 is neither the old nor the new password"},
		},
		{
			name:    "the same password",
			user:    "app",
			change:  func(st *RotationState) { st.New = st.Old },
			wantErr: []string{"the new password is the old one"},
		},
		{
			name:    "not a hash",
			user:    "app",
			change:  func(st *RotationState) { st.New = "new-secret" },
			wantErr: []string{"new password: a password hash is 64 hex digits"},
		},
		{
			name:    "a server twice",
			user:    "app",
			change:  func(st *RotationState) { st.Servers = append(st.Servers, st.Servers[0]) },
			wantErr: []string{"server n1 is listed twice"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := cluster(tc.user)
			tc.change(&st)
			steps, err := NextSteps(st)
			if err == nil {
				t.Fatalf("no error; steps:\n%s", describe(steps))
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), hOld) || strings.Contains(err.Error(), hNew) || strings.Contains(err.Error(), "new-secret") {
				t.Errorf("error %q shows a password", err)
			}
			if steps != nil {
				t.Errorf("steps with an error: %v", steps)
			}
		})
	}
}
