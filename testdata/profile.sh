#!/usr/bin/env bash
# profile.sh: where a no-change up spends its CPU, on the lab (root only;
# needs perf). It brings up a lab of PROFILE_HOSTS hosts (default 3), runs a
# fresh up, then PROFILE_RUNS no-change ups and statuses (default 3),
# printing each one's wall time and how busy the machine's cores were
# (/proc/stat), then one more no-change up under `perf record -a` and the
# CPU share of each command (sshd, sh, sudo, the lab's redis-servers,
# redisctl ...). The lab is taken down at the end (PROFILE_KEEP_LAB=1 keeps
# it). It refuses a lab that is already up: that may hold someone's cluster.
#
#   sudo bash testdata/profile.sh
#   sudo PROFILE_HOSTS=15 bash testdata/profile.sh
set -euo pipefail
export LC_ALL=C

cd "$(dirname "$0")/.."
repo=$PWD

if [ "$(id -u)" != 0 ]; then
	echo "profile: NOT RUN: not root (the lab needs root); run: sudo bash testdata/profile.sh" >&2
	exit 0
fi
command -v perf >/dev/null || {
	echo "profile: perf is not installed (Debian: apt-get install linux-perf)" >&2
	exit 1
}

HOSTS=${PROFILE_HOSTS:-3}
RUNS=${PROFILE_RUNS:-3}
export REDISCTL_LAB_HOSTS=$HOSTS
export REDISCTL_LAB_STATE=${REDISCTL_LAB_STATE:-$repo/.lab}
export REDISCTL_CACHE=${REDISCTL_CACHE:-$repo/.cache}
LAB=$repo/testdata/lab/lab.sh
BIN=$repo/bin/redisctl
INV=$REDISCTL_LAB_STATE/inventory.yaml
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

case $(bash "$LAB" status 2>&1 | tail -n 1) in
*"is down"*) ;;
*) echo "profile: the lab is already up; take it down first (bash $LAB down)" >&2; exit 1 ;;
esac
go build -o "$BIN" ./cmd/redisctl

rctl() { "$BIN" -i "$INV" --cache-dir "$REDISCTL_CACHE/redisctl" "$@" >"$out/last" 2>&1 </dev/null; }
busy() { awk '/^cpu / {print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }
timed() { # timed LABEL ARGS...: wall time and the cores' busy share
	local what=$1 b0 a0 b1 a1 t0 t1
	shift
	read -r b0 a0 < <(busy)
	t0=$EPOCHREALTIME
	rctl "$@" || { cat "$out/last" >&2; exit 1; }
	t1=$EPOCHREALTIME
	read -r b1 a1 < <(busy)
	printf 'MEASURE %d hosts: %s %.2f s, cores %d %% busy\n' "$HOSTS" "$what" \
		"$(echo "$t1 - $t0" | bc)" $((100 * (b1 - b0) / (a1 - a0)))
}

bash "$LAB" up >"$out/lab-up.log" 2>&1 || { tail -n 30 "$out/lab-up.log" >&2; exit 1; }
timed "fresh up" up
for _ in $(seq "$RUNS"); do timed "no-change up" up; done
for _ in $(seq "$RUNS"); do timed "status" status; done
perf record -q -a -o "$out/perf.data" -- "$BIN" -i "$INV" --cache-dir "$REDISCTL_CACHE/redisctl" up \
	>/dev/null 2>&1 </dev/null
echo "CPU by command during one no-change up ($HOSTS hosts):"
perf report -i "$out/perf.data" --sort comm --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 20
[ "${PROFILE_KEEP_LAB:-0}" = 1 ] || bash "$LAB" down >/dev/null
