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

func TestHasFlag(t *testing.T) {
	if !HasFlag("slave,s_down", "s_down") || HasFlag("slave,s_down", "down") {
		t.Fatal("HasFlag")
	}
}
