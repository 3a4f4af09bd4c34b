package testkit

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/redisctl/redisctl/provision/redisx"
)

// TestFakeRedisSpeaksRESP pins the fake itself, through the client
// options redisctl uses: AUTH after HELLO is refused, replies, errors.
func TestFakeRedisSpeaksRESP(t *testing.T) {
	s := NewFakeRedis(t, "data", "pw").
		Reply("INFO", "# Replication\r\nrole:master\r\n").
		Reply("SENTINEL SENTINELS", []any{[]string{"ip", "10.0.0.2", "port", "8000"}})
	dial := DialTable(map[string]*FakeRedis{"10.0.0.1:7000": s})
	ctx := context.Background()

	cl := redisx.Raw(dial, "10.0.0.1:7000", "pw")
	defer cl.Close()
	if err := cl.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING: %v", err)
	}
	if got, err := cl.Info(ctx, "replication").Result(); err != nil || got != "# Replication\r\nrole:master\r\n" {
		t.Errorf("INFO = %q, %v", got, err)
	}
	sentinels := redis.NewMapStringStringSliceCmd(ctx, "sentinel", "sentinels", "mymaster")
	_ = cl.Process(ctx, sentinels)
	if got, err := sentinels.Result(); err != nil || len(got) != 1 || got[0]["ip"] != "10.0.0.2" || got[0]["port"] != "8000" {
		t.Errorf("SENTINEL SENTINELS = %v, %v", got, err)
	}
	if err := cl.Do(ctx, "SENTINEL", "CKQUORUM", "mymaster").Err(); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("unset reply: err = %v, want unknown command", err)
	}

	bad := redisx.Raw(dial, "10.0.0.1:7000", "wrong")
	defer bad.Close()
	if err := bad.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("wrong password: err = %v, want WRONGPASS", err)
	}
	if got, want := strings.Join(s.Commands(), " "), "HELLO AUTH PING INFO SENTINEL SENTINELS SENTINEL HELLO AUTH"; got != want {
		t.Errorf("commands seen: %q, want %q", got, want)
	}
}
