package render

import (
	"bytes"
	"testing"
)

// A server up has yet to switch is rendered as it runs: TLSOn gives TLS
// lines on a cluster going back to plaintext, TLSOff none on a cluster
// going to TLS; TLSAsInventory follows tls.enabled.
func TestTLSModes(t *testing.T) {
	for _, c := range []struct {
		enabled bool
		mode    TLSMode
		want    bool
	}{
		{false, TLSAsInventory, false},
		{true, TLSAsInventory, true},
		{true, TLSOff, false},
		{false, TLSOn, true},
	} {
		inv := testInventory("s3cret-Pa55", "10.231.0.11", "10.231.0.12", "10.231.0.13")
		inv.TLS.Enabled = c.enabled
		h := &inv.Hosts[1]
		files, err := HostFilesWith(inv, h, inv.Hosts[0].Address, InitSysV, HostOptions{RedisTLS: c.mode, SentinelTLS: c.mode})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files[:2] { // redis.conf, sentinel.conf
			has := bytes.Contains(f.Data, []byte("\ntls-port "))
			if has != c.want || bytes.Contains(f.Data, []byte("\nport 0\n")) != c.want {
				t.Errorf("enabled %t, mode %d: %s has TLS %t, want %t", c.enabled, c.mode, f.Path, has, c.want)
			}
		}
		if !c.enabled && c.mode == TLSOn {
			// The auth setting falls back to the default when the
			// inventory left TLS off and said nothing.
			if !bytes.Contains(files[0].Data, []byte("tls-auth-clients optional")) {
				t.Errorf("TLSOn without tls.client_auth: %s", files[0].Data)
			}
		}
	}
}
