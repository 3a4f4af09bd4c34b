package provision

// (tests follow)

// checkPattern matches the host check script.
const checkPattern = `^# redisctl host checks\n`

// tunedHost is what the check script prints on a host that passes every
// check, with every port of the others open (the fake hosts are at
// 10.0.0.1-3).
const tunedHost = `clock=0
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
