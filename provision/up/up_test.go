package up

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redisctl/redisctl/provision"
	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/remote"
	"github.com/redisctl/redisctl/provision/remote/fakehost"
)

// The error paths of Up, each stopping at its step with a message that
// names the host and the cause, and touching nothing it should not.

func TestUpChecksumMismatchTouchesNoHost(t *testing.T) {
	inv := testInventory(t)
	// The tarball changed after the inventory was checked.
	if err := os.WriteFile(inv.Redis.Source, []byte("tampered\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conn := &testConnector{Hosts: freshHosts()}

	_, err := runUp(t, inv, conn)

	msg := wantStep(t, err, "verify the redis source")
	var ce *provision.ChecksumError
	if !errors.As(err, &ce) {
		t.Fatalf("error is not a *ChecksumError: %v", err)
	}
	if ce.Want != inv.Redis.SHA256 || ce.Got != sha256Hex([]byte("tampered\n")) {
		t.Errorf("ChecksumError want=%s got=%s; inventory says %s", ce.Want, ce.Got, inv.Redis.SHA256)
	}
	if !strings.Contains(msg, "no host was changed") {
		t.Errorf("message does not say that no host was changed: %s", msg)
	}
	if n := conn.Calls.Load(); n != 0 {
		t.Errorf("the connector was called %d times before the source was verified", n)
	}
}

func TestUpConnectFailureClosesTheOtherHosts(t *testing.T) {
	for _, tc := range []struct{ name, cause string }{
		{"auth failure", "node2: SSH authentication failed for root@10.0.0.2:22 (tried publickey); check ssh.user and ssh.identity_file"},
		{"unknown host key", "node2: host key of 10.0.0.2:22 is not in /root/.ssh/known_hosts; check it and run with --accept-new-host-keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hosts := freshHosts()
			conn := &testConnector{Hosts: hosts, Errs: map[string]error{
				"node2": &provision.HostError{Host: "node2", Step: "connect", Err: errors.New(tc.cause)},
			}}

			_, err := runUp(t, testInventory(t), conn)

			msg := wantStep(t, err, "connect")
			want := "connect failed: node2: connect:" + strings.TrimPrefix(tc.cause, "node2:")
			if msg != want {
				t.Errorf("message:\n  %s\nwant:\n  %s", msg, want)
			}
			var he *provision.HostError
			if !errors.As(err, &he) || he.Host != "node2" {
				t.Errorf("error does not carry node2's *HostError: %#v", err)
			}
			for i, h := range hosts {
				if calls := h.Calls(); len(calls) != 0 {
					t.Errorf("%s: commands ran after a failed connect: %q", h.Name(), calls)
				}
				if r := h.Reads(); len(r) != 0 {
					t.Errorf("%s: files read after a failed connect: %q", h.Name(), r)
				}
				want := 1
				if i == 1 {
					want = 0 // never connected
				}
				if got := h.Closed(); got != want {
					t.Errorf("%s closed %d times, want %d", h.Name(), got, want)
				}
			}
		})
	}
}

func TestUpPortTakenByAnotherProgram(t *testing.T) {
	hosts := freshHosts()
	hosts[1] = newTestHost("node2", freshFacts+"listen_begin\nLISTEN 0 511 0.0.0.0:7000 0.0.0.0:* users:((\"nginx\",pid=4242,fd=6))\nlisten_end\n")
	conn := &testConnector{Hosts: hosts}
	inv := testInventory(t)

	_, err := runUp(t, inv, conn)

	msg := wantStep(t, err, "check hosts")
	want := "check hosts failed: node2: port 7000 is taken by another program (nginx[4242]); free it or choose another redis.port"
	if msg != want {
		t.Errorf("message:\n  %s\nwant:\n  %s", msg, want)
	}
	// The facts list the manifests there are: none, so none is read.
	var manifest []string
	for _, h := range hosts {
		// The facts were read with the lock (Calls leaves the lock's
		// scripts out): nothing else ran.
		if calls := h.Calls(); len(calls) != 0 {
			t.Errorf("%s: ran %q, want nothing but the lock with the facts", h.Name(), calls)
		}
		if r := h.Reads(); len(r) != len(manifest) {
			t.Errorf("%s: read %q, want only %q", h.Name(), r, manifest)
		}
		if c := h.Closed(); c != 1 {
			t.Errorf("%s closed %d times, want 1", h.Name(), c)
		}
	}
}

// buildStderr is what the build script prints when make fails.
const buildStderr = "make failed; last lines of /var/lib/redisctl/build/redis-x/build.log:\n" +
	"server.c:42:1: error: expected ';' before '}' token\ncc: error: foo\n"

// failingBuildHosts are fresh hosts; node1, the build host, fails in make.
func failingBuildHosts() []*testHost {
	hosts := freshHosts()
	hosts[0].
		Answer(`^# redisctl: ensure directories`, fakehost.Result{Stdout: "/var/lib/redisctl\n/var/lib/redisctl/build\n"}).
		Answer(`make -j`, fakehost.Result{Status: 1, Stderr: buildStderr})
	return hosts
}

func TestUpBuildFailureReportsStderrTail(t *testing.T) {
	hosts := failingBuildHosts()
	conn := &testConnector{Hosts: hosts}
	inv := testInventory(t)

	_, err := runUp(t, inv, conn)

	msg := wantStep(t, err, "install redis")
	for _, want := range []string{"node1: install redis: build redis: node1: command", "exit status 1", "make failed", "cc: error: foo"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	var ee *remote.ExitError
	if !errors.As(err, &ee) || ee.Stderr != buildStderr {
		t.Errorf("the whole stderr is not kept in a *remote.ExitError: %#v", ee)
	}

	// The source went to node1 only, as the build host.
	src, _ := os.ReadFile(inv.Redis.Source)
	tarball := "/var/lib/redisctl/build/source-" + inv.Redis.SHA256[:12] + ".tar"
	if f, ok := hosts[0].File(tarball); !ok || string(f.Data) != string(src) || f.Mode != 0o600 {
		t.Errorf("node1: source not uploaded to %s (mode 0600)", tarball)
	}
	// ensureDirs recorded the directories it made.
	if f, ok := hosts[0].File("/var/lib/redisctl/" + inv.Name + ".manifest.json"); !ok {
		t.Errorf("node1: no manifest saved for the directories created")
	} else {
		var m provision.Manifest
		if err := json.Unmarshal(f.Data, &m); err != nil || !reflect.DeepEqual(m.Created, []string{"/var/lib/redisctl", "/var/lib/redisctl/build"}) {
			t.Errorf("node1 manifest: created %q (%v)", m.Created, err)
		}
	}
	// One build for the platform, on node1. (The other hosts are being
	// prepared meanwhile: the install runs beside prepare.)
	for _, h := range hosts[1:] {
		for _, call := range h.Calls() {
			if strings.Contains(call, "make -j") || strings.Contains(call, "tar -x") {
				t.Errorf("%s: built redis too: %q", h.Name(), call)
			}
		}
	}
	for _, h := range hosts {
		if c := h.Closed(); c != 1 {
			t.Errorf("%s closed %d times, want 1", h.Name(), c)
		}
	}
}

// When the build fails no host gets Redis, so Up's summary must not count
// installs.
func TestUpFailedBuildCountsNoInstall(t *testing.T) {
	sum, err := runUp(t, testInventory(t), &testConnector{Hosts: failingBuildHosts()})
	wantStep(t, err, "install redis")
	if len(sum.Changes) != 0 {
		t.Errorf("summary after a failed build: %v, want nothing", sum.Changes)
	}
}

// Redis is built once per platform, kept in the cache dir, and copied from
// there to every host of that platform. Installing then fails on purpose,
// to stop Up there.
func TestUpBuildsOncePerPlatform(t *testing.T) {
	cache := t.TempDir()
	inv := testInventory(t)
	hosts := failingBuildHosts()
	hosts[0].
		Answer(`make -j`, fakehost.Result{Stdout: "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.2.1 bits=64 build=1\n" +
			sha256Hex([]byte("server binary")) + "  redis-server\n" + sha256Hex([]byte("cli binary")) + "  redis-cli\n"}).
		Answer(`^rm -rf `, fakehost.Result{})
	work := "/var/lib/redisctl/build/source-" + inv.Redis.SHA256[:12] + "/src/"
	hosts[0].SetFile(work+"redis-server", []byte("server binary"), 0o755, "")
	hosts[0].SetFile(work+"redis-cli", []byte("cli binary"), 0o755, "")
	for _, h := range hosts {
		h.Answer(`^# redisctl: ensure directories`, fakehost.Result{}).
			Answer(`ln -sfn redis-server`, fakehost.Result{Status: 1, Stderr: "stop here"})
	}

	_, err := Run(t.Context(), inv, Options{Connect: (&testConnector{Hosts: hosts}).Connect, CacheDir: cache, Progress: testProgress(t)})

	msg := wantStep(t, err, "install redis")
	if strings.Count(msg, "stop here") != 3 {
		t.Errorf("want the error of each of the three hosts:\n%s", msg)
	}
	dir := filepath.Join(cache, "builds", inv.Redis.SHA256[:12]+"-debian-12-x86_64-sysv")
	for _, b := range []string{"redis-server", "redis-cli"} {
		if data, err := os.ReadFile(filepath.Join(dir, b)); err != nil || !strings.HasSuffix(string(data), "binary") {
			t.Errorf("cached build %s: %q, %v", b, data, err)
		}
	}
	if sums, err := provision.CachedBuild(dir); err != nil || sums["redis-server"] != sha256Hex([]byte("server binary")) {
		t.Errorf("cached build has no verified checksums: %v %v", sums, err)
	}
	for _, h := range hosts {
		if f, ok := h.File("/usr/local/bin/redis-server"); !ok || string(f.Data) != "server binary" || f.Mode != 0o755 {
			t.Errorf("%s: redis-server not installed from the cached build", h.Name())
		}
		builds := 0
		for _, c := range h.Calls() {
			if strings.Contains(c, "make -j") {
				builds++
			}
		}
		if want := map[bool]int{true: 1, false: 0}[h == hosts[0]]; builds != want {
			t.Errorf("%s built redis %d times, want %d", h.Name(), builds, want)
		}
	}
}

// A build in the cache is used: nothing is built, and every host gets the
// cached binaries.
func TestUpUsesCachedBuild(t *testing.T) {
	cache := t.TempDir()
	inv := testInventory(t)
	dir := filepath.Join(cache, "builds", inv.Redis.SHA256[:12]+"-debian-12-x86_64-sysv")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeCachedBuild(t, dir)
	hosts := freshHosts()
	for _, h := range hosts {
		h.Answer(`^# redisctl: ensure directories`, fakehost.Result{}).
			Answer(`ln -sfn redis-server`, fakehost.Result{Status: 1, Stderr: "stop here"})
	}

	_, err := Run(t.Context(), inv, Options{Connect: (&testConnector{Hosts: hosts}).Connect, CacheDir: cache, Progress: testProgress(t)})

	wantStep(t, err, "install redis")
	for _, h := range hosts {
		if f, ok := h.File("/usr/local/bin/redis-server"); !ok || string(f.Data) != "cached redis-server" {
			t.Errorf("%s: redis-server not installed from the cache", h.Name())
		}
		for _, c := range h.Calls() {
			if strings.Contains(c, "make -j") {
				t.Errorf("%s: built redis although the cache has a build", h.Name())
			}
		}
	}
}

// writeCachedBuild puts a build with its checksums in dir.
func writeCachedBuild(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var sums strings.Builder
	for _, b := range []string{"redis-server", "redis-cli"} {
		data := []byte("cached " + b)
		if err := os.WriteFile(filepath.Join(dir, b), data, 0o755); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&sums, "%s  %s\n", sha256Hex(data), b)
	}
	if err := os.WriteFile(filepath.Join(dir, provision.SumsFile), []byte(sums.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A cached binary that no longer matches the checksum recorded at build
// time is never shipped to a host.
func TestUpRefusesTamperedCachedBuild(t *testing.T) {
	cache := t.TempDir()
	inv := testInventory(t)
	dir := filepath.Join(cache, "builds", inv.Redis.SHA256[:12]+"-debian-12-x86_64-sysv")
	writeCachedBuild(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "redis-server"), []byte("#!/bin/sh\nevil\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	hosts := freshHosts()
	for _, h := range hosts {
		h.Answer(`^# redisctl: ensure directories`, fakehost.Result{})
	}
	_, err := Run(t.Context(), inv, Options{Connect: (&testConnector{Hosts: hosts}).Connect, CacheDir: cache, Progress: testProgress(t)})
	msg := wantStep(t, err, "install redis")
	if !strings.Contains(msg, "redis-server has sha256") || !strings.Contains(msg, "refusing to install it") {
		t.Errorf("error does not explain the checksum mismatch: %s", msg)
	}
	for _, h := range hosts {
		if _, ok := h.File("/usr/local/bin/redis-server"); ok {
			t.Errorf("%s: a tampered binary was installed", h.Name())
		}
	}
}

// A host whose os-release would steer the cache path is refused before
// anything is built or installed.
func TestUpRefusesUnsafePlatform(t *testing.T) {
	inv := testInventory(t)
	hosts := freshHosts()
	hosts[1] = newTestHost("node2", "os_id=../../../etc\nos_version=12\narch=x86_64\ninit=sysv\npkg=apt\n")
	_, err := Run(t.Context(), inv, Options{Connect: (&testConnector{Hosts: hosts}).Connect, CacheDir: t.TempDir(), Progress: testProgress(t)})
	msg := wantStep(t, err, "install redis")
	if !strings.Contains(msg, "node2") || !strings.Contains(msg, `os ID "../../../etc"`) {
		t.Errorf("error does not name the host and the part: %s", msg)
	}
}

// A kept data directory with an RDB file the inventory's build cannot load
// (Redis 8 wrote it; 7.0.15 reads format 10 at most) is refused before
// anything is written: redis would refuse to start on it.
func TestUpRefusesAnRDBFileTooNew(t *testing.T) {
	hosts := freshHosts()
	hosts[0] = newTestHost("node1", freshFacts+"rdb_b64="+base64.StdEncoding.EncodeToString([]byte("REDIS0012"))+"\n")
	conn := &testConnector{Hosts: hosts}
	_, err := runUp(t, testInventory(t), conn)
	msg := wantStep(t, err, "check hosts")
	if want := "node1: /var/lib/redis/7000 holds an RDB file of format 12 (written by a newer build), which Redis 7.0.15 cannot load (it reads up to 10)"; !strings.Contains(msg, want) {
		t.Errorf("message:\n  %s\nwant it to contain:\n  %s", msg, want)
	}
	for _, h := range hosts {
		if calls := h.Calls(); len(calls) != 0 {
			t.Errorf("%s: ran %q, want nothing but the lock with the facts", h.Name(), calls)
		}
	}
}

// A TLS cluster's plaintext port (tls.plaintext_port) held by another
// program is refused in check hosts, naming the program, before anything
// is changed.
func TestUpPlaintextPortTakenByAnotherProgram(t *testing.T) {
	hosts := freshHosts()
	hosts[2] = newTestHost("node3", freshFacts+"listen_begin\nLISTEN 0 511 0.0.0.0:7100 0.0.0.0:* users:((\"memcached\",pid=777,fd=6))\nlisten_end\n")
	inv := testInventory(t)
	inv.TLS.Enabled, inv.TLS.Plaintext, inv.TLS.PlaintextPort = true, true, 7100

	_, err := runUp(t, inv, &testConnector{Hosts: hosts})

	msg := wantStep(t, err, "check hosts")
	want := "check hosts failed: node3: port 7100 is taken by another program (memcached[777]); free it or choose another tls.plaintext_port"
	if msg != want {
		t.Errorf("message:\n  %s\nwant:\n  %s", msg, want)
	}
	for _, h := range hosts {
		if calls := h.Calls(); len(calls) != 0 {
			t.Errorf("%s: ran %q, want nothing but the lock with the facts", h.Name(), calls)
		}
	}
}

// runUp runs Up against the connector's fake hosts, with an empty build
// cache and short waits.
func runUp(t *testing.T, inv *inventory.Inventory, conn *testConnector) (*Summary, error) {
	t.Helper()
	p := testProgress(t)
	defer p.Close()
	return Run(context.Background(), inv, Options{
		Connect:     conn.Connect,
		CacheDir:    t.TempDir(),
		Progress:    p,
		SyncTimeout: 2 * time.Second,
	})
}

// wantStep checks that err is a *StepError of step and returns its message.
func wantStep(t *testing.T, err error, step string) string {
	t.Helper()
	if err == nil {
		t.Fatalf("Up succeeded, want a failure at step %q", step)
	}
	var se *StepError
	if !errors.As(err, &se) {
		t.Fatalf("error is %T, want a *StepError: %v", err, err)
	}
	if se.Step != step {
		t.Fatalf("Up failed at step %q, want %q: %v", se.Step, step, err)
	}
	return err.Error()
}
