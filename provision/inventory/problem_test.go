package inventory

import "testing"

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "inv.yaml", Line: 12, Col: 5, Field: "hosts[1].role", Msg: "bad"}, "inv.yaml:12:5: hosts[1].role: bad"},
		{Problem{File: "inv.yaml", Line: 3, Msg: "YAML syntax: x"}, "inv.yaml:3: YAML syntax: x"},
		{Problem{File: "inv.yaml", Msg: "YAML syntax: x"}, "inv.yaml: YAML syntax: x"},
	}
	for _, tc := range tests {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
	if got := (Warning{File: "f", Line: 1, Col: 2, Msg: "m"}).String(); got != "f:1:2: m" {
		t.Errorf("warning: got %q", got)
	}
}

func TestFieldPath(t *testing.T) {
	f := fieldPath("").key("hosts").index(1).key("ssh").key("port")
	if f != "hosts[1].ssh.port" {
		t.Fatalf("built %q", f)
	}
	var parents []fieldPath
	for p := f; p != ""; p = p.parent() {
		parents = append(parents, p.parent())
	}
	want := []fieldPath{"hosts[1].ssh", "hosts[1]", "hosts", ""}
	if len(parents) != len(want) {
		t.Fatalf("parents %q, want %q", parents, want)
	}
	for i := range want {
		if parents[i] != want[i] {
			t.Errorf("parents %q, want %q", parents, want)
		}
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"port", "quorum", "down_after_ms", "parallel_syncs", "failover_timeout_ms", "identity_file"}
	tests := map[string]string{
		"prot":             "port",
		"quorom":           "quorum",
		"down-after-ms":    "down_after_ms",
		"parallel_sync":    "parallel_syncs",
		"failover_timeout": "failover_timeout_ms",
		"identity":         "identity_file",
		"Port":             "port",
		"flavour":          "",
		"p":                "",
	}
	for word, want := range tests {
		if got := suggest(word, keys); got != want {
			t.Errorf("suggest(%q) = %q, want %q", word, got, want)
		}
	}
}

func TestValidJump(t *testing.T) {
	tests := map[string]bool{
		"bastion":                 true,
		"bastion.example.com":     true,
		"deploy@bastion:2222":     true,
		"10.0.0.1:22":             true,
		"[fd00::1]:22":            true,
		"fd00::1":                 true,
		"bastion:99999":           false,
		"bastion:ssh":             false,
		"@bastion":                false,
		"de ploy@bastion":         false,
		"bastion example":         false,
		"ssh://deploy@bastion:22": false,
		"":                        false,
	}
	for jump, want := range tests {
		if got := validJump(jump); got != want {
			t.Errorf("validJump(%q) = %v, want %v", jump, got, want)
		}
	}
}
