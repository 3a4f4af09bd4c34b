#!/usr/bin/env bash
# bench.sh measures redisctl's speed on the local lab (make bench), the
# figures issue 13 sets targets for, each over several runs (min, median,
# max): a fresh up with the binaries cached (uninstall --yes before each
# run), a no-change up, status, and how long writes are held while the
# master moves in a rolling restart (a graceful failover; up prints "writes
# were held for X.Ys"). It does this on a 3-host lab and, unless
# BENCH_HOSTS15=0, on a 15-host lab, and prints one MEASURE line per figure
# and a markdown table with the targets beside the figures, for the README.
#
# It needs root (the lab: network namespaces, mounts); otherwise it says so
# and measures nothing. It refuses a lab that is already up, which may be
# someone else's cluster (BENCH_USE_RUNNING_LAB=1 uses it anyway: whatever
# cluster runs on it is uninstalled). A lab it brought up it takes down at
# the end, unless BENCH_KEEP_LAB=1. It holds the e2e tests' lock, so a lab
# test run and a bench never share the lab.
#
# Environment:
#   BENCH_RUNS=5             runs per figure
#   BENCH_HOSTS15=1          also measure on 15 hosts (0: 3 hosts only)
#   BENCH_EMPTY_CACHE=0      1: also a fresh up on 3 hosts with an empty
#                            binary cache (one build, a few minutes): the
#                            time beyond the build, against build + 8 s
#   BENCH_KEEP_LAB=0         1: leave the lab up at the end
#   BENCH_USE_RUNNING_LAB=0  1: use a lab that is already up
#   REDISCTL_LAB_STATE, REDISCTL_CACHE, REDISCTL_LAB_KIND: as for lab.sh
#
# Every redisctl run's output goes to a log under $REDISCTL_CACHE/bench/;
# the table is also written there (table.md).
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME and printf with a '.' decimal point

cd "$(dirname "$0")/.."
repo=$PWD

if [ "$(id -u)" != 0 ]; then
	cat >&2 <<'MSG'

!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!!  BENCH SKIPPED: not root. NOTHING WAS MEASURED.                      !!
!!  The lab needs root for network namespaces and mounts.               !!
!!  Run it with:  sudo make bench                                       !!
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!

MSG
	exit 0
fi

RUNS=${BENCH_RUNS:-5}
HOSTS15=${BENCH_HOSTS15:-1}
EMPTY_CACHE=${BENCH_EMPTY_CACHE:-0}
KEEP_LAB=${BENCH_KEEP_LAB:-0}
USE_RUNNING=${BENCH_USE_RUNNING_LAB:-0}
export REDISCTL_LAB_STATE=${REDISCTL_LAB_STATE:-$repo/.lab}
export REDISCTL_CACHE=${REDISCTL_CACHE:-$repo/.cache}
LAB=$repo/testdata/lab/lab.sh
BIN=$repo/bin/redisctl
CACHE_DIR=$REDISCTL_CACHE/redisctl # redisctl's own cache: sources, builds
E2E_LOCK=/run/lock/redisctl-lab-e2e.lock

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
	printf 'bench: error: %s\n' "$*" >&2
	exit 1
}

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive number, not '$RUNS'"
[ -n "${EPOCHREALTIME:-}" ] || die "bash 5 or later is needed (EPOCHREALTIME)"

# Always the binary of this tree (make bench has just built it; quick then).
go build -o "$BIN" ./cmd/redisctl || die "go build failed"

# One lab user at a time: the e2e tests take this lock for a whole run.
[ -d /run/lock ] || E2E_LOCK=/tmp/redisctl-lab-e2e.lock
exec 8>>"$E2E_LOCK"
if ! flock -n 8; then
	log "a lab test run holds $E2E_LOCK; waiting for it"
	flock 8
fi

# A lab with any host left (even a broken one) is someone's: never taken
# down by the bench.
started_lab=
lab_status=$(bash "$LAB" status 2>&1) || true
case $lab_status in
"lab is down"*) started_lab=1 ;;
*)
	if [ "$USE_RUNNING" != 1 ]; then
		die "the lab is already up ($(tail -n 1 <<<"$lab_status")); it may hold someone's cluster, which the bench would uninstall. Take it down (bash $LAB down) or set BENCH_USE_RUNNING_LAB=1"
	fi
	log "BENCH_USE_RUNNING_LAB=1: using the lab that is up; its cluster will be uninstalled, and it stays up"
	;;
esac

logdir=$REDISCTL_CACHE/bench/$(date +%Y%m%d-%H%M%S)
mkdir -p "$logdir"
log "logs in $logdir"
work=$(mktemp -d)
finish() {
	local code=$?
	rm -rf "$work"
	if [ -n "$started_lab" ] && [ "$KEEP_LAB" != 1 ]; then
		log "taking the lab down"
		bash "$LAB" down || log "warning: lab.sh down failed"
	elif [ -n "$started_lab" ]; then
		log "BENCH_KEEP_LAB=1: the lab stays up; 'bash $LAB down' removes it"
	fi
	[ "$code" = 0 ] || log "FAILED (exit $code); logs in $logdir"
}
trap finish EXIT

