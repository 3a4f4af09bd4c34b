package render

import (
	"slices"
	"testing"

	"github.com/redisctl/redisctl/provision/inventory"
)

// defaultsInventoryMaySet are directives redisctl writes only as a default:
// redis.config may set them, and then the rendering leaves its own line out
// (TestRenderedDefaultsYieldToInventory checks that it does).
var defaultsInventoryMaySet = []string{"repl-diskless-sync-max-replicas"}

// TestRenderedDirectivesAreManaged keeps templates/redis.conf.tmpl and the
// inventory's rules in step: every directive redisctl writes itself must be
// one that redis.config cannot set, or an inventory line would silently
// override it (Redis applies the last), unless it is a default that yields.
func TestRenderedDirectivesAreManaged(t *testing.T) {
	for _, init := range []string{InitSysV, InitSystemd} {
		inv := testInventory("pw", "10.0.0.1", "10.0.0.2", "10.0.0.3")
		c, err := NewRedisConf(inv, &inv.Hosts[1], "10.0.0.1", init)
		if err != nil {
			t.Fatal(err)
		}
		data, err := RenderRedisConf(c)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := ParseConfig(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			if inventory.CheckDirectiveName(l.Args[0]) == nil && !slices.Contains(defaultsInventoryMaySet, l.Args[0]) {
				t.Errorf("%s: redis.conf line %d sets %s, which redis.config may set too", init, l.Num, l.Args[0])
			}
		}
	}
}

// TestRenderedDefaultsYieldToInventory: a default redisctl writes and
// redis.config sets too appears once, with the inventory's value.
func TestRenderedDefaultsYieldToInventory(t *testing.T) {
	for _, d := range defaultsInventoryMaySet {
		inv := testInventory("pw", "10.0.0.1", "10.0.0.2", "10.0.0.3")
		inv.Redis.Config = []inventory.Directive{{Name: d, Value: "7"}}
		lines := renderedRedisConf(t, inv, 1)
		if found := Find(lines, d); len(found) != 1 || !slices.Equal(found[0].Args, []string{d, "7"}) {
			t.Errorf("%s set in redis.config: rendered lines %v, want one: %s 7", d, found, d)
		}
	}
}

// renderedRedisConf renders the redis.conf of inv's host i (the inventory's
// master is master) and splits it as Redis does.
func renderedRedisConf(t *testing.T, inv *inventory.Inventory, i int) []Line {
	t.Helper()
	c, err := NewRedisConf(inv, &inv.Hosts[i], inv.Master().Address, InitSysV)
	if err != nil {
		t.Fatal(err)
	}
	data, err := RenderRedisConf(c)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := ParseConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}
