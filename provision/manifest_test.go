package provision

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/remote/fakehost"
)

func TestManifestPerCluster(t *testing.T) {
	ctx := context.Background()
	l := (&inventory.Inventory{Name: "mymaster", Redis: inventory.Redis{Port: 7000}, Sentinel: inventory.Sentinel{Port: 8000}}).Layout()
	l2 := (&inventory.Inventory{Name: "other", Redis: inventory.Redis{Port: 7001}, Sentinel: inventory.Sentinel{Port: 8001}}).Layout()
	legacy := func(created ...string) []byte {
		b, _ := json.Marshal(Manifest{Version: 1, Created: created, CreatedUser: true})
		return b
	}

	t.Run("an older manifest.json that recorded this cluster is adopted and moved", func(t *testing.T) {
		h := fakehost.New("node1")
		h.SetFile(l.StateDir+"/manifest.json", legacy("/usr/local/bin/redis-server", l.RedisConf), 0o600, "")
		h.Answer(`^rm -f -- /var/lib/redisctl/manifest.json$`, fakehost.Result{})
		m, err := LoadManifest(ctx, h, l, "mymaster", []string{"manifest.json"})
		if err != nil {
			t.Fatal(err)
		}
		if !m.Has(l.RedisConf) || !m.CreatedUser || m.Shared() {
			t.Fatalf("not adopted: %+v", m)
		}
		if err := m.Save(ctx, h); err != nil {
			t.Fatal(err)
		}
		if f, ok := h.File(l.StateDir + "/mymaster.manifest.json"); !ok || f.Mode != 0o600 {
			t.Errorf("the cluster's manifest was not written (0600)")
		}
		if !slices.Contains(h.Calls(), "rm -f -- /var/lib/redisctl/manifest.json") {
			t.Errorf("the adopted manifest.json was not removed: %q", h.Calls())
		}
	})

	t.Run("another cluster's manifest is not ours, and makes the host shared", func(t *testing.T) {
		h := fakehost.New("node1")
		h.SetFile(l.StateDir+"/manifest.json", legacy("/usr/local/bin/redis-server", l.RedisConf), 0o600, "")
		m, err := LoadManifest(ctx, h, l2, "other", []string{"manifest.json", "third.manifest.json"})
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Created) != 0 || m.CreatedUser {
			t.Errorf("adopted another cluster's manifest: %+v", m)
		}
		if !slices.Equal(m.Others, []string{"third", ""}) || !m.Shared() {
			t.Errorf("others = %q", m.Others)
		}
	})

	t.Run("hand over records shared paths in the other cluster's manifest", func(t *testing.T) {
		h := fakehost.New("node1")
		b, _ := json.Marshal(Manifest{Version: 2, Cluster: "other", Created: []string{l2.RedisConf}})
		h.SetFile(l.StateDir+"/other.manifest.json", b, 0o600, "")
		if err := handOver(ctx, h, l, "other", []string{"/usr/local/bin/redis-server"}, true); err != nil {
			t.Fatal(err)
		}
		m, err := LoadManifest(ctx, h, l2, "other", []string{"other.manifest.json"})
		if err != nil {
			t.Fatal(err)
		}
		if !m.Has("/usr/local/bin/redis-server") || !m.Has(l2.RedisConf) || !m.CreatedUser {
			t.Errorf("hand over lost something: %+v", m)
		}
	})
}
