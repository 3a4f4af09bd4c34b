package up

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redisctl/redisctl/provision"
	"github.com/redisctl/redisctl/provision/internal/testkit"
	"github.com/redisctl/redisctl/provision/remote/fakehost"
)

// up refuses before it changes anything when a path between hosts is
// blocked, naming the pair and the port.
func TestUpRefusesBlockedPorts(t *testing.T) {
	hosts := freshHosts()
	hosts[2].On(checkPattern, checkReply(tuned("probe=10.0.0.2 8000 timeout")))
	_, err := runUp(t, testInventory(t), &testConnector{Hosts: hosts})
	msg := wantStep(t, err, "check tuning and ports")
	var be *BlockedError
	if !errors.As(err, &be) || !reflect.DeepEqual(be.Paths, []string{"node3 -> node2 sentinel port 8000: blocked (no answer in 2s)"}) {
		t.Fatalf("not a *BlockedError naming node3 -> node2 port 8000: %v", err)
	}
	if !strings.Contains(msg, "nothing was changed") {
		t.Errorf("message does not say nothing was changed: %s", msg)
	}
	// The facts are read with the lock, and Calls leaves out the lock's
	// and the checks' scripts: nothing else ran.
	for _, h := range hosts {
		if calls := h.Calls(); len(calls) != 0 {
			t.Errorf("%s ran %q after the lock and the facts", h.Name(), calls)
		}
	}
}

// up --apply-tuning makes the fixes as changes of its summary; a plan
// lists them without making them.
func TestUpApplyTuningIsPlanned(t *testing.T) {
	hosts := freshHosts()
	hosts[0].On(checkPattern, checkReply(tuned("overcommit=0")))
	inv := testInventory(t)
	p := testProgress(t)
	defer p.Close()
	// The plan goes on past the step (the fakes do not answer the later
	// steps' commands); the step's changes are in the summary.
	sum, _ := Run(context.Background(), inv, Options{Connect: (&testConnector{Hosts: hosts}).Connect, CacheDir: t.TempDir(),
		Progress: p, DryRun: true, ApplyTuning: true})
	if sum == nil || len(sum.Changes) == 0 || sum.Changes[0].String() != "node1: write /etc/sysctl.d/60-redisctl.conf (vm.overcommit_memory = 1, net.core.somaxconn = 4096) and apply it" {
		t.Errorf("plan changes: %v", sum.Changes)
	}
	if _, ok := hosts[0].File(provision.SysctlFile); ok {
		t.Error("a plan wrote the sysctl file")
	}
}

// A port that gave no answer in the lock's round trip (every host checking
// at once) is asked again, once, on its own before it is named blocked:
// here it answers the second time, and up goes on.
func TestUpAsksAgainAPortThatGaveNoAnswer(t *testing.T) {
	fc := healthyUpCluster(t)
	hosts := fc.hosts
	var calls atomic.Int32
	running := append([]string{"redis_pid=4100", "sentinel_pid=4200"}, testkit.OpenProbes...)
	slow, fine := checkReply(tuned(append(running, "probe=10.0.0.2 8000 timeout")...)), checkReply(tuned(running...))
	hosts[2].On(checkPattern, func(cmd string, stdin []byte) fakehost.Result {
		if calls.Add(1) == 1 {
			return slow(cmd, stdin)
		}
		return fine(cmd, stdin)
	})
	if _, err := runUp(t, fc.Inv, &testConnector{Hosts: hosts}); err != nil {
		t.Fatalf("up refused a port that answered when asked again: %v", err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("node3 ran its checks %d times, want 2 (with the lock, then on their own)", n)
	}
	for _, h := range hosts[:2] {
		for _, c := range h.Host.Calls() {
			if strings.HasPrefix(c, provision.CheckScriptTag) {
				t.Errorf("%s, whose ports all answered, ran its checks again", h.Name())
			}
		}
	}
}

// On a systemd host, a redis-server of the right version built without
// USE_SYSTEMD=yes is refused before anything changes: its Type=notify
// unit would make systemd wait forever.
func TestUpRefusesRedisWithoutSystemdSupport(t *testing.T) {
	inv := testInventory(t)
	facts := "os_id=debian\nos_version=13\narch=x86_64\ninit=systemd\npkg=apt\nredis_version_line=Redis server v=" + inv.Redis.Version + " sha=00000000:0\nredis_user=yes\n"
	hosts := []*testHost{newTestHost("node1", facts), newTestHost("node2", facts+"redis_systemd=yes\n"), newTestHost("node3", facts+"redis_systemd=yes\n")}
	_, err := Run(t.Context(), inv, Options{Connect: (&testConnector{Hosts: hosts}).Connect, CacheDir: t.TempDir(), Progress: testProgress(t)})
	msg := wantStep(t, err, "check hosts")
	if !strings.Contains(msg, "node1: /usr/local/bin/redis-server was built without systemd support") || strings.Contains(msg, "node2") {
		t.Errorf("message: %s", msg)
	}
}
