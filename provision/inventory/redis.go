package inventory

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// This file holds the rules for the redis section: version, source tarball,
// password and extra redis.conf directives. Its ACL users are in users.go.

var (
	versionForm = regexp.MustCompile(`^[0-9]+\.[0-9]+[0-9A-Za-z.-]*$`)
	sha256Form  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// tarballVersion finds the engine and version in redis-7.0.15.tar.gz
	// (upstream), redis_7.0.15.orig.tar.gz or valkey_8.1.1+dfsg1.orig.tar.xz
	// (Debian; the +dfsg1 of a repack is not part of the version).
	tarballVersion = regexp.MustCompile(`^(redis|valkey)[-_]([0-9][0-9A-Za-z.-]*?)(\+[0-9A-Za-z.]+)?(\.orig)?\.tar\.(gz|xz)$`)
	// envRef is a password written as a reference: ${NAME}.
	envRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)
)

// The engines redisctl builds and runs.
const (
	EngineRedis  = "redis"
	EngineValkey = "valkey"
)

// EngineName is an engine's name as people write it: Redis, Valkey.
func EngineName(engine string) string {
	if engine == EngineValkey {
		return "Valkey"
	}
	return "Redis"
}

func (d *decoder) engine(n *yaml.Node, f fieldPath, r *Redis) {
	r.Engine = EngineRedis
	v, ok := d.str(n, f)
	if !ok || v == "" {
		return
	}
	switch v {
	case EngineRedis, EngineValkey:
		r.Engine = v
	default:
		d.errorf(n, f, "%q is not an engine redisctl knows (want redis or valkey)", v)
	}
}

func (d *decoder) version(n *yaml.Node, f fieldPath, r *Redis) {
	if absent(n) {
		d.problem(d.locate(f), f, `missing (want the Redis version, quoted, e.g. version: "7.0.15")`)
		return
	}
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!float" || n.ShortTag() == "!!int") {
		d.errorf(n, f, "%s is a number to YAML (quote it: version: %q)", n.Value, n.Value)
		return
	}
	v, ok := d.str(n, f)
	if !ok {
		return
	}
	if !versionForm.MatchString(v) {
		d.errorf(n, f, "%q is not a Redis version (want e.g. \"7.0.15\")", v)
		return
	}
	r.Version = v
}

// source reads redis.source and redis.sha256 together: a URL needs its
// sha256; a local file must exist and match the sha256 when one is given.
func (d *decoder) source(src, sum *yaml.Node, f fieldPath, r *Redis) {
	sf, hf := f.key("source"), f.key("sha256")
	if s, ok := d.str(sum, hf); ok {
		if s = strings.ToLower(s); sha256Form.MatchString(s) {
			r.SHA256 = s
		} else {
			d.errorf(sum, hf, "%q is not a sha256 (want 64 hex digits, as sha256sum prints)", s)
		}
	}
	if absent(src) {
		d.problem(d.locate(sf), sf, "missing (want a URL such as %s with its sha256, or the path of a local tarball)", upstreamURL(r.Version))
		return
	}
	s, ok := d.str(src, sf)
	if !ok {
		return
	}
	if strings.Contains(s, "://") {
		d.url(src, sf, s, r)
		if r.Source != "" && absent(sum) {
			d.errorf(src, hf, "missing; a URL source needs its sha256 (Redis publishes them at https://github.com/redis/redis-hashes)")
		}
	} else {
		d.localSource(src, sf, s, sum, hf, r)
	}
	d.warnVersionMismatch(src, sf, r)
}

func upstreamURL(version string) string {
	if version == "" {
		version = "7.0.15"
	}
	return "https://download.redis.io/releases/redis-" + version + ".tar.gz"
}

func (d *decoder) url(n *yaml.Node, f fieldPath, s string, r *Redis) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		d.errorf(n, f, "%q is not a source redisctl can fetch (want an https:// or http:// URL, or a local path)", s)
		return
	}
	r.Source = s
}

// localSource checks a local tarball: it must exist and, when a sha256 is
// given, match it.
func (d *decoder) localSource(n *yaml.Node, f fieldPath, s string, sum *yaml.Node, hf fieldPath, r *Redis) {
	p, ok := d.expandPath(n, f, s)
	if !ok {
		return
	}
	info, err := os.Stat(p)
	switch {
	case os.IsNotExist(err):
		d.errorf(n, f, "no such file: %s (relative paths are relative to the inventory's directory)", p)
		return
	case err != nil:
		d.errorf(n, f, "cannot use %s: %v", p, err)
		return
	case !info.Mode().IsRegular():
		d.errorf(n, f, "%s is not a file (want a .tar.gz or .tar.xz of the source)", p)
		return
	}
	r.Source = p
	if r.SHA256 == "" {
		return
	}
	got, err := fileSHA256(p)
	if err != nil {
		d.errorf(n, f, "cannot read %s: %v", p, err)
		return
	}
	if got != r.SHA256 {
		d.errorf(sum, hf, "does not match %s, whose sha256 is %s", p, got)
	}
}

