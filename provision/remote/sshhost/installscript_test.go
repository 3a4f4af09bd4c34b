package sshhost

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstallScriptNeverFollowsLinks runs the root install step with the
// local shell: a link planted at the destination or at the temporary name
// must not let the write, chown or chmod reach the link's target.
func TestInstallScriptNeverFollowsLinks(t *testing.T) {
	owner := fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	setup := func(t *testing.T, dirMode fs.FileMode) (dir, victim, staged, stageDir string) {
		base := t.TempDir()
		dir = filepath.Join(base, "conf")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, dirMode); err != nil {
			t.Fatal(err)
		}
		victim = filepath.Join(base, "victim")
		if err := os.WriteFile(victim, []byte("precious\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		stageDir = filepath.Join(base, "stage")
		if err := os.Mkdir(stageDir, 0o700); err != nil {
			t.Fatal(err)
		}
		staged = filepath.Join(stageDir, "data")
		if err := os.WriteFile(staged, []byte("new content\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	run := func(script string) (string, error) {
		out, err := exec.Command("sh", "-c", script).CombinedOutput()
		return string(out), err
	}
	victimIntact := func(t *testing.T, victim string) {
		t.Helper()
		data, err := os.ReadFile(victim)
		if err != nil || string(data) != "precious\n" {
			t.Errorf("victim changed: %q %v", data, err)
		}
		if st, err := os.Stat(victim); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("victim mode changed: %v %v", st.Mode(), err)
		}
	}

	t.Run("a link at the destination is refused by name", func(t *testing.T) {
		dir, victim, staged, stageDir := setup(t, 0o777)
		dest := filepath.Join(dir, "redis.conf")
		if err := os.Symlink(victim, dest); err != nil {
			t.Fatal(err)
		}
		out, err := run(installScript(staged, stageDir, dest, 0o640, owner))
		if err == nil {
			t.Fatalf("install through a link succeeded: %s", out)
		}
		if !strings.Contains(out, dest+" is a symbolic link") {
			t.Errorf("message does not name the link: %q", out)
		}
		victimIntact(t, victim)
	})

	t.Run("a link at the temporary name is not written through", func(t *testing.T) {
		dir, victim, staged, stageDir := setup(t, 0o777)
		dest := filepath.Join(dir, "redis.conf")
		// The link is planted between rm and create: a link that survives
		// rm is simulated by a directory-writable race that rm cannot win,
		// so plant it and make the script's rm a no-op by name.
		tmp := filepath.Join(dir, ".redis.conf.redisctl-tmp")
		script := installScript(staged, stageDir, dest, 0o640, owner)
		script = strings.Replace(script, `rm -f -- "$t" &&`, `ln -s `+victim+` "$t" &&`, 1)
		out, err := run(script)
		if err == nil {
			t.Fatalf("install through a planted temporary link succeeded: %s", out)
		}
		victimIntact(t, victim)
		if _, err := os.Lstat(tmp); err == nil {
			if st, _ := os.Lstat(tmp); st.Mode()&fs.ModeSymlink == 0 {
				t.Errorf("left a temporary file behind")
			}
		}
		if _, err := os.Stat(dest); err == nil {
			t.Errorf("destination written although the temporary file could not be")
		}
	})

	t.Run("an executable is refused in a directory others can write", func(t *testing.T) {
		dir, _, staged, stageDir := setup(t, 0o777)
		dest := filepath.Join(dir, "script")
		out, err := run(installScript(staged, stageDir, dest, 0o755, owner))
		if err == nil || !strings.Contains(out, "writable by a user other than root") {
			t.Fatalf("want a refusal, got %v: %s", err, out)
		}
	})

	t.Run("a config in a shared directory gets its mode from the umask", func(t *testing.T) {
		dir, _, staged, stageDir := setup(t, 0o777)
		dest := filepath.Join(dir, "redis.conf")
		if out, err := run(installScript(staged, stageDir, dest, 0o640, owner)); err != nil {
			t.Fatalf("install: %v: %s", err, out)
		}
		st, err := os.Lstat(dest)
		if err != nil || st.Mode() != 0o640 {
			t.Fatalf("dest mode %v, want 0640 (%v)", st.Mode(), err)
		}
		if data, _ := os.ReadFile(dest); string(data) != "new content\n" {
			t.Errorf("dest content %q", data)
		}
		if _, err := os.Stat(stageDir); err == nil {
			t.Errorf("staging directory left behind")
		}
	})

	t.Run("an executable in a private directory gets its mode", func(t *testing.T) {
		dir, _, staged, stageDir := setup(t, 0o755)
		if os.Getuid() != 0 {
			t.Skip("a directory owned by a non-root user counts as shared; this case needs root")
		}
		dest := filepath.Join(dir, "script")
		if out, err := run(installScript(staged, stageDir, dest, 0o755, owner)); err != nil {
			t.Fatalf("install: %v: %s", err, out)
		}
		if st, err := os.Stat(dest); err != nil || st.Mode().Perm() != 0o755 {
			t.Fatalf("dest mode %v, want 0755 (%v)", st.Mode(), err)
		}
	})
}
