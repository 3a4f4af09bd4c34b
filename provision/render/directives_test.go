package render

import (
	"testing"

	"github.com/redisctl/redisctl/provision/inventory"
)

// TestRenderedDirectivesAreManaged keeps templates/redis.conf.tmpl and the
// inventory's rules in step: every directive redisctl writes itself must be
// one that redis.config cannot set, or an inventory line would silently
// override it (Redis applies the last).
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
			if inventory.CheckDirectiveName(l.Args[0]) == nil {
				t.Errorf("%s: redis.conf line %d sets %s, which redis.config may set too", init, l.Num, l.Args[0])
			}
		}
	}
}
