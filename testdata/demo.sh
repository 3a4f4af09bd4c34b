#!/usr/bin/env bash
# make demo: a cluster on the local three-host lab (brought up by make lab-up),
# its status, and a failover test. Leaves the lab and the cluster running;
# `make lab-down` removes both.
set -euo pipefail
cd "$(dirname "$0")/.."
state=${REDISCTL_LAB_STATE:-$PWD/.lab}
inv=$state/inventory.yaml
bin=bin/redisctl
cache=${REDISCTL_CACHE:-$PWD/.cache}/redisctl

step() { printf '\n\033[1m### %s\033[0m\n' "$*"; }

step "redisctl up -i $inv"
$bin --cache-dir "$cache" up -i "$inv"

step "redisctl status"
$bin --cache-dir "$cache" status -i "$inv"

step "redisctl failover-test (stop the master, as the manual procedure does)"
$bin --cache-dir "$cache" failover-test -i "$inv"

step "redisctl status after the failover test"
$bin --cache-dir "$cache" status -i "$inv"

cat <<MSG

The cluster keeps running on the lab. Try:
  $bin -i $inv status -o json
  $bin -i $inv failover-test --mode kill
  $bin -i $inv uninstall
and remove the lab with: make lab-down
MSG
