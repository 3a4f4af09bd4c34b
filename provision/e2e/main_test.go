// Package e2e holds the end-to-end tests that run redisctl against the local
// lab: hosts node1..nodeN made by testdata/lab/lab.sh from Linux namespaces on
// this machine, each with its own sshd. They need root and REDISCTL_LAB=1;
// otherwise TestMain says loudly that they were skipped and runs none.
//
// TestMain brings the lab up before the tests and down after them, then fails
// the run if anything of the lab is left behind. REDISCTL_LAB_KEEP=1 leaves
// the lab up for debugging (lab.sh down removes it).
//
// Helpers for the tests of this package:
//
//	repoRoot()                     module root (directory holding go.mod)
//	labScript()                    path of testdata/lab/lab.sh
//	labState()                     lab state dir (REDISCTL_LAB_STATE or <repo>/.lab)
//	labInventory()                 the ready inventory.yaml for the lab
//	labHosts()                     the inventory's hosts, in order
//	labUp(t, n)                    make sure hosts node1..nodeN run (n=4 adds node4)
//	sshRun(t, host, cmd)           run cmd on a host as deploy over real SSH
//	hostExec(t, host, args...)     run a program inside a host's namespaces, no SSH
//	hostPID(host)                  the host's sshd, PID 1 of its PID namespace
package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// labPrefix starts the names of the lab's network namespaces and links.
const labPrefix = "rctl-"

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	if why := labUnavailable(); why != "" {
		fmt.Fprintf(os.Stderr, `
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!!
!!  LAB TESTS SKIPPED: provision/e2e ran NO test.
!!  Reason: %s
!!
!!  These end-to-end tests need the three-host lab (network namespaces,
!!  mounts), so root. To run them:
!!      sudo REDISCTL_LAB=1 go test -count=1 -v ./provision/e2e/
!!  or  sudo make lab-test
!!
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!

`, why)
		// go test shows a passing package's output only with -v; this line
		// makes it add "[no tests to run]" to the package's ok line.
		fmt.Println("testing: warning: no tests to run")
		return 0
	}

	// One e2e run at a time per machine: the lab's names and addresses are
	// the machine's, and a run's final down would pull the lab from under
	// another's feet.
	unlock, err := lockLab()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer unlock()

	if err := runLab(nil, "up"); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: lab.sh up failed: %v\n", err)
		if os.Getenv("REDISCTL_LAB_KEEP") != "1" {
			_ = runLab(nil, "down")
		}
		return 1
	}

	code := m.Run()

	if os.Getenv("REDISCTL_LAB_KEEP") == "1" {
		fmt.Fprintf(os.Stderr, "e2e: REDISCTL_LAB_KEEP=1: the lab stays up; 'bash %s down' removes it\n", labScript())
		return code
	}
	pids := labPIDs()
	if err := runLab(nil, "down"); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: lab.sh down failed: %v\n", err)
		code = 1
	}
	if left := labLeftovers(pids); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "e2e: FAIL: the lab left things behind after down:\n  %s\n",
			strings.Join(left, "\n  "))
		code = 1
	}
	return code
}

// e2eLock is held for a whole run of this package's tests.
const e2eLock = "/run/lock/redisctl-lab-e2e.lock"

// lockLab takes e2eLock, waiting (and saying so) while another run holds it.
func lockLab() (unlock func(), err error) {
	f, err := os.OpenFile(e2eLock, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lab lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: another lab test run holds %s; waiting for it\n", e2eLock)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("lab lock %s: %w", e2eLock, err)
		}
	}
	return func() { f.Close() }, nil
}

// labUnavailable says why the lab tests cannot run here, or "" if they can.
func labUnavailable() string {
	if os.Getenv("REDISCTL_LAB") != "1" {
		return "REDISCTL_LAB is not 1 (it is " + strconv.Quote(os.Getenv("REDISCTL_LAB")) + ")"
	}
	if os.Geteuid() != 0 {
		return "not running as root"
	}
	return ""
}

// repoRoot returns the module root: the nearest directory at or above the
// working directory that holds go.mod. It panics when there is none, which
// only happens when the tests run from outside the module.
func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			panic("e2e: no go.mod above the working directory")
		}
		dir = parent
	}
}

// labScript is the path of the lab's control script.
func labScript() string { return filepath.Join(repoRoot(), "testdata", "lab", "lab.sh") }

