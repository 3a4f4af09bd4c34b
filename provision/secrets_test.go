package provision

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redisctl/redisctl/provision/internal/testkit"
	"github.com/redisctl/redisctl/provision/remote/fakehost"
	"github.com/redisctl/redisctl/provision/render"
)

// secretMark is in every secret of secretConfig (in every word of the ones
// with blanks), so finding it anywhere means some part of a secret leaked.
const secretMark = "XSECRET"

// aclHash is the password hash of secretConfig's ACL user; it must not
// leak either.
const aclHash = "#5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"

// secretConfig has every directive that carries a secret, quoted with
// blanks, unquoted, and in odd case; gen tells versions apart.
func secretConfig(gen string) string {
	return fmt.Sprintf(`# a config with every secret redisctl may write
port 7000
requirepass "XSECRETa%[1]s with \"quote\" XSECRETb"
MasterAuth XSECRETc%[1]s
tls-key-file-pass 'XSECRETd%[1]s XSECRETe'
TLS-CLIENT-KEY-FILE-PASS XSECRETf%[1]s
user default on ">XSECRETg%[1]s XSECRETh" %[2]s ~* +@all
User alice ON >XSECRETi%[1]s resetchannels &* -@all +get
	sentinel auth-pass mymaster "XSECRETj%[1]s	XSECRETk"
SENTINEL AUTH-PASS mymaster XSECRETl%[1]s
sentinel sentinel-pass XSECRETm%[1]s
Sentinel Sentinel-Pass "XSECRETn%[1]s XSECRETo"
sentinel down-after-milliseconds mymaster 5000
`, gen, aclHash)
}

// noSecret fails when text holds any part of a secret of secretConfig.
func noSecret(t *testing.T, where, text string) {
	t.Helper()
	if strings.Contains(text, secretMark) || strings.Contains(text, aclHash[1:]) {
		t.Errorf("%s shows a secret:\n%s", where, text)
	}
}

func TestMaskLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`requirepass "a b \" c"`, `requirepass <hidden>`},
		{`REQUIREPASS secret`, `REQUIREPASS <hidden>`},
		{`masterauth 'it''s'`, `masterauth <hidden>`},
		{`  tls-key-file-pass x`, `  tls-key-file-pass <hidden>`},
		{`Tls-Client-Key-File-Pass "x y"`, `Tls-Client-Key-File-Pass <hidden>`},
		{`sentinel auth-pass mymaster "x y"`, `sentinel auth-pass mymaster <hidden>`},
		{"SENTINEL\tAUTH-PASS\tmymaster\tx", "SENTINEL\tAUTH-PASS\tmymaster\t<hidden>"},
		{`sentinel sentinel-pass x y z`, `sentinel sentinel-pass <hidden>`},
		{`user alice on >pw #abc "<old pw" !def ~* +@all`, `user alice on <hidden> <hidden> <hidden> <hidden> ~* +@all`},
		{`USER alice ON ">p w" resetkeys`, `USER alice ON <hidden> resetkeys`},
		// Lines that carry a secret somewhere, as logs and progress do.
		{`[node1] out: requirepass x`, `[node1] out: requirepass <hidden>`},
		{`node1    live: CONFIG SET masterauth x`, `node1    live: CONFIG SET masterauth <hidden>`},
		{`SENTINEL SET mymaster auth-pass x`, `SENTINEL SET mymaster auth-pass <hidden>`},
		{`SENTINEL SET sentinel auth-pass x`, `SENTINEL SET sentinel auth-pass <hidden>`},
		{`ACL SETUSER alice on >pw`, `ACL SETUSER alice on <hidden>`},
		{`config "requirepass x"`, `config "requirepass <hidden>`},
		// Nothing to hide.
		{`requirepass`, `requirepass`},
		{`update /etc/redis/redis_7000.conf (masterauth, requirepass)`, `update /etc/redis/redis_7000.conf (masterauth, requirepass)`},
		{`removed user redis`, `removed user redis`},
		{`sentinel monitor mymaster 10.0.0.1 7000 2`, `sentinel monitor mymaster 10.0.0.1 7000 2`},
	} {
		if got := maskLine(tc.in); got != tc.want {
			t.Errorf("maskLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := maskLine(maskLine(tc.in)); got != tc.want {
			t.Errorf("maskLine twice (%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPlanDiffHidesSecrets(t *testing.T) {
	ch := FileChange{
		File:     render.File{Path: "/etc/redis/redis_7000.conf", Secret: true},
		Old:      []byte(secretConfig("old")),
		New:      []byte(secretConfig("new") + "maxmemory 100mb\n"),
		IsConfig: true,
	}
	diff := FileDiff(ch)
	if !strings.Contains(diff, "+maxmemory 100mb") {
		t.Errorf("the diff lost what is not secret:\n%s", diff)
	}
	noSecret(t, "the diff", diff)
	// Every line new, so every line is in the diff.
	ch.Old = []byte("port 7000\n")
	all := FileDiff(ch)
	if !strings.Contains(all, "+\tsentinel auth-pass mymaster <hidden>") || !strings.Contains(all, "+User alice ON <hidden> resetchannels") {
		t.Errorf("the diff lost what is not secret:\n%s", all)
	}
	noSecret(t, "the diff", all)

	// A secret file that is not a config (all of it may be secret) has no diff.
	pw := FileChange{File: render.File{Path: "/etc/redis/password", Secret: true}, Old: []byte("XSECRETold\n"), New: []byte("XSECRETnew\n")}
	if d := FileDiff(pw); d != "" {
		t.Errorf("diff of a secret file: %q", d)
	}
}

func TestProgressHidesSecrets(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var out bytes.Buffer
	p := NewProgress(&out, dir, "test", true) // verbose: remote output goes to out too
	cfg := secretConfig("x")

	p.Printf("node1", "config:\n%s", cfg)
	for _, l := range strings.Split(cfg, "\n") {
		p.Printf("node1", "%s", l)
		p.Debugf("%s", l)
	}
	p.Debugf("%s", cfg)
	p.RedisLogger().Printf(ctx, "%s", cfg)

	// Remote output, on stdout and stderr, in pieces that split lines.
	h := fakehost.New("node1").On(`^show$`, func(string, []byte) fakehost.Result {
		return fakehost.Result{Stdout: cfg, Stderr: cfg, Status: 1}
	})
	lh := p.Logged(h)
	var got bytes.Buffer
	err := lh.Run(ctx, "show", nil, &got, nil)
	if err == nil {
		t.Fatal("the command should fail")
	}
	if got.String() != cfg {
		t.Errorf("the caller's stdout is changed: %q", got.String())
	}
	p.Printf("node1", "failed: %v", err)

	// The live operations redisctl would apply, as up prints them.
	c := &Cluster{Inv: testInventory(t), P: p}
	redisKeys := []string{"requirepass", "masterauth", "tls-key-file-pass", "tls-client-key-file-pass", "user"}
	ops, restart := c.RedisLiveOps(FileChange{Old: []byte("port 7000\n"), New: []byte(cfg), Keys: redisKeys})
	if len(ops) == 0 {
		t.Fatalf("no live ops for %v (restart %v)", redisKeys, restart)
	}
	sops, _, err := c.SentinelLiveOps(FileChange{Old: []byte("port 8000\n"), New: []byte(cfg), Keys: []string{"sentinel auth-pass", "sentinel sentinel-pass"}})
	if err != nil || len(sops) == 0 {
		t.Fatalf("sentinel ops: %v, %v", sops, err)
	}
	for _, op := range append(ops, sops...) {
		noSecret(t, "live op", op.Desc)
		p.Printf("node1", "would live: %s", op.Desc)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	noSecret(t, "progress output", out.String())
	if !strings.Contains(out.String(), "requirepass <hidden>") {
		t.Errorf("progress output hides the wrong things:\n%s", out.String())
	}
	data := testkit.DebugLog(t, dir)
	if !strings.Contains(string(data), "[node1] err: MasterAuth <hidden>") {
		t.Errorf("the debug log lacks the remote output:\n%s", data)
	}
	noSecret(t, "debug log", string(data))
}

// A server that quotes the value in its error (Redis 6 does for CONFIG
// SET, Sentinel for SENTINEL SET) must not put the secret in redisctl's
// error.
func TestLiveOpErrorHidesSecret(t *testing.T) {
	ctx := context.Background()
	fc := newFakeCluster(t)
	quote := func(args []string) any {
		return respError(fmt.Sprintf("ERR Invalid argument '%s' for %s SET '%s'", args[len(args)-1], args[0], args[len(args)-2]))
	}
	fc.data["node1"].Reply("CONFIG SET", quote)
	fc.sentinel["node1"].Reply("SENTINEL SET", quote)
	n := fc.Node("node1")

	ops, _ := fc.RedisLiveOps(FileChange{New: []byte("requirepass \"XSECRETa b XSECRETc\"\n"), Keys: []string{"requirepass"}})
	sops, _, err := fc.SentinelLiveOps(FileChange{New: []byte("sentinel auth-pass mymaster XSECRETd\n"), Keys: []string{"sentinel auth-pass"}})
	if err != nil {
		t.Fatal(err)
	}
	data, sentinel := fc.Data(n), fc.Sentinel(n)
	defer data.Close()
	defer sentinel.Close()
	for i, op := range []LiveOp{ops[0], sops[0]} {
		cl := data
		if i == 1 {
			cl = sentinel
		}
		err := op.Do(ctx, cl)
		if err == nil || !strings.Contains(err.Error(), "Invalid argument '<hidden>'") {
			t.Errorf("%s: error %v, want the server's, value hidden", op.Desc, err)
			continue
		}
		noSecret(t, "error", err.Error())
	}
}
