package up

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redisctl/redisctl/provision"
)

// hostCheckStep is up's step "check hosts".
type hostCheckStep struct{ *upRun }

func (hostCheckStep) Title() string { return "check hosts" }

func (r hostCheckStep) Run(ctx context.Context) error {
	c := r.c
	var errs []error
	for _, n := range c.Nodes {
		f := n.Facts
		fail := func(format string, args ...any) {
			errs = append(errs, &provision.HostError{Host: n.Spec.Name, Err: fmt.Errorf(format, args...)})
		}
		if !provision.PortOwnedByUs(f.RedisPortOwner, f.RedisPid) {
			fail("port %d is taken by another program (%s); free it or choose another redis.port", c.Inv.Redis.Port, f.RedisPortOwner)
		}
		if n.Spec.Sentinel && !provision.PortOwnedByUs(f.SentinelPortOwner, f.SentinelPid) {
			fail("port %d is taken by another program (%s); free it or choose another sentinel.port", c.Inv.Sentinel.Port, f.SentinelPortOwner)
		}
		if !provision.PortOwnedByUs(f.PlaintextPortOwner, f.RedisPid) {
			fail("port %d is taken by another program (%s); free it or choose another tls.plaintext_port", c.Inv.TLS.PlaintextPort, f.PlaintextPortOwner)
		}
		bin := c.Layout.BinDir + "/redis-server"
		have := provision.InstalledBuild(f)
		other := have.Version != "" && have != c.Target()
		if other && !n.Manifest.Has(bin) && n.Manifest.Shared() {
			fail("%s is %s, installed for another cluster on this host (%s); clusters on one host share %s, so set redis.engine and redis.version to %s", bin, have, strings.Join(provision.Named(n.Manifest.Others), ", "), c.Layout.BinDir, have)
		} else if other && !n.Manifest.Has(bin) {
			fail("%s is %s and was not installed by redisctl; refusing to replace it (remove it, or set redis.engine and redis.version to %s)", bin, have, have)
		} else if other {
			if err := provision.CheckVersionChange(have, c.Target()); err != nil {
				fail("%v", err)
			}
		}
		if top, ok := provision.RdbFormat(c.Target()); ok && f.RDBFormat > top && f.RedisPid == 0 {
			// Redis would refuse to start on it ("Can't handle RDB format
			// version"); say so before anything is written.
			fail("%s holds an RDB file of format %d (written by a newer build), which %s cannot load (it reads up to %d), so redis would refuse to start; move the file away (it is data: keep it) or set redis.version to the build that wrote it", c.Layout.DataDir, f.RDBFormat, c.Target(), top)
		}
		if n.Init != nil && n.Init.Notify() && have == c.Target() && !f.RedisSystemd {
			// No install will replace it: a Type=notify unit would make
			// systemd wait forever for a readiness message.
			fail("%s was built without systemd support (USE_SYSTEMD=yes), which the Type=notify units need; remove it so up builds one with it", bin)
		}
		if n.Init == nil {
			fail("unknown init system %q (redisctl knows SysV init and systemd)", f.Init)
		}
		if c.NeedsLibSSL(n) && n.Pkg == nil {
			fail("no OpenSSL library (libssl.so) found, which Redis built with TLS needs to run, and no apt-get, dnf or yum to install it; install libssl3 (Debian, Ubuntu) or openssl-libs (RHEL, Fedora)")
		}
		r.opts.Progress.Printf(n.Spec.Name, "%s %s %s, %s, %s%s", f.OSID, f.OSVersion, f.Arch, f.Init, have, running(f))
	}
	return errors.Join(errs...)
}

func running(f *provision.Facts) string {
	var s []string
	if f.RedisPid > 0 {
		s = append(s, fmt.Sprintf("redis pid %d", f.RedisPid))
	}
	if f.SentinelPid > 0 {
		s = append(s, fmt.Sprintf("sentinel pid %d", f.SentinelPid))
	}
	if len(s) == 0 {
		return ", nothing running"
	}
	return ", running: " + strings.Join(s, ", ")
}
