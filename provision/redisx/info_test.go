package redisx

import (
	"reflect"
	"testing"
)

const masterInfo = "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n" +
	"slave0:ip=10.160.0.7,port=7000,state=online,offset=378,lag=1\r\n" +
	"slave1:ip=10.160.0.8,port=7000,state=wait_bgsave,offset=364,lag=0\r\n" +
	"master_repl_offset:378\r\n"

func TestParseInfoReplicas(t *testing.T) {
	i := ParseInfo(masterInfo)
	if i["role"] != "master" || i.Int("connected_slaves") != 2 || i.Int("missing") != -1 {
		t.Fatalf("fields: %v", i)
	}
	want := []ReplicaLink{
		{IP: "10.160.0.7", Port: 7000, State: "online", Offset: 378, Lag: 1},
		{IP: "10.160.0.8", Port: 7000, State: "wait_bgsave", Offset: 364, Lag: 0},
	}
	if got := i.Replicas(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Replicas = %+v", got)
	}
}

func TestSentinelMasters(t *testing.T) {
	i := ParseInfo("# Sentinel\nsentinel_masters:1\nmaster0:name=mymaster,status=ok,address=10.160.0.6:7000,slaves=2,sentinels=3\n")
	want := []SentinelMaster{{Name: "mymaster", Status: "ok", Address: "10.160.0.6:7000", Replicas: 2, Sentinels: 3}}
	if got := i.SentinelMasters(); !reflect.DeepEqual(got, want) {
		t.Fatalf("SentinelMasters = %+v", got)
	}
}

func TestPairs(t *testing.T) {
	got := PairsList([]any{[]any{"name", "a", "flags", "slave,s_down"}, []any{"name", "b"}})
	if len(got) != 2 || got[0]["flags"] != "slave,s_down" || got[1]["name"] != "b" {
		t.Fatalf("PairsList = %v", got)
	}
	if !HasFlag(got[0]["flags"], "s_down") || HasFlag(got[0]["flags"], "down") {
		t.Fatal("HasFlag")
	}
}
