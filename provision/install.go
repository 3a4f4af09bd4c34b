package provision

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redisctl/redisctl/provision/remote"
)

// binaries redisctl installs; redis-sentinel is a link to redis-server.
var binaries = []string{"redis-server", "redis-cli"}

// NeedsInstall reports whether a node lacks the inventory's engine and
// version, or a build with TLS on a TLS cluster.
func (c *Cluster) NeedsInstall(n *Node) bool {
	return InstalledBuild(n.Facts) != c.Target() || c.Inv.TLS.Enabled && !n.Facts.RedisTLS
}

// makeFlags are the flags Redis is built with on n: its init system's,
// and BUILD_TLS=yes on a TLS cluster.
func (c *Cluster) makeFlags(n *Node) string {
	flags := n.Init.MakeFlags()
	if c.Inv.TLS.Enabled {
		flags = strings.TrimSpace(flags + " BUILD_TLS=yes")
	}
	return flags
}

// buildDir is where the control machine keeps the build of src for one
// platform: a TLS build apart from one without.
func (c *Cluster) buildDir(cacheDir string, src *Source, platform string) string {
	name := src.SHA256[:12] + "-" + platform
	if c.Inv.TLS.Enabled {
		name += "-tls"
	}
	return filepath.Join(cacheDir, "builds", name)
}

// Stages reports whether Install puts the new build beside the installed
// one on n (to be switched to at each server's restart, see upgrade.go)
// rather than in its place: when another build is installed and one of
// n's servers runs it.
func Stages(n *Node) bool {
	return n.Facts.RedisVersion != "" && (n.Facts.RedisPid > 0 || n.Facts.SentinelPid > 0)
}

// Install puts the inventory's Redis version on every node that lacks it.
// It leaves the nodes' facts as they were (up runs it beside other steps
// that read them): the caller records, for the nodes it returns, that the
// build is installed (installedNow).
// Redis is built once per platform (OS, version, architecture) on one of
// that platform's hosts, kept in the control machine's cache, and the
// binaries are then copied to the others: three builds on shared cores
// would triple the wait for the same result.
func (c *Cluster) Install(ctx context.Context, src *Source, cacheDir string) (installed []*Node, err error) {
	groups := map[string][]*Node{}
	var order []string
	var bad []error
	for _, n := range c.Nodes {
		if !c.NeedsInstall(n) {
			continue
		}
		k, err := n.Facts.Platform()
		if err != nil {
			bad = append(bad, &HostError{Host: n.Spec.Name, Err: err})
			continue
		}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], n)
	}
	if len(bad) > 0 {
		return nil, errors.Join(bad...)
	}
	if len(order) == 0 {
		return nil, nil
	}
	var mu sync.Mutex
	err = EachHost(ctx, order, func(k string) string { return groups[k][0].Spec.Name }, "install redis", func(ctx context.Context, platform string) error {
		nodes := groups[platform]
		dir := c.buildDir(cacheDir, src, platform)
		sums, err := CachedBuild(dir)
		if err != nil {
			return err
		}
		if sums == nil {
			if sums, err = c.build(ctx, nodes[0], src, dir); err != nil {
				return err
			}
		} else {
			c.P.Printf(nodes[0].Spec.Name, "using cached build of redis %s for %s (checksums verified)", c.Inv.Redis.Version, platform)
		}
		return EachHost(ctx, nodes, NodeName, "install redis", func(ctx context.Context, n *Node) error {
			if err := c.ensureLibSSL(ctx, n); err != nil {
				return err
			}
			if err := c.installBinaries(ctx, n, dir, sums); err != nil {
				return err
			}
			mu.Lock()
			installed = append(installed, n)
			mu.Unlock()
			return nil
		})
	})
	return installed, err
}

// InstalledNow records in n's facts that Install put the inventory's
// build in place (not beside a running one: that one switches at each
// restart, see switchBinaries).
func (c *Cluster) InstalledNow(n *Node) {
	if !Stages(n) {
		n.Facts.RedisVersion, n.Facts.RedisEngine = c.Inv.Redis.Version, c.Target().Engine
	}
}