func fileSHA256(p string) (string, error) {
	file, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer file.Close()
	h := sha256.New()
	if _, err := io.Copy(h, file); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// warnVersionMismatch warns when the tarball's name says another version.
func (d *decoder) warnVersionMismatch(n *yaml.Node, f fieldPath, r *Redis) {
	if r.Source == "" || r.Version == "" {
		return
	}
	m := tarballVersion.FindStringSubmatch(filepath.Base(r.Source))
	if m != nil && m[2] != r.Version {
		d.warnf(posOf(n), f, "the file name says %s %s but redis.version is %s", EngineName(m[1]), m[2], r.Version)
	}
	if m != nil && r.Engine != "" && m[1] != r.Engine {
		d.warnf(posOf(n), f, "the file name says %s but redis.engine is %s", m[1], r.Engine)
	}
}

// localPath reads a local file path: "~" is the home directory and relative
// paths are relative to the inventory's directory.
func (d *decoder) localPath(n *yaml.Node, f fieldPath) (string, bool) {
	s, ok := d.str(n, f)
	if !ok || s == "" {
		return "", false
	}
	return d.expandPath(n, f, s)
}

func (d *decoder) expandPath(n *yaml.Node, f fieldPath, p string) (string, bool) {
	switch {
	case p == "~" || strings.HasPrefix(p, "~/"):
		home, ok := d.env("HOME")
		if !ok || home == "" {
			d.errorf(n, f, "cannot expand ~: HOME is not set (write the full path)")
			return "", false
		}
		return filepath.Join(home, p[1:]), true
	case strings.HasPrefix(p, "~"):
		d.errorf(n, f, "%q: only ~ and ~/ are expanded (write the full path)", p)
		return "", false
	case filepath.IsAbs(p):
		return p, true
	}
	return filepath.Join(d.dir, p), true
}

// password reads a password: redis.password or redis.users[i].password.
// It is text, or ${NAME} to read the environment; example names a variable
// for the message about a malformed reference, and why says what control
// characters would break. It returns the value and where it came from
// ("inventory" or "environment variable NAME"), or "", "" when the password
// is not given (up generates one) or wrong (reported). No message here may
// show the password.
func (d *decoder) password(n *yaml.Node, f fieldPath, example, why string) (value, source string) {
	raw, ok := d.str(n, f)
	if !ok || raw == "" {
		return "", "" // not given: up generates one
	}
	value, source = raw, "inventory"
	if m := envRef.FindStringSubmatch(raw); m != nil {
		name := m[1]
		source = "environment variable " + name
		v, set := d.env(name)
		switch {
		case !set:
			d.errorf(n, f, "environment variable %s is not set (export it, or leave password out to have up generate one)", name)
			return "", ""
		case v == "":
			d.errorf(n, f, "environment variable %s is empty (set it, or leave password out to have up generate one)", name)
			return "", ""
		}
		value = v
	} else if strings.Contains(raw, "${") {
		d.errorf(n, f, "a ${NAME} reference must be the whole value, with NAME of letters, digits and _ (e.g. password: ${%s})", example)
		return "", ""
	}
	if c := controlName(value); c != "" {
		d.errorf(n, f, "the password (from the %s) contains %s; %s%s", source, c, why, blockHint(n, source))
		return "", ""
	}
	return value, source
}

// blockHint explains the usual way a newline gets into a password.
func blockHint(n *yaml.Node, source string) string {
	if source == "inventory" && (n.Style&(yaml.LiteralStyle|yaml.FoldedStyle)) != 0 {
		return " (a | or > block keeps its last newline: use |- or write it on one line)"
	}
	return ""
}

// config reads extra redis.conf directives, in the order written.
func (d *decoder) config(n *yaml.Node, f fieldPath) []Directive {
	if absent(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, f, "want a mapping of redis.conf directives (e.g. maxmemory: 2gb), not %s", describe(n))
		return nil
	}
	var ds []Directive
	for _, kv := range d.pairs(n, f) {
		name, df := kv.key.Value, f.key(kv.key.Value)
		if !d.directive(kv.key, df, name) {
			continue
		}
		if value, ok := d.directiveValue(kv.key, kv.value, df); ok {
			ds = append(ds, Directive{Name: name, Value: value, Line: kv.key.Line})
		}
	}
	return ds
}

// directive checks a directive name: redis.conf's spelling, neither
// managed by redisctl nor refused (see CheckDirectiveName).
func (d *decoder) directive(k *yaml.Node, f fieldPath, name string) bool {
	if err := CheckDirectiveName(name); err != nil {
		d.errorf(k, f, "%s", err)
		return false
	}
	return true
}

// directiveValue reads a directive's value as written. Values are not shown
// in messages: some (masteruser, ACL lines) may be secret.
func (d *decoder) directiveValue(k, n *yaml.Node, f fieldPath) (string, bool) {
	switch {
	case absent(n) || (n.Kind == yaml.ScalarNode && n.Value == ""):
		d.errorf(k, f, `needs a value (for an empty argument write '""')`)
	case n.Kind != yaml.ScalarNode:
		d.errorf(n, f, "want a single value as redis.conf takes it, not %s", describe(n))
	case n.ShortTag() == "!!bool":
		d.errorf(n, f, "%s is not a redis.conf value (write yes or no)", n.Value)
	default:
		// The same rules render applies: control characters, quotes
		// Redis would not load, nothing but blanks.
		if _, err := valueArgs(n.Value); err != nil {
			d.errorf(n, f, "%s", err)
			return "", false
		}
		return n.Value, true
	}
	return "", false
}
