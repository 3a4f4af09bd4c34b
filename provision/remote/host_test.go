package remote

import (
	"os/exec"
	"testing"
)

func TestQuote(t *testing.T) {
	cases := map[string]string{
		"":              "''",
		"plain":         "plain",
		"/etc/redis":    "/etc/redis",
		"a b":           "'a b'",
		"it's":          `'it'\''s'`,
		"$(reboot)":     "'$(reboot)'",
		"`x`":           "'`x`'",
		"a\nb":          "'a\nb'",
		`back\slash`:    `'back\slash'`,
		"semi;colon":    "'semi;colon'",
		"glob*":         "'glob*'",
		"--flag=value1": "--flag=value1",
	}
	for in, want := range cases {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestQuoteRoundTrip checks with a real shell that a quoted word comes back
// as exactly one argument, unchanged.
func TestQuoteRoundTrip(t *testing.T) {
	words := []string{"", "a b", "it's", "$(echo hi)", "`id`", "a\nb", `\`, `"`, "'", "*", "~", "x;y|z&"}
	for _, w := range words {
		out, err := exec.Command("sh", "-c", "printf %s "+Quote(w)).Output()
		if err != nil {
			t.Fatalf("sh: %v", err)
		}
		if string(out) != w {
			t.Errorf("round trip of %q gave %q", w, out)
		}
	}
}

func TestTail(t *testing.T) {
	if got := Tail("a\nb\n\nc\nd\n", 2); got != "c\nd" {
		t.Errorf("Tail = %q", got)
	}
}