// SumsFile records, beside a cached build, the sha256 of each binary as it
// came off the build host.
const SumsFile = "SHA256SUMS"

// CachedBuild returns the recorded checksums of a complete cached build in
// dir after checking every binary against them, or nil when there is no
// usable build (nothing cached, or cached by an older redisctl without
// checksums: built again). A binary that differs from its recorded sum is
// an error: something changed the cache, and shipping it to every host as
// root would spread whatever did.
func CachedBuild(dir string) (map[string]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, SumsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sums := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 {
			sums[f[1]] = f[0]
		}
	}
	for _, b := range binaries {
		want, ok := sums[b]
		if !ok {
			return nil, fmt.Errorf("cached build %s: %s lists no checksum for %s; remove the directory to build again", dir, SumsFile, b)
		}
		got, _, err := hashFile(filepath.Join(dir, b))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if got != want {
			return nil, fmt.Errorf("cached build %s: %s has sha256 %s, but %s recorded %s when it was built; refusing to install it (remove the directory to build again)", dir, b, got, SumsFile, want)
		}
	}
	return sums, nil
}

// build compiles Redis on n, copies the binaries into the local dir and
// records their checksums there (written last: a build cut short leaves no
// sums, and is built again).
func (c *Cluster) build(ctx context.Context, n *Node, src *Source, dir string) (map[string]string, error) {
	sums, err := c.buildInto(ctx, n, src, dir)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for _, name := range binaries {
		fmt.Fprintf(&b, "%s  %s\n", sums[name], name)
	}
	tmp := filepath.Join(dir, SumsFile+".tmp")
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	return sums, os.Rename(tmp, filepath.Join(dir, SumsFile))
}

