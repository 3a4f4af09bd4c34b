package render

import (
	"fmt"
	"strings"
)

// THPService is what thp.service.tmpl and thp.init.tmpl render: a service
// that turns transparent huge pages off at every boot.
type THPService struct {
	Name string // unit and init script name
	File string // the kernel's setting, /sys/kernel/mm/transparent_hugepage/enabled
}

func (s THPService) check() error {
	if !masterName.MatchString(s.Name) || !strings.HasPrefix(s.File, "/sys/") || strings.ContainsAny(s.File, " '\"\\$`") {
		return fmt.Errorf("THP service: bad name %q or file %q", s.Name, s.File)
	}
	return nil
}

// RenderTHPUnit renders the systemd unit of s.
func RenderTHPUnit(s THPService) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return execute("thp.service.tmpl", s)
}

// RenderTHPInitScript renders the SysV init script of s.
func RenderTHPInitScript(s THPService) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return execute("thp.init.tmpl", s)
}
