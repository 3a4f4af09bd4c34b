package cmd

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func execute(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out, errb bytes.Buffer
	code = Execute(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := execute(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "redisctl ") {
		t.Fatalf("version: exit %d, %q", code, out)
	}
}

func TestBadFlagsAreUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"status", "-o", "yaml"}, {"failover-test", "-o", "xml"}, {"up", "--no-such-flag"}} {
		if code, _, stderr := execute(t, nil, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, ExitUsage, stderr)
		}
	}
}

// A bad inventory is reported with file, line and field, before anything
// connects, by every command that reads one.
func TestBadInventoryNamesFileLineAndField(t *testing.T) {
	inv := "../testdata/inventories/bad/bad-address.yaml"
	for _, verb := range []string{"up", "plan", "status", "failover-test", "uninstall"} {
		code, _, stderr := execute(t, nil, verb, "-i", inv)
		if code != ExitError || !strings.Contains(stderr, inv+":8:") || !strings.Contains(stderr, "hosts[1].address") {
			t.Errorf("%s: exit %d, stderr %q", verb, code, stderr)
		}
	}
}

func TestInventoryFromEnvironment(t *testing.T) {
	inv := "../testdata/inventories/bad/bad-address.yaml"
	code, _, stderr := execute(t, map[string]string{"REDISCTL_INVENTORY": inv}, "status")
	if code != ExitError || !strings.Contains(stderr, inv) {
		t.Fatalf("REDISCTL_INVENTORY not used: exit %d, %q", code, stderr)
	}
}

func TestMissingInventory(t *testing.T) {
	code, _, stderr := execute(t, nil, "up", "-i", "does-not-exist.yaml")
	if code != ExitError || !strings.Contains(stderr, "does-not-exist.yaml") {
		t.Fatalf("exit %d, %q", code, stderr)
	}
}

// Without a cache directory a command fails rather than keep builds in
// /tmp, where any local user could replace them before they are shipped.
func TestNoCacheDirIsRefused(t *testing.T) {
	code, _, stderr := execute(t, map[string]string{"HOME": "", "XDG_CACHE_HOME": ""}, "up", "-i", "../inventory.example.yaml")
	if code != ExitUsage || !strings.Contains(stderr, "no cache directory") || !strings.Contains(stderr, "--cache-dir") {
		t.Fatalf("exit %d, %q", code, stderr)
	}
}

// The error that ends a command can quote a remote config line; its
// secret is hidden like in every other output.
func TestPrintErrorHidesSecrets(t *testing.T) {
	var b bytes.Buffer
	printError(&b, errors.New("node1: start redis_7000: exit status 1: >>> 'requirepass \"s3cr3t pw\"' | Bad directive or wrong number of arguments"))
	if strings.Contains(b.String(), "s3cr3t") || !strings.Contains(b.String(), "node1: start redis_7000") {
		t.Fatalf("printed %q", b.String())
	}
}