func (c *Cluster) buildInto(ctx context.Context, n *Node, src *Source, dir string) (map[string]string, error) {
	start := time.Now()
	if err := c.ensureBuildTools(ctx, n); err != nil {
		return nil, err
	}
	bdir := path.Join(c.Layout.StateDir, "build")
	tarball := path.Join(bdir, "source-"+src.SHA256[:12]+".tar")
	work := path.Join(bdir, "source-"+src.SHA256[:12])
	server, cli := srcPrograms(c.Target().Engine)
	if err := c.ensureDirs(ctx, n, []dirSpec{{Path: c.Layout.StateDir, Mode: 0o700}, {Path: bdir, Mode: 0o700}}); err != nil {
		return nil, err
	}
	f, err := os.Open(src.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c.P.Printf(n.Spec.Name, "uploading source (%d bytes)", src.Size)
	if err := n.Host.Upload(ctx, tarball, f, 0o600, ""); err != nil {
		return nil, fmt.Errorf("upload source: %w", err)
	}
	c.P.Printf(n.Spec.Name, "building %s (make -j$(nproc)); takes a minute or two", c.Target())
	// tar finds the compression (gzip or xz) by itself when it reads.
	script := fmt.Sprintf(`set -e
rm -rf %[1]s && mkdir -p %[1]s
tar -xf %[2]s -C %[1]s --strip-components=1
cd %[1]s
if ! make -j"$(nproc)" %[3]s >build.log 2>&1; then echo "make failed; last lines of %[1]s/build.log:" >&2; tail -n 25 build.log >&2; exit 1; fi
./src/%[4]s --version
cd src && sha256sum %[4]s %[5]s`, remote.Quote(work), remote.Quote(tarball), c.makeFlags(n), server, cli)
	out, err := remote.Output(ctx, n.Host, script)
	if err != nil {
		return nil, fmt.Errorf("build redis: %w", err)
	}
	if !builds(out, c.Target()) {
		return nil, fmt.Errorf("the source built %q, but the inventory says %s (redis.engine, redis.version)", firstLine(out), c.Target())
	}
	remoteSums := parseSums(out)
	// The programs are kept, and installed, under redisctl's names.
	remoteSums["redis-server"], remoteSums["redis-cli"] = remoteSums[server], remoteSums[cli]
	built := map[string]string{"redis-server": server, "redis-cli": cli}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	sums := map[string]string{}
	for _, b := range binaries {
		data, err := n.Host.ReadFile(ctx, path.Join(work, "src", built[b]))
		if err != nil {
			return nil, fmt.Errorf("fetch built %s: %w", b, err)
		}
		sum := sha256.Sum256(data)
		sums[b] = hex.EncodeToString(sum[:])
		if sums[b] != remoteSums[b] {
			return nil, fmt.Errorf("fetched %s has sha256 %s, but it is %s on the build host; the copy was damaged, run again", b, sums[b], orNone(remoteSums[b]))
		}
		if err := os.WriteFile(filepath.Join(dir, b+".tmp"), data, 0o755); err != nil {
			return nil, err
		}
		if err := os.Rename(filepath.Join(dir, b+".tmp"), filepath.Join(dir, b)); err != nil {
			return nil, err
		}
	}
	if err := n.Host.Run(ctx, remote.Cmd("rm", "-rf", work, tarball), nil, nil, nil); err != nil {
		return nil, err
	}
	c.P.Printf(n.Spec.Name, "built %s in %s", c.Target(), time.Since(start).Round(time.Second))
	return sums, nil
}

// builds reports whether a server's --version output names build b:
// "Redis server v=7.0.15 sha=..." or "Valkey server v=8.1.1 ...".
func builds(versionOut string, b Build) bool {
	out := strings.TrimSpace(versionOut)
	return strings.Contains(out, " v="+b.Version+" ") && strings.HasPrefix(strings.ToLower(out), b.Engine+" server ")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// parseSums reads sha256sum's "SUM  NAME" lines out of output, by name.
func parseSums(out string) map[string]string {
	sums := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && len(f[0]) == 64 {
			sums[strings.TrimPrefix(f[1], "*")] = f[0]
		}
	}
	return sums
}

// ensureBuildTools installs what a build on n lacks with the host's
// package manager; without one, or when it cannot (no mirror), it stops
// naming the host's missing tools and the packages to install by hand.
func (c *Cluster) ensureBuildTools(ctx context.Context, n *Node) error {
	missing := slices.Clone(n.Facts.MissingTools)
	tlsBuild := c.Inv.TLS.Enabled && !n.Facts.SSLHeaders
	if tlsBuild {
		missing = append(missing, "OpenSSL headers")
	}
	if len(missing) == 0 {
		return nil
	}
	pm := n.Pkg
	if pm == nil {
		return buildToolsError(missing, missing, "", nil)
	}
	pkgs := append(pm.BuildPackages(), n.Init.BuildPackages(pm)...)
	if tlsBuild {
		pkgs = append(pkgs, pm.SSLHeaders())
	}
	c.P.Printf(n.Spec.Name, "installing build tools (%s missing): %s %s", strings.Join(missing, ", "), pm.Name(), strings.Join(pkgs, " "))
	if err := n.Host.Run(ctx, pm.InstallCmd(pkgs), nil, nil, nil); err != nil {
		return buildToolsError(missing, pkgs, pm.Name(), err)
	}
	return nil
}

// NeedsLibSSL reports whether n lacks the OpenSSL library that the TLS
// build needs to run.
func (c *Cluster) NeedsLibSSL(n *Node) bool {
	return c.Inv.TLS.Enabled && !n.Facts.LibSSL
}

// ensureLibSSL installs OpenSSL's library on a TLS cluster's host that
// lacks it, with the host's package manager (check hosts refused a host
// without one).
func (c *Cluster) ensureLibSSL(ctx context.Context, n *Node) error {
	if !c.NeedsLibSSL(n) || n.Pkg == nil {
		return nil
	}
	c.P.Printf(n.Spec.Name, "installing the OpenSSL library, which Redis built with TLS needs (%s)", n.Pkg.Name())
	if err := n.Host.Run(ctx, n.Pkg.SSLLibraryCmd(), nil, nil, nil); err != nil {
		return fmt.Errorf("install the OpenSSL library (Redis built with TLS needs it to run): %w", err)
	}
	n.Facts.LibSSL = true
	return nil
}

// installBinaries copies the built binaries to the host's BinDir, records
// what it created, and checks the installed version. On a host whose
// servers run another build it puts them beside the installed ones
// (stagedName) instead: each server switches at its restart.
func (c *Cluster) installBinaries(ctx context.Context, n *Node, dir string, sums map[string]string) error {
	bin := c.Layout.BinDir
	fresh := n.Facts.RedisVersion == ""
	staged := Stages(n)
	dest := func(p string) string {
		if staged {
			return stagedName(bin, p)
		}
		return path.Join(bin, p)
	}
	if err := c.ensureDirs(ctx, n, []dirSpec{{Path: c.Layout.StateDir, Mode: 0o700}}); err != nil {
		return err
	}
	for _, b := range binaries {
		f, err := os.Open(filepath.Join(dir, b))
		if err != nil {
			return err
		}
		err = n.Host.Upload(ctx, dest(b), f, 0o755, "")
		f.Close()
		if err != nil {
			return fmt.Errorf("install %s: %w", b, err)
		}
		if fresh {
			n.Manifest.AddCreated(path.Join(bin, b))
		}
		if staged {
			// Gone once switched to; listed so that an uninstall in the
			// middle of an upgrade leaves nothing behind.
			n.Manifest.AddCreated(dest(b))
		}
	}
	sentinel := path.Join(bin, "redis-sentinel")
	var names []string
	for _, b := range binaries {
		names = append(names, path.Base(dest(b)))
	}
	out, err := remote.Output(ctx, n.Host, fmt.Sprintf("if [ ! -e %[1]s ]; then echo created; fi; ln -sfn redis-server %[1]s; %[2]s --version; cd %[3]s && sha256sum %[4]s",
		remote.Quote(sentinel), remote.Quote(dest("redis-server")), remote.Quote(bin), strings.Join(names, " ")))
	if err != nil {
		return err
	}
	installed := parseSums(out)
	for _, b := range binaries {
		if installed[path.Base(dest(b))] != sums[b] {
			return fmt.Errorf("installed %s has sha256 %s, want %s (the build's); run up again", dest(b), orNone(installed[path.Base(dest(b))]), sums[b])
		}
	}
	if strings.HasPrefix(out, "created") {
		n.Manifest.AddCreated(sentinel)
	}
	versionOut := strings.TrimPrefix(out, "created\n")
	if !builds(versionOut, c.Target()) {
		return fmt.Errorf("installed %s reports %q, want %s", dest("redis-server"), firstLine(versionOut), c.Target())
	}
	if err := n.Manifest.Save(ctx, n.Host); err != nil {
		return err
	}
	if staged {
		c.P.Printf(n.Spec.Name, "put %s beside %s in %s; each server switches to it when it restarts", c.Target(), InstalledBuild(n.Facts), bin)
		return nil
	}
	c.P.Printf(n.Spec.Name, "installed %s in %s", c.Target(), bin)
	return nil
}

// dirSpec is a directory redisctl owns, with its owner and mode.
type dirSpec struct {
	Path  string
	Owner string // "user:group"; "" for root
	Mode  fs.FileMode
	// KeepForeign leaves an existing directory that redisctl did not
	// create as it is (for example /var/lib/redis of Debian's own
	// redis-server package).
	KeepForeign bool
}

// ensureDirs creates missing directories (recording them in the manifest)
// and sets owner and mode, in one round trip.
//
// Root never acts through a link another user could have planted: a path
// that is a symbolic link is refused by name; where the parent belongs to
// root alone, root creates the directory, and chown -h and chmod cannot be
// redirected (no one else can swap the path); where another user can write
// the parent, root does nothing there at all and the owner does the work
// as itself (runuser), so it can only reach what it could reach anyway.
func (c *Cluster) ensureDirs(ctx context.Context, n *Node, dirs []dirSpec) error {
	var out bytes.Buffer
	if err := n.Host.Run(ctx, ensureDirsScript(dirs, n.Manifest.Has), nil, &out, nil); err != nil {
		return err
	}
	created := strings.Fields(out.String())
	for _, p := range created {
		n.Manifest.AddCreated(p)
	}
	if len(created) > 0 {
		return n.Manifest.Save(ctx, n.Host)
	}
	return nil
}

// safeDirFunc defines safe_dir DIR: true when DIR is root's and no one else
// may write in it, so no one but root can swap what is in it. A directory
// found or made so is remembered ($_safe_dirs): one stat per directory.
const safeDirFunc = `_safe_dirs=
safe_dir() {
	set -- "${1:-/}"
	case "$_safe_dirs
" in *"
$1
"*) return 0 ;; esac
	set -- "$1" $(stat -L -c '%u %a' -- "$1" 2>/dev/null)
	if [ "$2" = 0 ] && [ $(( 0$3 & 022 )) = 0 ]; then _safe_dirs="$_safe_dirs
$1"; return 0; fi
	return 1
}
`

// ensureDirsScript is the shell script of ensureDirs; ours tells which
// paths redisctl created earlier. It prints each directory it creates.
func ensureDirsScript(dirs []dirSpec, ours func(string) bool) string {
	return ensureDirsPrelude + ensureDirsCalls(dirs, ours)
}

// ensureDirsPrelude starts ensureDirsScript: set -e, a umask, and the
// shell functions its calls use (ensure_dir, safe_dir, refuse).
const ensureDirsPrelude = `# redisctl: ensure directories
set -e
umask 077
refuse() { printf 'redisctl: %s\n' "$*" >&2; exit 3; }
` + safeDirFunc + `ensure_dir() {
	p=$1 owner=$2 mode=$3 keep=$4
	if [ -L "$p" ]; then refuse "$p is a symbolic link; refusing to follow it as root (check who made it, remove it, and run again)"; fi
	if [ -e "$p" ] && [ ! -d "$p" ]; then refuse "$p exists and is not a directory"; fi
	if [ "$keep" = keep ] && [ -d "$p" ]; then return 0; fi
	if safe_dir "${p%/*}"; then
		# No one but root can swap $p: one install makes it (its parent
		# is there) or gives it its owner and mode.
		new=; [ -d "$p" ] || new=1
		install -d -o "${owner%%:*}" -g "${owner#*:}" -m "$mode" -- "$p" 2>/dev/null || refuse "cannot create $p"
		if [ -n "$new" ]; then echo "$p"; fi
		if [ "$owner" = root:root ] && [ $(( 0$mode & 022 )) = 0 ]; then _safe_dirs="$_safe_dirs
$p"; fi
	else
		u=${owner%%:*}
		if [ "$u" = root ]; then refuse "$p is in a directory another user can write; refusing to make a root-owned directory there"; fi
		runuser -u "$u" -- sh -c 'set -e; if [ ! -d "$1" ]; then if mkdir -m "$2" -- "$1" 2>/dev/null; then echo "$1"; elif [ ! -d "$1" ] || [ -L "$1" ]; then exit 3; fi; fi; chmod -- "$2" "$1"' redisctl "$p" "$mode"
	fi
}
`

// ensureDirsCalls are the ensure_dir calls of ensureDirsScript for dirs.
func ensureDirsCalls(dirs []dirSpec, ours func(string) bool) string {
	var b strings.Builder
	for _, d := range dirs {
		owner := d.Owner
		if owner == "" {
			owner = "root:root"
		}
		keep := "own"
		if d.KeepForeign && !ours(d.Path) {
			keep = "keep"
		}
		fmt.Fprintf(&b, "ensure_dir %s %s %04o %s\n", remote.Quote(d.Path), remote.Quote(owner), uint32(d.Mode.Perm()), keep)
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "not installed"
	}
	return s
}
