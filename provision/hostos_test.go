package provision

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/remote/fakehost"
)

func TestInitSystemsAndPackageManagers(t *testing.T) {
	l := inventory.Layout{InitDir: "/etc/init.d", SystemdDir: "/etc/systemd/system"}
	sysv, err := initSystem(&Facts{Init: "sysv"}, l)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := initSystem(&Facts{Init: "systemd"}, l)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := initSystem(&Facts{Init: "openrc"}, l); err == nil {
		t.Error("an unknown init system was accepted")
	}
	thpFile := func(in InitSystem) string {
		f, mode, _ := in.THPFile()
		return fmt.Sprintf("%s %o", f, mode)
	}
	for _, c := range []struct{ got, want string }{
		{thpFile(sysv), "/etc/init.d/redisctl-thp 755"},
		{thpFile(sd), "/etc/systemd/system/redisctl-thp.service 644"},
		{sysv.ServiceCmd("redis_7000", "start"), "/etc/init.d/redis_7000 start"},
		{sd.ServiceCmd("redis_7000", "stop"), "systemctl stop redis_7000"},
		{sd.EnableCmd("sentinel_8000"), "systemctl daemon-reload && systemctl enable sentinel_8000 && echo enabled"},
		{sd.EnableCmd("redis_7000", "sentinel_8000"), "systemctl daemon-reload && systemctl enable redis_7000 sentinel_8000 && echo enabled"},
		{sysv.EnableCmd("redis_7000", "sentinel_8000"), "if command -v update-rc.d >/dev/null 2>&1; then update-rc.d redis_7000 defaults >/dev/null && update-rc.d sentinel_8000 defaults >/dev/null && echo enabled; " +
			"elif command -v chkconfig >/dev/null 2>&1; then chkconfig --add redis_7000 && chkconfig --add sentinel_8000 && echo enabled; fi"},
		{sd.MakeFlags(), "USE_SYSTEMD=yes"},
		{sysv.MakeFlags(), ""},
		{sysv.ReloadCmd(), ""},
		{packageManager(&Facts{PkgManager: "apt"}).InstallCmd([]string{"gcc", "make"}), "DEBIAN_FRONTEND=noninteractive apt-get install -y -q gcc make"},
		{packageManager(&Facts{PkgManager: "dnf"}).InstallCmd([]string{"gcc"}), "dnf install -y gcc"},
		{strings.Join(sd.BuildPackages(packageManager(&Facts{PkgManager: "yum"})), " "), "systemd-devel"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if packageManager(&Facts{}) != nil {
		t.Error("a host without a package manager got one")
	}
}

// Build tools that cannot be installed (no mirror) stop the build with the
// host's missing tools and the packages to install by hand.
func TestEnsureBuildToolsWithoutMirror(t *testing.T) {
	h := fakehost.New("node1")
	h.Answer(`apt-get install`, fakehost.Result{Status: 100, Stderr: "E: Unable to locate package gcc"})
	n := &Node{Spec: &inventory.Host{Name: "node1"}, Host: h}
	n.SetFacts(&Facts{Init: "systemd", PkgManager: "apt", MissingTools: []string{"gcc", "make"}}, &Manifest{}, inventory.Layout{})
	c := &Cluster{Inv: &inventory.Inventory{}, P: testProgress(t)}
	err := c.ensureBuildTools(context.Background(), n)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"build tools missing (gcc, make)", "apt-get could not install gcc make libc6-dev tar pkg-config libsystemd-dev", "Unable to locate package gcc"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	n.SetFacts(&Facts{Init: "sysv", MissingTools: []string{"make"}}, &Manifest{}, inventory.Layout{})
	if err := c.ensureBuildTools(context.Background(), n); err == nil || !strings.Contains(err.Error(), "no apt-get, dnf or yum") {
		t.Errorf("without a package manager: %v", err)
	}

	// A TLS build needs OpenSSL's headers too, even with every tool there.
	c.Inv.TLS.Enabled = true
	n.SetFacts(&Facts{Init: "sysv", PkgManager: "apt"}, &Manifest{}, inventory.Layout{})
	err = c.ensureBuildTools(context.Background(), n)
	for _, want := range []string{"build tools missing (OpenSSL headers)", "apt-get could not install gcc make libc6-dev tar pkg-config libssl-dev"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("TLS build without headers: error %v does not say %q", err, want)
		}
	}
	n.SetFacts(&Facts{Init: "sysv", PkgManager: "apt", SSLHeaders: true}, &Manifest{}, inventory.Layout{})
	if err := c.ensureBuildTools(context.Background(), n); err != nil {
		t.Errorf("TLS build with headers: %v", err)
	}
	if got := c.makeFlags(n); got != "BUILD_TLS=yes" {
		t.Errorf("TLS build on SysV: make flags %q", got)
	}
}

// A TLS cluster's host without OpenSSL's library gets it from its package
// manager (Debian 13's libssl3t64, else libssl3; openssl-libs on RHEL);
// one that has it runs nothing.
func TestEnsureLibSSL(t *testing.T) {
	for _, c := range []struct {
		pkg, want string
		have      bool
	}{
		{"apt", "apt-get install -y -q libssl3t64 || DEBIAN_FRONTEND=noninteractive apt-get install -y -q libssl3", false},
		{"dnf", "dnf install -y openssl-libs", false},
		{"apt", "", true},
	} {
		h := fakehost.New("node1")
		h.Answer(`install`, fakehost.Result{})
		n := &Node{Spec: &inventory.Host{Name: "node1"}, Host: h}
		n.SetFacts(&Facts{Init: "sysv", PkgManager: c.pkg, LibSSL: c.have}, &Manifest{}, inventory.Layout{})
		cl := &Cluster{Inv: &inventory.Inventory{TLS: inventory.TLS{Enabled: true}}, P: testProgress(t)}
		if err := cl.ensureLibSSL(context.Background(), n); err != nil {
			t.Fatalf("%s: %v", c.pkg, err)
		}
		calls := strings.Join(h.Calls(), "\n")
		if c.want == "" && calls != "" || c.want != "" && !strings.Contains(calls, c.want) {
			t.Errorf("%s (library there: %t): ran %q, want %q", c.pkg, c.have, calls, c.want)
		}
		if !n.Facts.LibSSL {
			t.Errorf("%s: the facts do not record the library", c.pkg)
		}
	}
}
