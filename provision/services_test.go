package provision

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLivePidScript runs the pid check with the local shell against real
// processes: a pid file is believed only when it names a live process that
// runs the expected executable, and never through a symbolic link.
func TestLivePidScript(t *testing.T) {
	sleepBin, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	sleep := exec.Command(sleepBin, "30")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sleep.Process.Kill(); _ = sleep.Wait() }()
	pid := strconv.Itoa(sleep.Process.Pid)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.pid", pid+"\n")
	link := filepath.Join(dir, "link.pid")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	self := write("self.pid", strconv.Itoa(os.Getpid()))
	// A copy of sleep whose file is replaced while it runs, as an upgrade
	// replaces redis-server: its /proc/PID/exe reads "PATH (deleted)".
	data, err := os.ReadFile(sleepBin)
	if err != nil {
		t.Fatal(err)
	}
	upgraded := filepath.Join(dir, "upgraded")
	if err := os.WriteFile(upgraded, data, 0o755); err != nil {
		t.Fatal(err)
	}
	old := exec.Command(upgraded, "30")
	if err := old.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = old.Process.Kill(); _ = old.Wait() }()
	if err := os.Remove(upgraded); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(upgraded, data, 0o755); err != nil {
		t.Fatal(err)
	}
	oldPid := strconv.Itoa(old.Process.Pid)
	exeLink := filepath.Join(dir, "exe-link")
	if err := os.Symlink(sleepBin, exeLink); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, file, exe, want string
	}{
		{"our process", good, sleepBin, pid},
		{"our process, its executable named through a link", good, exeLink, pid},
		{"our process, its executable replaced while it runs", write("old.pid", oldPid+"\n"), upgraded, oldPid},
		{"another executable replaced while it runs", write("old2.pid", oldPid+"\n"), sleepBin, ""},
		{"another program's pid", self, sleepBin, ""},
		{"our pid but another executable", good, "/usr/local/bin/redis-server", ""},
		{"a symbolic link", link, sleepBin, ""},
		{"garbage", write("garbage.pid", "12; rm -rf /"), sleepBin, ""},
		{"empty", write("empty.pid", ""), sleepBin, ""},
		{"missing", filepath.Join(dir, "missing.pid"), sleepBin, ""},
		{"dead pid", write("dead.pid", "999999999"), sleepBin, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := exec.Command("sh", "-c", livePidScript(c.file, c.exe)).CombinedOutput()
			if err != nil {
				t.Fatalf("script failed: %v: %s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != c.want {
				t.Errorf("livePid(%s) = %q, want %q", c.name, got, c.want)
			}
		})
	}
}