// labState returns the absolute path of the lab's state dir: keys,
// known_hosts, inventory.yaml, pid files and per-host overlay layers (a
// host's writes land in <state>/hosts/<name>/upper).
func labState() string {
	dir := os.Getenv("REDISCTL_LAB_STATE")
	if dir == "" {
		return filepath.Join(repoRoot(), ".lab")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		panic(err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real // lab.sh resolves symlinks too
	}
	return abs
}

// labInventory returns the path of the inventory lab.sh up wrote for the lab:
// master node1, the others replicas, SSH as deploy with the lab's key and
// known_hosts, the cached Redis source tarball.
func labInventory() string { return filepath.Join(labState(), "inventory.yaml") }

// labHost is one lab host as the inventory names it.
type labHost struct {
	Name string // node1, node2, ...
	Addr string // IP address on the lab bridge
}

var hostLine = regexp.MustCompile(`^\s*-\s*\{name:\s*([^,\s]+),\s*address:\s*([^,\s]+),`)

// labHosts returns the hosts of the lab's inventory in order (node1 first).
// It panics when the inventory cannot be read or names no host, so a test
// never loops over nothing and passes.
func labHosts() []labHost {
	f, err := os.Open(labInventory())
	if err != nil {
		panic(fmt.Sprintf("e2e: lab inventory: %v (is the lab up?)", err))
	}
	defer f.Close()
	var hosts []labHost
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := hostLine.FindStringSubmatch(sc.Text()); m != nil {
			hosts = append(hosts, labHost{Name: m[1], Addr: m[2]})
		}
	}
	if err := sc.Err(); err != nil {
		panic(fmt.Sprintf("e2e: reading %s: %v", labInventory(), err))
	}
	if len(hosts) == 0 {
		panic("e2e: " + labInventory() + " names no hosts")
	}
	return hosts
}

// findHost looks a lab host up by name or address.
func findHost(host string) (labHost, error) {
	for _, h := range labHosts() {
		if h.Name == host || h.Addr == host {
			return h, nil
		}
	}
	return labHost{}, fmt.Errorf("no lab host %q in %s", host, labInventory())
}

// runLab runs lab.sh with args and extra environment (KEY=value), its output
// going to stderr (to the test log when t is not nil).
func runLab(t testing.TB, args ...string) error {
	return runLabEnv(t, nil, args...)
}

