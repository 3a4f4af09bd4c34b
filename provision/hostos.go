package provision

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/remote"
	"github.com/redisctl/redisctl/provision/render"
)

// InitSystem is how a host runs services: chosen once from the facts, so
// no step compares init-system names itself.
type InitSystem interface {
	// Name is "sysv" or "systemd", as the facts report it.
	Name() string
	// ServiceCmd runs action (start, stop, restart) on svc and waits for it.
	ServiceCmd(svc, action string) string
	// EnableCmd registers services to start at boot; it prints "enabled"
	// when it did (a SysV host without update-rc.d or chkconfig cannot).
	EnableCmd(svcs ...string) string
	// DisableCmd undoes EnableCmd; it never fails on a service already gone.
	DisableCmd(svc string) string
	// ReloadCmd makes the init system read changed service files ("" when
	// there is nothing to reload).
	ReloadCmd() string
	// MakeFlags are the flags Redis is built with for this init system.
	MakeFlags() string
	// Notify reports that services wait for the server's readiness
	// message (systemd's Type=notify): a redis-server built without
	// USE_SYSTEMD=yes would never start.
	Notify() bool
	// BuildPackages name, for pm, what building with MakeFlags needs
	// beyond the compiler.
	BuildPackages(pm PackageManager) []string
	// THPFile is where the service that sets transparent huge pages at
	// boot goes, its mode, and how it is rendered.
	THPFile() (file string, mode fs.FileMode, renderFn func(render.THPService) ([]byte, error))
	// NoFile is, of the open-files limit redisctl's unit sets (unit) and
	// the one its init script sets (script), the one Redis gets from this
	// init system, and where that is set.
	NoFile(unit, script string) (val, from string)
}

// PackageManager installs the packages a build needs.
type PackageManager interface {
	Name() string
	// InstallCmd installs pkgs without asking.
	InstallCmd(pkgs []string) string
	// BuildPackages are the compiler, make and C library headers.
	BuildPackages() []string
	// SystemdHeaders is the package with libsystemd's headers.
	SystemdHeaders() string
	// SSLHeaders is the package with OpenSSL's headers (BUILD_TLS=yes).
	SSLHeaders() string
	// SSLLibraryCmd installs OpenSSL's library, which a build with TLS
	// needs to run.
	SSLLibraryCmd() string
}

type sysvInit struct{ l inventory.Layout }

func (sysvInit) Name() string { return "sysv" }
func (s sysvInit) ServiceCmd(svc, action string) string {
	return remote.Cmd(path.Join(s.l.InitDir, svc), action)
}
func (sysvInit) EnableCmd(svcs ...string) string {
	var rc, ck []string
	for _, svc := range svcs {
		q := remote.Quote(svc)
		rc = append(rc, "update-rc.d "+q+" defaults >/dev/null")
		ck = append(ck, "chkconfig --add "+q)
	}
	return "if command -v update-rc.d >/dev/null 2>&1; then " + strings.Join(rc, " && ") + " && echo enabled; " +
		"elif command -v chkconfig >/dev/null 2>&1; then " + strings.Join(ck, " && ") + " && echo enabled; fi"
}
func (sysvInit) DisableCmd(svc string) string {
	return fmt.Sprintf("if command -v update-rc.d >/dev/null 2>&1; then update-rc.d -f %[1]s remove >/dev/null; elif command -v chkconfig >/dev/null 2>&1; then chkconfig --del %[1]s || true; fi", remote.Quote(svc))
}
func (sysvInit) ReloadCmd() string                     { return "" }
func (sysvInit) MakeFlags() string                     { return "" }
func (sysvInit) Notify() bool                          { return false }
func (sysvInit) BuildPackages(PackageManager) []string { return nil }
func (s sysvInit) THPFile() (string, fs.FileMode, func(render.THPService) ([]byte, error)) {
	return path.Join(s.l.InitDir, THPService), 0o755, render.RenderTHPInitScript
}
func (s sysvInit) NoFile(unit, script string) (string, string) {
	return script, "NOFILE of " + s.l.RedisInitScript
}

