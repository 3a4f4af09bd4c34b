#!/usr/bin/env bash
# passes.sh runs the end-to-end tests once per lab kind (make lab-test):
#
#   sysv     SysV hosts that copy this machine's root: every scenario
#   systemd  Debian 13 hosts that boot systemd: every scenario, plus
#            reboots, power cuts and missing build tools
#   mixed    one Debian 12 and two Debian 13 systemd hosts: a build per
#            platform, a failover and a reboot
#
# Usage: passes.sh [PASS...] (default: all three). RUN=regexp limits the
# tests of every pass (go test -run). Each pass brings its lab up and down;
# a failed pass does not stop the others. Prints one line per pass at the end.
set -uo pipefail
cd "$(dirname "$0")/../.."
passes=("$@")
[ ${#passes[@]} -gt 0 ] || passes=(sysv systemd mixed)
cache=${REDISCTL_CACHE:-$PWD/.cache}
mkdir -p "$cache"
summary=()
rc=0
for p in "${passes[@]}"; do
	case $p in
	sysv) env=(REDISCTL_LAB_KIND=sysv) run='TestLab|TestCluster|TestSafety|TestCheck|TestRemoveHost|TestBackupRestore|TestUpgrade' ;;
	systemd) env=(REDISCTL_LAB_KIND=systemd REDISCTL_LAB_RELEASES=trixie) run='TestLab|TestCluster|TestSystemdHosts|TestCheck|TestACLUsers|TestTLS' ;;
	mixed) env=(REDISCTL_LAB_KIND=systemd "REDISCTL_LAB_RELEASES=bookworm trixie") run='TestLab$|TestMixedReleases' ;;
	*) echo "passes.sh: unknown pass $p (sysv, systemd, mixed)" >&2; exit 2 ;;
	esac
	[ -z "${RUN:-}" ] || run=$RUN
	log=$cache/lab-test-$p.log
	echo "==> lab pass $p: ${env[*]} go test -run '$run' (log: $log)"
	start=$SECONDS
	env "${env[@]}" REDISCTL_LAB=1 go test -count=1 -v -timeout 60m -run "$run" ./provision/e2e/ 2>&1 | tee "$log"
	status=${PIPESTATUS[0]}
	took=$((SECONDS - start))
	if [ "$status" = 0 ]; then
		summary+=("lab pass $p: ok in ${took}s")
	else
		summary+=("lab pass $p: FAILED (exit $status) in ${took}s; see $log")
		rc=1
	fi
done
printf '%s\n' "${summary[@]}"
exit $rc
