package render

import (
	"bytes"
	"testing"

	"github.com/redisctl/redisctl/provision/inventory"
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

// tls.plaintext keeps a plaintext port on data nodes only: a sentinel
// stays TLS only. While TLS is off it changes nothing, and a server still
// running TLS on its way back to plaintext keeps the port it has.
func TestTLSPlaintextPort(t *testing.T) {
	for _, c := range []struct {
		enabled   bool
		plaintext bool
		mode      TLSMode
		wantData  string
	}{
		{true, true, TLSAsInventory, "\nport 7100\ntls-port 7000\n"},
		{true, false, TLSAsInventory, "\nport 0\ntls-port 7000\n"},
		{false, true, TLSAsInventory, "\nport 7000\n"},
		{false, true, TLSOn, "\nport 7100\ntls-port 7000\n"},
		{true, true, TLSOff, "\nport 7000\n"},
	} {
		inv := testInventory("s3cret-Pa55", "10.231.0.11", "10.231.0.12", "10.231.0.13")
		inv.TLS = inventory.TLS{Enabled: c.enabled, Plaintext: c.plaintext, ClientAuth: "optional"}
		if c.plaintext {
			inv.TLS.PlaintextPort = 7100
		}
		h := &inv.Hosts[1]
		files, err := HostFilesWith(inv, h, inv.Hosts[0].Address, InitSysV, HostOptions{RedisTLS: c.mode, SentinelTLS: c.mode})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(files[0].Data, []byte(c.wantData)) {
			t.Errorf("enabled %t, plaintext %t, mode %d: %s lacks %q:\n%s", c.enabled, c.plaintext, c.mode, files[0].Path, c.wantData, files[0].Data)
		}
		if bytes.Contains(files[1].Data, []byte("7100")) {
			t.Errorf("enabled %t, plaintext %t, mode %d: the sentinel's config names the plaintext port:\n%s", c.enabled, c.plaintext, c.mode, files[1].Data)
		}
	}
}