# ---------------------------------------------------------------------------
# Running redisctl and timing it

seq_no=0
last_log= # log of the last run: stdout, then stderr
last_secs= # its wall time in seconds

# rc INVENTORY ARGS...: run redisctl, time it, keep its output in a log.
# Returns redisctl's exit status.
rc() {
	local inv=$1 t0 t1 status=0
	shift
	seq_no=$((seq_no + 1))
	last_log=$logdir/$(printf '%03d' "$seq_no")-$(printf '%s' "$*" | tr -c 'A-Za-z0-9' '_' | cut -c1-40).log
	t0=$EPOCHREALTIME
	"$BIN" -i "$inv" --cache-dir "${RUN_CACHE_DIR:-$CACHE_DIR}" "$@" >"$last_log.out" 2>"$last_log.err" </dev/null || status=$?
	t1=$EPOCHREALTIME
	last_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	{
		printf '$ redisctl -i %s %s\n# exit %s after %ss\n--- stdout\n' "$inv" "$*" "$status" "$last_secs"
		cat "$last_log.out"
		printf -- '--- stderr\n'
		cat "$last_log.err"
	} >"$last_log"
	rm -f "$last_log.out" "$last_log.err"
	return "$status"
}

# must INVENTORY ARGS...: rc, and stop the bench when redisctl fails.
must() {
	if ! rc "$@"; then
		log "redisctl $* failed; the end of its output ($last_log):"
		tail -n 30 "$last_log" >&2
		exit 1
	fi
}

# ---------------------------------------------------------------------------
# Figures

# results: one line per figure: name hosts runs min median max target_s
results=()

