package render

import (
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInitScript drives the rendered SysV init script through start,
// status, stop and the failure paths, with a real redis-server. It needs
// root (the script chowns and switches user) and runs the server as the
// redis user, or as daemon on a machine without one.
func TestInitScript(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the init script test needs root: it changes owners and runs Redis as another user")
	}
	bin := redisServer(t)
	runAs := serviceUser(t)
	uid, gid := ids(t, runAs)

	// A directory the service user can reach (t.TempDir's parents are 0700).
	dir, err := os.MkdirTemp("", "redisctl-init-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	inv := testInventory("init-test-pw", "10.231.0.11", "10.231.0.12")
	svc, _ := NewServices(inv)
	conf, err := NewRedisConf(inv, &inv.Hosts[0], inv.Hosts[0].Address, InitSysV)
	if err != nil {
		t.Fatal(err)
	}
	conf.Path = filepath.Join(dir, "redis.conf")
	conf.Port = freePort(t)
	conf.Bind = []string{"127.0.0.1"}
	conf.PidFile = filepath.Join(dir, "run", "redis.pid") // run/ is made by the script
	conf.LogFile = filepath.Join(dir, "redis.log")        // and so is the log
	conf.Dir = filepath.Join(dir, "data")
	svc.Command = []string{bin, conf.Path}
	svc.PidFile, svc.LogFile, svc.User = conf.PidFile, conf.LogFile, runAs
	svc.StartWait, svc.StopWait = 2, 10

	if err := os.Mkdir(conf.Dir, 0o750); err != nil {
		t.Fatal(err)
	}
	data, err := RenderRedisConf(conf)
	if err != nil {
		t.Fatal(err)
	}
	script, err := RenderInitScript(svc)
	if err != nil {
		t.Fatal(err)
	}
	scriptPath := filepath.Join(dir, svc.Name)
	for _, f := range []struct {
		path  string
		data  []byte
		mode  os.FileMode
		owned bool
	}{
		{conf.Path, data, 0o640, true},
		{scriptPath, script, 0o755, false},
	} {
		if err := os.WriteFile(f.path, f.data, f.mode); err != nil {
			t.Fatal(err)
		}
		if f.owned {
			if err := os.Chown(f.path, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The server rewrites its config through a temporary file beside it.
	for _, d := range []string{conf.Dir, dir} {
		if err := os.Chown(d, uid, gid); err != nil {
			t.Fatal(err)
		}
	}

	run := func(action string, wantStatus int) string {
		t.Helper()
		cmd := exec.Command("/bin/sh", scriptPath, action)
		out, err := cmd.CombinedOutput()
		status := 0
		if ee, ok := err.(*exec.ExitError); ok {
			status = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if status != wantStatus {
			t.Fatalf("%s %s: exit status %d, want %d\n%s", svc.Name, action, status, wantStatus, out)
		}
		return string(out)
	}
	t.Cleanup(func() { exec.Command("/bin/sh", scriptPath, "stop").Run() })

	if out := run("status", 3); out != svc.Name+" is not running\n" {
		t.Errorf("status before start: %q", out)
	}
	out := run("start", 0)
	pid := pidFrom(t, conf.PidFile)
	if want := "Starting " + svc.Name + "...\n" + svc.Name + " started (" + strconv.Itoa(pid) + ")\n"; out != want {
		t.Errorf("start: %q, want %q", out, want)
	}
	if out := run("status", 0); out != svc.Name+" is running ("+strconv.Itoa(pid)+")\n" {
		t.Errorf("status: %q", out)
	}
	if out := run("start", 0); out != svc.Name+" is already running ("+strconv.Itoa(pid)+")\n" {
		t.Errorf("second start: %q", out)
	}
	if got := procUID(t, pid); got != uid {
		t.Errorf("redis-server runs as uid %d, want %d (%s)", got, uid, runAs)
	}
	for _, p := range []string{filepath.Dir(conf.PidFile), conf.LogFile} {
		if st, err := os.Stat(p); err != nil || st.Sys().(*syscall.Stat_t).Uid != uint32(uid) {
			t.Errorf("%s: not owned by %s (%v)", p, runAs, err)
		}
	}
	// The umask the script sets keeps a rewritten config (it holds the
	// password) away from other users.
	c := dial(t, "127.0.0.1:"+strconv.Itoa(conf.Port))
	c.must("AUTH", "init-test-pw")
	c.must("CONFIG", "REWRITE")
	if st, err := os.Stat(conf.Path); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("rewritten config: mode %v, %v; want 0640", st.Mode().Perm(), err)
	}

	if out := run("stop", 0); out != "Stopping "+svc.Name+" ("+strconv.Itoa(pid)+")...\n"+svc.Name+" stopped\n" {
		t.Errorf("stop: %q", out)
	}
	if alive(pid) {
		t.Errorf("pid %d still alive after stop", pid)
	}
	if _, err := os.Stat(conf.PidFile); !os.IsNotExist(err) {
		t.Errorf("pid file left after stop: %v", err)
	}
	run("status", 3)
	if out := run("stop", 0); out != svc.Name+" is not running\n" {
		t.Errorf("stop when stopped: %q", out)
	}

	// A stale pid file naming another program: not ours, never signalled.
	if err := os.WriteFile(conf.PidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run("status", 3)
	if out := run("stop", 0); out != svc.Name+" is not running\n" {
		t.Errorf("stop with a stale pid file: %q", out)
	}

	// restart from stopped starts it.
	run("restart", 0)
	if pid = pidFrom(t, conf.PidFile); !alive(pid) {
		t.Errorf("restart from stopped did not start the server (pid %d)", pid)
	}
	run("stop", 0)

	// A config Redis refuses: start fails and shows why.
	bad := append(append([]byte{}, data...), "no-such-directive yes\n"...)
	if err := os.WriteFile(conf.Path, bad, 0o640); err != nil {
		t.Fatal(err)
	}
	out = run("start", 1)
	t.Logf("start with a bad config says:\n%s", out)
	if !strings.Contains(out, "Bad directive or wrong number of arguments") {
		t.Errorf("start with a bad config does not say why:\n%s", out)
	}
	run("status", 3)

	// The server forks, then fails (its port is taken): start waits
	// StartWait seconds for the pid file, then fails with the log's tail.
	if err := os.WriteFile(conf.Path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(conf.Port))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	out = run("start", 1)
	if !strings.Contains(out, svc.Name+" did not start within 2s; last lines of "+conf.LogFile) ||
		!strings.Contains(out, "Address already in use") {
		t.Errorf("start on a busy port:\n%s", out)
	}
	t.Logf("start on a busy port says:\n%s", out)

	run("usage", 2)
}

// serviceUser is the user the test runs Redis as: one whose group has the
// same name, as the script assumes.
func serviceUser(t *testing.T) string {
	for _, name := range []string{RedisUser, "daemon"} {
		if _, err := user.Lookup(name); err != nil {
			continue
		}
		if _, err := user.LookupGroup(name); err == nil {
			return name
		}
	}
	t.Skip("no redis or daemon user with a group of the same name")
	return ""
}

func ids(t *testing.T, name string) (int, int) {
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uid, gid
}

func pidFrom(t *testing.T, pidFile string) int {
	t.Helper()
	var data []byte
	var err error
	for range 20 { // Redis writes the file right after it forks
		if data, err = os.ReadFile(pidFile); err == nil && len(data) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	pid, perr := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || perr != nil {
		t.Fatalf("pid file %s: %q, %v", pidFile, data, err)
	}
	return pid
}

func procUID(t *testing.T, pid int) int {
	st, err := os.Stat("/proc/" + strconv.Itoa(pid))
	if err != nil {
		t.Fatal(err)
	}
	return int(st.Sys().(*syscall.Stat_t).Uid)
}

// alive is the script's notion: the process exists and is not a zombie
// (orphans wait for PID 1 to reap them, which may take a while).
func alive(pid int) bool {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "State:"); ok {
			return !strings.HasPrefix(strings.TrimSpace(v), "Z")
		}
	}
	return true
}
