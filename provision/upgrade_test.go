package provision

import (
	"strings"
	"testing"

	"github.com/redisctl/redisctl/provision/redisx"
)

func TestCheckVersionChange(t *testing.T) {
	r := func(v string) Build { return Build{"redis", v} }
	vk := func(v string) Build { return Build{"valkey", v} }
	for _, tc := range []struct {
		from, to Build
		refuse   string // "" when allowed
	}{
		{Build{}, r("8.0.2"), ""},
		{r("7.0.15"), r("7.0.15"), ""},
		{r("7.0.15"), r("8.0.2"), ""},
		{r("7.0.15"), vk("8.1.1"), ""},
		{r("7.0.11"), r("7.0.15"), ""},
		{r("7.0.15"), r("7.0.11"), ""}, // same RDB format
		{r("8.0.2"), r("7.0.15"), "Redis 8.0.2 writes RDB format 12, which Redis 7.0.15 (RDB format 10) cannot load"},
		{r("8.0.2"), vk("8.1.1"), "RDB format 12, which Valkey 8.1.1 (RDB format 11)"},
		{vk("8.1.1"), r("8.0.2"), "moving back to Redis is not supported"},
		{r("8.0.2"), r("8.4.0"), ""}, // unknown newer release of the same engine
		{r("8.4.0"), r("8.0.2"), "redisctl does not know whether Redis 8.0.2 can load data written by Redis 8.4.0"},
		{vk("9.0.0"), vk("8.1.1"), "does not know"},
	} {
		err := CheckVersionChange(tc.from, tc.to)
		switch {
		case tc.refuse == "" && err != nil:
			t.Errorf("%s -> %s: refused: %v", tc.from, tc.to, err)
		case tc.refuse != "" && (err == nil || !strings.Contains(err.Error(), tc.refuse)):
			t.Errorf("%s -> %s: got %v, want a refusal with %q", tc.from, tc.to, err, tc.refuse)
		}
	}
}

func TestRunningBuild(t *testing.T) {
	for _, tc := range []struct {
		info string
		want Build
	}{
		{"redis_version:7.0.15\r\n", Build{"redis", "7.0.15"}},
		{"redis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.1.1\r\n", Build{"valkey", "8.1.1"}},
	} {
		if got := runningBuild(redisx.ParseInfo(tc.info)); got != tc.want {
			t.Errorf("%q: got %v, want %v", tc.info, got, tc.want)
		}
	}
}

func TestBuilds(t *testing.T) {
	for _, tc := range []struct {
		out  string
		b    Build
		want bool
	}{
		{"Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.2.1 bits=64 build=1\n", Build{"redis", "7.0.15"}, true},
		{"Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.2.1 bits=64 build=1\n", Build{"redis", "7.0.1"}, false},
		{"Valkey server v=8.1.1 sha=00000000:1 malloc=jemalloc-5.3.0 bits=64 build=9\n", Build{"valkey", "8.1.1"}, true},
		{"Valkey server v=8.1.1 sha=00000000:1 malloc=jemalloc-5.3.0 bits=64 build=9\n", Build{"redis", "8.1.1"}, false},
	} {
		if got := builds(tc.out, tc.b); got != tc.want {
			t.Errorf("builds(%q, %v) = %v", tc.out, tc.b, got)
		}
	}
}

// Valkey rewrites masterauth as primaryauth: the merge must take that as
// the same setting, not add a second line or report a change.
func TestMergeAcceptsValkeySpellings(t *testing.T) {
	existing := []byte("port 7000\nprimaryauth \"secret\"\nreplicaof 10.0.0.1 7000\n")
	desired := []byte("port 7000\nmasterauth \"secret\"\nreplicaof 10.0.0.1 7000\n")
	out, keys, err := mergeConfig(existing, desired, "replicaof")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 || string(out) != string(existing) {
		t.Fatalf("merge changed %v:\n%s", keys, out)
	}
	desired = []byte("port 7000\nmasterauth \"other\"\nreplicaof 10.0.0.1 7000\n")
	out, keys, err = mergeConfig(existing, desired, "replicaof")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(out), "auth") != 1 || !strings.Contains(string(out), `masterauth "other"`) || len(keys) != 1 || keys[0] != "masterauth" {
		t.Fatalf("a changed password: keys %v, file:\n%s", keys, out)
	}
	if !sameName("primary-reboot-down-after-period", "master-reboot-down-after-period") {
		t.Fatal("sentinel sub-command aliases differ")
	}
}