// systemdInit runs Redis with Type=notify units: the build needs
// USE_SYSTEMD=yes (and so libsystemd's headers), or systemd would wait
// forever for a readiness message that never comes.
type systemdInit struct{ l inventory.Layout }

func (systemdInit) Name() string { return "systemd" }
func (systemdInit) ServiceCmd(svc, action string) string {
	return remote.Cmd("systemctl", action, svc)
}
func (systemdInit) EnableCmd(svcs ...string) string {
	return "systemctl daemon-reload && " + remote.Cmd(append([]string{"systemctl", "enable"}, svcs...)...) + " && echo enabled"
}
func (systemdInit) DisableCmd(svc string) string {
	return remote.Cmd("systemctl", "disable", svc) + " || true"
}
func (systemdInit) ReloadCmd() string { return "systemctl daemon-reload" }
func (systemdInit) MakeFlags() string { return "USE_SYSTEMD=yes" }
func (systemdInit) Notify() bool      { return true }
func (systemdInit) BuildPackages(pm PackageManager) []string {
	return []string{pm.SystemdHeaders()}
}
func (s systemdInit) THPFile() (string, fs.FileMode, func(render.THPService) ([]byte, error)) {
	return thpUnitPath(s.l), 0o644, render.RenderTHPUnit
}
func (s systemdInit) NoFile(unit, script string) (string, string) {
	return unit, "LimitNOFILE of " + s.l.RedisService
}

type aptManager struct{}

func (aptManager) Name() string { return "apt-get" }
func (aptManager) InstallCmd(pkgs []string) string {
	return "DEBIAN_FRONTEND=noninteractive apt-get install -y -q " + remote.Cmd(pkgs...)
}
func (aptManager) BuildPackages() []string {
	return []string{"gcc", "make", "libc6-dev", "tar", "pkg-config"}
}
func (aptManager) SystemdHeaders() string { return "libsystemd-dev" }
func (aptManager) SSLHeaders() string     { return "libssl-dev" }

// SSLLibraryCmd: the package is libssl3t64 from Debian 13 and Ubuntu 24.04
// on (the 64-bit time_t transition), libssl3 before.
func (m aptManager) SSLLibraryCmd() string {
	return m.InstallCmd([]string{"libssl3t64"}) + " || " + m.InstallCmd([]string{"libssl3"})
}

// rpmManager is dnf or yum.
type rpmManager struct{ name string }

func (m rpmManager) Name() string { return m.name }
func (m rpmManager) InstallCmd(pkgs []string) string {
	return m.name + " install -y " + remote.Cmd(pkgs...)
}
func (rpmManager) BuildPackages() []string {
	return []string{"gcc", "make", "tar", "pkgconf-pkg-config"}
}
func (rpmManager) SystemdHeaders() string  { return "systemd-devel" }
func (rpmManager) SSLHeaders() string      { return "openssl-devel" }
func (m rpmManager) SSLLibraryCmd() string { return m.InstallCmd([]string{"openssl-libs"}) }

// initSystem is the init system the facts found.
func initSystem(f *Facts, l inventory.Layout) (InitSystem, error) {
	switch f.Init {
	case "sysv":
		return sysvInit{l}, nil
	case "systemd":
		return systemdInit{l}, nil
	}
	return nil, fmt.Errorf("unknown init system %q", f.Init)
}

// packageManager is the package manager the facts found, or nil.
func packageManager(f *Facts) PackageManager {
	switch f.PkgManager {
	case "apt":
		return aptManager{}
	case "dnf", "yum":
		return rpmManager{name: f.PkgManager}
	}
	return nil
}

// buildToolsError is a host that lacks what a build needs and cannot get it.
func buildToolsError(missing, pkgs []string, how string, err error) error {
	msg := fmt.Sprintf("build tools missing (%s)", strings.Join(missing, ", "))
	if how == "" {
		return fmt.Errorf("%s and no apt-get, dnf or yum to install them; install %s by hand", msg, strings.Join(pkgs, " "))
	}
	return fmt.Errorf("%s, and %s could not install %s (no package mirror reachable?); install them by hand: %w", msg, how, strings.Join(pkgs, " "), err)
}
