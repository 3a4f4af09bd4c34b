package provision

import (
	"reflect"
	"testing"
)

// On a TLS data node, port is the plaintext port kept beside the TLS one
// (tls.plaintext): opening, moving or closing it is a live CONFIG SET. A
// change of the port of a plaintext server, or one where TLS goes on or off,
// is not (the TLS switch or a restart does it).
func TestRedisLiveOpsPlaintextPort(t *testing.T) {
	c := &Cluster{Inv: testInventory(t)}
	for _, tc := range []struct {
		name, old, new string
		ops, restart   []string
	}{
		{"open", "port 0\ntls-port 7000\n", "port 7100\ntls-port 7000\n", []string{"CONFIG SET port 7100", "CONFIG REWRITE"}, nil},
		{"close", "port 7100\ntls-port 7000\n", "port 0\ntls-port 7000\n", []string{"CONFIG SET port 0", "CONFIG REWRITE"}, nil},
		{"move", "port 7100\ntls-port 7000\n", "port 7200\ntls-port 7000\n", []string{"CONFIG SET port 7200", "CONFIG REWRITE"}, nil},
		{"plaintext server", "port 7000\n", "port 7001\n", nil, []string{"port"}},
		{"TLS port moves too", "port 0\ntls-port 7000\n", "port 7100\ntls-port 7001\n", []string{"CONFIG SET tls-port 7001", "CONFIG REWRITE"}, []string{"port"}},
		{"TLS port 0", "port 7000\ntls-port 0\n", "port 7100\ntls-port 0\n", nil, []string{"port"}},
	} {
		merged, keys, err := mergeConfig([]byte(tc.old), []byte(tc.new), tlsDirectives...)
		if err != nil {
			t.Fatal(err)
		}
		ch := FileChange{Old: []byte(tc.old), New: merged, Keys: keys}
		ops, restart := c.RedisLiveOps(ch)
		var descs []string
		for _, op := range ops {
			descs = append(descs, op.Desc)
		}
		if !reflect.DeepEqual(descs, tc.ops) || !reflect.DeepEqual(restart, tc.restart) {
			t.Errorf("%s: ops %q restart %q, want ops %q restart %q", tc.name, descs, restart, tc.ops, tc.restart)
		}
	}
}
