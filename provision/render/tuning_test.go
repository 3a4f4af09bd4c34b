package render

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestTHPGolden pins the THP service files byte for byte
// (testdata/golden/tuning; go test -update rewrites them).
func TestTHPGolden(t *testing.T) {
	s := THPService{Name: "redisctl-thp", File: "/sys/kernel/mm/transparent_hugepage/enabled"}
	for _, tc := range []struct {
		file   string
		render func(THPService) ([]byte, error)
	}{
		{"redisctl-thp.service", RenderTHPUnit},
		{"redisctl-thp", RenderTHPInitScript},
	} {
		got, err := tc.render(s)
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join(goldenRoot, "tuning", tc.file)
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (go test -update writes it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s:\n%s", tc.file, golden, got)
		}
	}
}

func TestTHPServiceRefusesBadInput(t *testing.T) {
	for _, s := range []THPService{
		{Name: "x y", File: "/sys/kernel/mm/transparent_hugepage/enabled"},
		{Name: "redisctl-thp", File: "/etc/passwd"},
		{Name: "redisctl-thp", File: "/sys/x'; rm -rf /"},
	} {
		if _, err := RenderTHPUnit(s); err == nil {
			t.Errorf("RenderTHPUnit(%+v) rendered", s)
		}
	}
}