func runLabEnv(t testing.TB, env []string, args ...string) error {
	cmd := exec.Command("bash", append([]string{labScript()}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	if t == nil {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		return cmd.Run()
	}
	t.Helper()
	out, err := cmd.CombinedOutput()
	t.Logf("lab.sh %s:\n%s", strings.Join(args, " "), out)
	if err != nil {
		return fmt.Errorf("lab.sh %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// labUp makes sure hosts node1..node<hosts> run, adding missing ones and
// keeping the others, and rewrites inventory.yaml to list exactly those
// hosts. Hosts beyond <hosts> from an earlier larger call keep running.
func labUp(t testing.TB, hosts int) {
	t.Helper()
	if err := runLabEnv(t, []string{"REDISCTL_LAB_HOSTS=" + strconv.Itoa(hosts)}, "up"); err != nil {
		t.Fatal(err)
	}
}

// hostPID returns the PID (in this PID namespace) of the host's sshd, which
// is PID 1 of the host's PID namespace: killing it ends the whole host.
func hostPID(host string) (int, error) {
	h, err := findHost(host)
	if err != nil {
		return 0, err
	}
	b, err := os.ReadFile(filepath.Join(labState(), "hosts", h.Name, "sshd.pid"))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", h.Name, err)
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// sshArgs returns the ssh(1) arguments to log in to addr as user with the
// given key, strict host-key checking against the lab's known_hosts, and no
// user or system ssh configuration, agent or password prompt involved. extra
// options go before the destination.
func sshArgs(user, addr, identity string, extra ...string) []string {
	args := []string{
		"-F", "/dev/null",
		"-i", identity,
		"-o", "IdentitiesOnly=yes",
		"-o", "IdentityAgent=none",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile=" + filepath.Join(labState(), "known_hosts"),
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "BatchMode=yes",
		"-o", "ConnectTimeout=10",
		"-o", "LogLevel=ERROR",
		"-p", "22",
	}
	return append(append(args, extra...), user+"@"+addr)
}

// sshRun runs cmd with the remote shell on host (a name such as "node1" or
// its address) as deploy, using the system ssh client, the lab key and strict
// host-key checking. It returns stdout with surrounding white space trimmed;
// on failure the error carries the exit status and stderr.
func sshRun(t testing.TB, host, cmd string) (string, error) {
	t.Helper()
	h, err := findHost(host)
	if err != nil {
		return "", err
	}
	return runSSH(t, sshArgs("deploy", h.Addr, filepath.Join(labState(), "id_ed25519")), h.Name, cmd)
}

// runSSH runs ssh with args and the remote command cmd (see sshRun).
func runSSH(t testing.TB, args []string, name, cmd string) (string, error) {
	t.Helper()
	c := exec.Command("ssh", append(args, "--", cmd)...)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	t.Logf("%s$ %s", name, cmd)
	err := c.Run()
	if err != nil {
		err = fmt.Errorf("%s: ssh %q: %w: %s", name, cmd, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), err
}

// hostExec runs a program inside host's namespaces (mount with its root,
// UTS, PID, network) as root from the control side with nsenter, without
// SSH: for checks that must not depend on what is being tested. It returns
// stdout trimmed; on failure the error carries stderr.
func hostExec(t testing.TB, host string, args ...string) (string, error) {
	t.Helper()
	if len(args) == 0 {
		return "", errors.New("hostExec: no program given")
	}
	pid, err := hostPID(host)
	if err != nil {
		return "", err
	}
	ns := []string{"-t", strconv.Itoa(pid), "-m", "-u", "-p", "-n", "-r", "-w", "--"}
	c := exec.Command("nsenter", append(ns, args...)...)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	t.Logf("%s# %s", host, strings.Join(args, " "))
	if err := c.Run(); err != nil {
		return strings.TrimSpace(stdout.String()), fmt.Errorf("%s: nsenter %s: %w: %s",
			host, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// labPIDs returns the PIDs in the lab's pid files (every host's sshd and the
// unshare holding it), read before down so they can be checked after.
func labPIDs() []int {
	files, _ := filepath.Glob(filepath.Join(labState(), "hosts", "*", "*.pid"))
	var pids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// labLeftovers lists what of the lab still exists: network namespaces and
// links named rctl-*, mounts under the state dir, live processes among pids
// and processes whose root is under the state dir.
func labLeftovers(pids []int) []string {
	var left []string
	state := labState()
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), labPrefix) {
				left = append(left, "network namespace "+e.Name())
			}
		}
	}
	if ents, err := os.ReadDir("/sys/class/net"); err == nil {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), labPrefix) {
				left = append(left, "link "+e.Name())
			}
		}
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) > 4 && (f[4] == state || strings.HasPrefix(f[4], state+"/")) {
				left = append(left, "mount "+f[4])
			}
		}
	}
	for _, pid := range pids {
		if alive(pid) {
			left = append(left, fmt.Sprintf("process %d (from a lab pid file)", pid))
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		root, err := os.Readlink(filepath.Join(p, "root"))
		if err == nil && strings.HasPrefix(root, state+"/") {
			left = append(left, fmt.Sprintf("process %s with root %s", filepath.Base(p), root))
		}
	}
	if _, err := os.Stat(state); err == nil {
		left = append(left, "state dir "+state)
	}
	return left
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// Fields after the command name in parentheses: state is the first.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// labKind is the kind of host this run's lab has: "sysv" (the default) or
// "systemd" (REDISCTL_LAB_KIND, as lab.sh reads it).
func labKind() string {
	if k := os.Getenv("REDISCTL_LAB_KIND"); k != "" {
		return k
	}
	return "sysv"
}

// service is the command that runs action on a service of a lab host.
func service(name, action string) []string {
	if labKind() == "systemd" {
		return []string{"systemctl", action, name}
	}
	return []string{"/etc/init.d/" + name, action}
}

// lowerRoot is the root filesystem below a host's overlay: this machine's
// for SysV hosts, the cached Debian image for hosts that boot systemd.
func lowerRoot(h labHost) string {
	kind, _ := os.ReadFile(filepath.Join(labState(), "hosts", h.Name, "kind"))
	rel, ok := strings.CutPrefix(strings.TrimSpace(string(kind)), "systemd:")
	if !ok {
		return "/"
	}
	cache := os.Getenv("REDISCTL_CACHE")
	if cache == "" {
		cache = filepath.Join(repoRoot(), ".cache")
	}
	return filepath.Join(cache, "images", rel, "root")
}

// lowerHasUser reports whether the root below h's overlay has the user, so
// that the host had it before anything ran there.
func lowerHasUser(h labHost, user string) bool {
	data, _ := os.ReadFile(filepath.Join(lowerRoot(h), "etc", "passwd"))
	return strings.HasPrefix(string(data), user+":") || strings.Contains(string(data), "\n"+user+":")
}
