package testkit

import (
	"fmt"
	"strings"
	"time"

	"github.com/redisctl/redisctl/provision/remote/fakehost"
)

// CheckPattern matches the host check script.
const CheckPattern = "^" + CheckScriptTag + `\n`

// TunedHost is what the check script prints on a host that passes every
// check, nothing running yet and every port of the others open (the fake
// hosts are at 10.0.0.1-3; a host skips its own ports).
const TunedHost = `clock=0
overcommit=1
somaxconn=4096
nr_open=1048576
thp=madvise
init=sysv
redis_pid=
sentinel_pid=
mem_total_kb=8000000
mem_avail_kb=6000000
disk_path=/var/lib
disk_free_kb=50000000
tz=Etc/UTC
ntp_daemon=chronyd
sysctl_d=yes
probe=10.0.0.1 7000 refused
probe=10.0.0.1 8000 refused
probe=10.0.0.2 7000 refused
probe=10.0.0.2 8000 refused
probe=10.0.0.3 7000 refused
probe=10.0.0.3 8000 refused
`

// CheckReply answers the check script with out, its "clock=0" replaced
// by the time of the answer, as a host with a correct clock prints it.
func CheckReply(out string) func(string, []byte) fakehost.Result {
	return func(string, []byte) fakehost.Result {
		now := time.Now()
		clock := fmt.Sprintf("clock=%d.%09d", now.Unix(), now.Nanosecond())
		return fakehost.Result{Stdout: strings.Replace(out, "clock=0\n", clock+"\n", 1)}
	}
}

// Tuned returns TunedHost with lines replaced or added ("key=value"; a
// probe line replaces the probe of the same address and port).
func Tuned(changes ...string) string {
	lines := strings.Split(strings.TrimSuffix(TunedHost, "\n"), "\n")
	for _, ch := range changes {
		k, v, _ := strings.Cut(ch, "=")
		key := func(l string) string {
			lk, lv, _ := strings.Cut(l, "=")
			if lk == "probe" {
				f := strings.Fields(lv)
				return lk + " " + f[0] + " " + f[1]
			}
			return lk
		}
		want := key(ch)
		replaced := false
		for i, l := range lines {
			if key(l) == want {
				lines[i], replaced = k+"="+v, true
			}
		}
		if !replaced {
			lines = append(lines, ch)
		}
	}
	return strings.Join(lines, "\n") + "\n"
}
