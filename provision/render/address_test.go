package render

import "testing"

// TestMasterAddressComparedAsAddress: the live master's address may come
// from a sentinel, spelled differently from the inventory; the master
// still gets no replicaof line.
func TestMasterAddressComparedAsAddress(t *testing.T) {
	inv := testInventory("pw", "node1.lab.example", "node2.lab.example")
	c, err := NewRedisConf(inv, &inv.Hosts[0], "NODE1.lab.example", InitSysV)
	if err != nil {
		t.Fatal(err)
	}
	if c.ReplicaOf != nil {
		t.Errorf("the master follows %+v", *c.ReplicaOf)
	}
	c, err = NewRedisConf(inv, &inv.Hosts[1], "NODE1.lab.example", InitSysV)
	if err != nil || c.ReplicaOf == nil || c.ReplicaOf.Host != "NODE1.lab.example" {
		t.Errorf("the replica follows %+v (error %v), want NODE1.lab.example", c.ReplicaOf, err)
	}
}
