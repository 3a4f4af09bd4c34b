package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLab checks the lab itself, so that a failure of a later test points at
// redisctl and not at the hosts: logins, sudo, names, separation between
// hosts, and that sshd refuses what it should.
func TestLab(t *testing.T) {
	hosts := labHosts()
	if len(hosts) < 3 {
		t.Fatalf("lab has %d hosts, want at least 3", len(hosts))
	}

	for _, h := range hosts {
		t.Run("login/"+h.Name, func(t *testing.T) {
			out, err := sshRun(t, h.Name, "hostname")
			if err != nil {
				t.Fatal(err)
			}
			if out != h.Name {
				t.Errorf("hostname = %q, want %q", out, h.Name)
			}
			if _, err := sshRun(t, h.Name, "sudo -n true"); err != nil {
				t.Errorf("passwordless sudo: %v", err)
			}
			if out, err := sshRun(t, h.Name, "sudo -n id -u"); err != nil || out != "0" {
				t.Errorf("sudo -n id -u = %q, %v; want 0", out, err)
			}
			// Without SSH, from the control side.
			if out, err := hostExec(t, h.Name, "hostname"); err != nil || out != h.Name {
				t.Errorf("nsenter hostname = %q, %v; want %q", out, err, h.Name)
			}
			// Every host reaches every other by name (Redis replication and
			// Sentinel need it), over the bridge.
			for _, o := range hosts {
				if o == h {
					continue
				}
				cmd := fmt.Sprintf("getent hosts %s && timeout 3 bash -c 'exec 3<>/dev/tcp/%s/22'", o.Name, o.Name)
				out, err := sshRun(t, h.Name, cmd)
				if err != nil {
					t.Errorf("%s cannot reach %s: %v", h.Name, o.Name, err)
				} else if !strings.HasPrefix(out, o.Addr+" ") {
					t.Errorf("%s resolves %s to %q, want %s", h.Name, o.Name, out, o.Addr)
				}
			}
		})
	}

	t.Run("own host keys", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(labState(), "known_hosts"))
		if err != nil {
			t.Fatal(err)
		}
		owner := map[string]string{} // ed25519 key -> address
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 3 || f[1] != "ssh-ed25519" {
				continue
			}
			if prev, ok := owner[f[2]]; ok {
				t.Errorf("%s and %s have the same host key", prev, f[0])
			}
			owner[f[2]] = f[0]
		}
		for _, h := range hosts {
			found := false
			for _, addr := range owner {
				found = found || addr == h.Addr
			}
			if !found {
				t.Errorf("known_hosts has no ed25519 key for %s", h.Addr)
			}
		}
	})

	t.Run("files are per host", func(t *testing.T) {
		tag := fmt.Sprintf("rctl-lab-test-%d", time.Now().UnixNano())
		tmp, etc := "/tmp/"+tag, "/etc/"+tag
		t.Cleanup(func() { _, _ = sshRun(t, "node1", "sudo -n rm -f "+tmp+" "+etc) })
		if _, err := sshRun(t, "node1", "touch "+tmp+" && sudo -n touch "+etc); err != nil {
			t.Fatal(err)
		}
		if _, err := sshRun(t, "node1", "test -e "+tmp+" && test -e "+etc); err != nil {
			t.Fatalf("files made on node1 are not there: %v", err)
		}
		for _, other := range hosts[1:] {
			out, err := sshRun(t, other.Name, "ls -d "+tmp+" "+etc+" 2>/dev/null; true")
			if err != nil {
				t.Fatal(err)
			}
			if out != "" {
				t.Errorf("files made on node1 are visible on %s: %q", other.Name, out)
			}
		}
		// /etc writes land in node1's own upper layer, which the control
		// side can inspect.
		if _, err := os.Stat(filepath.Join(labState(), "hosts", "node1", "upper", "etc", tag)); err != nil {
			t.Errorf("node1's /etc write not in its upper layer: %v", err)
		}
	})

	t.Run("processes are per host", func(t *testing.T) {
		pid, err := sshRun(t, "node1", "sleep 300 </dev/null >/dev/null 2>&1 & echo $!")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = sshRun(t, "node1", "kill "+pid) })
		out, err := sshRun(t, "node1", "ps -eo pid=,args=")
		if err != nil {
			t.Fatal(err)
		}
		if !containsProc(out, pid, "sleep 300") {
			t.Fatalf("node1 ps does not show its sleep 300 (pid %s):\n%s", pid, out)
		}
		if out, err := hostExec(t, "node1", "ps", "-eo", "pid=,args="); err != nil || !containsProc(out, pid, "sleep 300") {
			t.Errorf("nsenter ps on node1 does not show sleep 300 (pid %s): %v\n%s", pid, err, out)
		}
		for _, other := range hosts[1:] {
			out, err := sshRun(t, other.Name, "ps -eo pid=,args=")
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out, "sleep 300") {
				t.Errorf("node1's sleep 300 is visible on %s:\n%s", other.Name, out)
			}
		}
	})

	t.Run("root login refused", func(t *testing.T) {
		// Give root the lab key, so only PermitRootLogin no can refuse it.
		pub, err := os.ReadFile(filepath.Join(labState(), "id_ed25519.pub"))
		if err != nil {
			t.Fatal(err)
		}
		const keys = "/root/.ssh/authorized_keys"
		script := fmt.Sprintf("install -d -m 0700 /root/.ssh && printf '%%s\\n' '%s' >%s && chmod 0600 %s",
			strings.TrimSpace(string(pub)), keys, keys)
		if _, err := hostExec(t, "node1", "sh", "-c", script); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = hostExec(t, "node1", "rm", "-f", keys) })
		h := hosts[0]
		out, err := runSSH(t, sshArgs("root", h.Addr, filepath.Join(labState(), "id_ed25519")), h.Name, "id -u")
		if err == nil {
			t.Fatalf("root logged in to %s (id -u = %q)", h.Name, out)
		}
		if !strings.Contains(err.Error(), "Permission denied") {
			t.Errorf("root login failed, but not as refused: %v", err)
		}
		log, _ := os.ReadFile(filepath.Join(labState(), "hosts", h.Name, "sshd.log"))
		if labKind() == "systemd" { // sshd logs to the journal
			out, _ := hostExec(t, h.Name, "journalctl", "--no-pager", "-q", "-u", "ssh")
			log = []byte(out)
		}
		if !strings.Contains(string(log), "ROOT LOGIN REFUSED") {
			t.Errorf("%s's sshd log does not say it refused root", h.Name)
		}
	})

	t.Run("wrong key refused", func(t *testing.T) {
		key := filepath.Join(t.TempDir(), "id_ed25519")
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
		h := hosts[0]
		out, err := runSSH(t, sshArgs("deploy", h.Addr, key), h.Name, "id -u")
		if err == nil {
			t.Fatalf("a key not in authorized_keys logged in to %s (id -u = %q)", h.Name, out)
		}
		if !strings.Contains(err.Error(), "Permission denied") {
			t.Errorf("login with a wrong key failed, but not as refused: %v", err)
		}
	})
}

// TestLabForwarding checks that the lab's sshd forwards TCP (redisctl tunnels the
// Redis protocol): through node1, read node2's SSH banner.
func TestLabForwarding(t *testing.T) {
	hosts := labHosts()
	via, target := hosts[0], hosts[1].Addr+":22"
	args := sshArgs("deploy", via.Addr, filepath.Join(labState(), "id_ed25519"), "-W", target)
	cmd := exec.Command("ssh", args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	banner := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		banner <- line
	}()
	select {
	case line := <-banner:
		if !strings.HasPrefix(line, "SSH-2.0-") {
			t.Fatalf("through %s to %s: got %q, want an SSH banner; ssh said: %s", via.Name, target, line, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("through %s to %s: no banner in 15 s; ssh said: %s", via.Name, target, stderr.String())
	}
}

// containsProc reports whether ps output ("pid args" lines) has pid running args.
func containsProc(ps, pid, args string) bool {
	for _, line := range strings.Split(ps, "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && f[0] == pid && strings.Join(f[1:], " ") == args {
			return true
		}
	}
	return false
}
