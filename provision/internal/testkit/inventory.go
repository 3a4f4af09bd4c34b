package testkit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/redisctl/redisctl/provision/inventory"
)

// Password is the cluster password of fake clusters.
const Password = "Test0Password0For0Fakes"

// ThreeHosts is the default hosts block: node1 master, node2 and node3
// replicas, every one running a sentinel.
const ThreeHosts = `hosts:
  - {name: node1, address: 10.0.0.1, role: master}
  - {name: node2, address: 10.0.0.2, role: replica}
  - {name: node3, address: 10.0.0.3, role: replica}
`

// Inventory parses a three-host inventory. Its source is a small local
// file with the right sha256 and its password file is in a temporary
// directory (also HOME), so nothing outside the test's directory is read or
// written.
func Inventory(t testing.TB) *inventory.Inventory {
	t.Helper()
	return InventoryHosts(t, ThreeHosts)
}

// InventoryHosts is Inventory with another hosts block.
func InventoryHosts(t testing.TB, hosts string) *inventory.Inventory {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "redis-7.0.15.tar.gz")
	data := []byte("not really a tarball: the build is faked\n")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`name: mymaster
redis:
  version: "7.0.15"
  source: %s
  sha256: %s
  password_file: %s
sentinel:
  down_after_ms: 5000
`, src, Sha256Hex(data), filepath.Join(dir, "cluster.password")) + hosts
	env := func(k string) (string, bool) {
		if k == "HOME" {
			return dir, true
		}
		return "", false
	}
	inv, _, err := inventory.Parse(filepath.Join(dir, "inventory.yaml"), []byte(yaml), env)
	if err != nil {
		t.Fatalf("test inventory: %v\n%s", err, yaml)
	}
	return inv
}

// Sha256Hex is the hex sha256 of data, as sha256sum prints it.
func Sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// FreshFacts is what the facts script prints on a Debian host that has
// nothing of redisctl's: no Redis, no redis user, nothing listening.
const FreshFacts = "os_id=debian\nos_version=12\nos_like=\narch=x86_64\ninit=sysv\npkg=apt\n"

// FactsPattern matches the facts script and nothing else redisctl runs.
const FactsPattern = `^\s*if \[ -r /etc/os-release \]`