# stats V...: "min median max" of the values.
stats() {
	printf '%s\n' "$@" | sort -g | awk '
		{ v[NR] = $1 }
		END {
			if (NR % 2) med = v[(NR + 1) / 2]; else med = (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.3f %.3f %.3f\n", v[1], med, v[NR]
		}'
}

# record NAME HOSTS TARGET_S V...: print the MEASURE line and keep the figure.
record() {
	local name=$1 hosts=$2 target=$3 min med max
	shift 3
	read -r min med max < <(stats "$@")
	results+=("$name $hosts $# $min $med $max $target")
	local t=none
	[ "$target" = - ] || t="<=${target}s"
	printf 'MEASURE name=%s hosts=%s runs=%s min=%ss median=%ss max=%ss target=%s values=%s\n' \
		"$name" "$hosts" "$#" "$min" "$med" "$max" "$t" "$(printf '%s,' "$@" | sed 's/,$//')"
}

# with_databases INVENTORY N OUT: a copy of the inventory whose redis
# section sets databases N, a setting a running server cannot take: up
# restarts every data node, the master after a graceful failover.
with_databases() {
	grep -q "^  config:" "$1" && die "$1 already has a redis.config section; the bench's edit would clash with it"
	awk -v n="$2" '
		/^[^ #]/ { section = $0 }
		{ print }
		section == "redis:" && !done && /^  port:/ { print "  config:"; print "    databases: " n; done = 1 }
		END { if (!done) exit 1 }' "$1" >"$3" || die "could not add redis.config.databases to a copy of $1"
}

# bench_hosts N: every figure on a lab of N hosts.
bench_hosts() {
	local n=$1 inv i v vals held
	log "== $n hosts: lab.sh up"
	REDISCTL_LAB_HOSTS=$n bash "$LAB" up >"$logdir/lab-up-$n.log" 2>&1 ||
		{ tail -n 30 "$logdir/lab-up-$n.log" >&2; die "lab.sh up with $n hosts failed"; }
	inv=$REDISCTL_LAB_STATE/inventory.yaml
	[ "$(grep -c '^  - {name: node' "$inv")" = "$n" ] || die "$inv does not list $n hosts"

	log "$n hosts: removing any cluster left on the lab"
	must "$inv" uninstall --yes
	log "$n hosts: a first up fills the binary cache (not measured; builds Redis if the cache is empty)"
	must "$inv" up
	log "$n hosts: first up took ${last_secs}s"

	vals=()
	for i in $(seq "$RUNS"); do
		must "$inv" uninstall --yes
		must "$inv" up
		vals+=("$last_secs")
		log "$n hosts: fresh up (cached binaries) $i/$RUNS: ${last_secs}s"
	done
	record fresh_up_cached "$n" 5 "${vals[@]}"

	vals=()
	for i in $(seq "$RUNS"); do
		must "$inv" up
		grep -q '^up: 0 changed' "$last_log" ||
			die "a second up changed something, so it is no no-change figure; see $last_log"
		vals+=("$last_secs")
		log "$n hosts: no-change up $i/$RUNS: ${last_secs}s"
	done
	if [ "$n" -le 3 ]; then v=0.5; else v=1; fi
	record no_change_up "$n" "$v" "${vals[@]}"

	vals=()
	for i in $(seq "$RUNS"); do
		must "$inv" status
		vals+=("$last_secs")
		log "$n hosts: status $i/$RUNS: ${last_secs}s"
	done
	if [ "$n" -le 3 ]; then v=0.3; else v=0.6; fi
	record status "$n" "$v" "${vals[@]}"

	vals=()
	local ups=()
	for i in $(seq "$RUNS"); do
		# A new value each run (the default is 16), so each run restarts.
		with_databases "$inv" $((16 + i)) "$work/inventory-$n-$i.yaml"
		must "$work/inventory-$n-$i.yaml" up
		held=$(sed -n 's/.*writes were held for \([0-9.]*\)s.*/\1/p' "$last_log" | head -n 1)
		[ -n "$held" ] || die "the rolling restart reported no time writes were held (no graceful failover?); see $last_log"
		vals+=("$held")
		ups+=("$last_secs")
		log "$n hosts: rolling restart $i/$RUNS: writes held ${held}s, up took ${last_secs}s"
	done
	record writes_held_failover "$n" 1 "${vals[@]}"
	record rolling_restart_up "$n" - "${ups[@]}"

	if [ "$n" -le 3 ] && [ "$EMPTY_CACHE" = 1 ]; then
		# One run: a build takes minutes. The figure is the time beyond
		# the build ("built ... in 1m23s" in up's output).
		must "$inv" uninstall --yes
		mkdir -p "$work/empty-cache"
		RUN_CACHE_DIR=$work/empty-cache must "$inv" up
		local built
		built=$(sed -n 's/.* built .* in \([0-9hms.]*\)$/\1/p' "$last_log" | head -n 1)
		[ -n "$built" ] || die "up with an empty cache printed no build time; see $last_log"
		built=$(awk -v d="$built" 'BEGIN { s = 0; n = split(d, p, /[hms]/); t = d; gsub(/[0-9.]/, "", t)
			for (i = 1; i <= length(t); i++) { u = substr(t, i, 1); v = p[i] + 0; s += (u == "h" ? 3600 : u == "m" ? 60 : 1) * v }
			printf "%.3f", s }')
		log "$n hosts: fresh up with an empty cache: ${last_secs}s, of which the build ${built}s"
		record empty_cache_build "$n" - "$built"
		record empty_cache_beyond_build "$n" 8 "$(awk -v a="$last_secs" -v b="$built" 'BEGIN { printf "%.3f", a - b }')"
	fi

	log "$n hosts: uninstalling the cluster"
	must "$inv" uninstall --yes
}

bench_hosts 3
if [ "$HOSTS15" = 1 ]; then
	bench_hosts 15
else
	log "BENCH_HOSTS15=0: no 15-host figures"
fi

# ---------------------------------------------------------------------------
# The table

table() {
	local r name hosts runs min med max target met what
	echo "| figure | hosts | runs | min | median | max | target | median meets it |"
	echo "|---|---:|---:|---:|---:|---:|---:|:---:|"
	for r in "${results[@]}"; do
		read -r name hosts runs min med max target <<<"$r"
		# shellcheck disable=SC2016 # markdown backquotes, not commands
		case $name in
		fresh_up_cached) what='fresh `up`, binaries cached' ;;
		no_change_up) what='no-change `up`' ;;
		status) what='`status`' ;;
		writes_held_failover) what='writes held, rolling restart (graceful failover)' ;;
		rolling_restart_up) what='`up` doing that rolling restart' ;;
		empty_cache_build) what='the build, in a fresh `up` with an empty cache' ;;
		empty_cache_beyond_build) what='that fresh `up` beyond its build' ;;
		*) what=$name ;;
		esac
		if [ "$target" = - ]; then
			met=-
			target=-
		else
			met=$(awk -v m="$med" -v t="$target" 'BEGIN { print (m <= t ? "yes" : "no") }')
			target="≤ ${target} s"
		fi
		printf '| %s | %s | %s | %.2f s | %.2f s | %.2f s | %s | %s |\n' "$what" "$hosts" "$runs" "$min" "$med" "$max" "$target" "$met"
	done
}

{
	echo
	echo "Measured by \`make bench\` on $(date -u +%Y-%m-%d), $(nproc) cores, lab kind ${REDISCTL_LAB_KIND:-sysv}, $("$BIN" version 2>/dev/null | head -n 1):"
	echo
	table
	echo
	if [ "$EMPTY_CACHE" != 1 ]; then
		# shellcheck disable=SC2016 # markdown backquotes, not commands
		echo 'Not measured here: fresh `up` with an empty cache (target: build time + 8 s; BENCH_EMPTY_CACHE=1 measures it).'
	fi
} | tee "$logdir/table.md"
log "table written to $logdir/table.md"
