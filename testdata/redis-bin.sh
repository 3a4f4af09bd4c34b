#!/usr/bin/env bash
# redis-bin.sh builds redis-server and redis-cli from the Redis source
# tarball the lab uses (testdata/lab/lab.sh source fetches and caches it),
# for the tests that start a real server on rendered configs. A build that
# is already there is reused. Prints the src directory holding the binaries;
# messages go to stderr.
#
#   REDISCTL_CACHE   cache directory (default <repo>/.cache); the build goes
#                    to $REDISCTL_CACHE/redis-<version>/src/
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
CACHE=$(realpath -m "${REDISCTL_CACHE:-$repo/.cache}")

log() { echo "redis-bin: $*" >&2; }
die() { log "$*"; exit 1; }

tarball=$(bash "$here/lab/lab.sh" source | tail -n 1)
[ -f "$tarball" ] || die "lab.sh source gave no tarball (got '$tarball')"

# redis_7.0.15.orig.tar.gz (Debian) or redis-7.0.15.tar.gz (upstream).
version=$(basename "$tarball" | sed -nE 's/^redis[-_]([0-9]+(\.[0-9]+)*)[.-].*/\1/p')
[ -n "$version" ] || die "cannot tell the Redis version from $(basename "$tarball")"
dir=$CACHE/redis-$version
src=$dir/src

built() { [ -x "$src/redis-server" ] && [ -x "$src/redis-cli" ]; }

mkdir -p "$CACHE"
# One build at a time: make test and a developer may run this together.
exec 9>"$CACHE/redis-bin.lock"
flock 9

if ! built; then
	if [ ! -f "$dir/Makefile" ]; then
		log "unpacking $(basename "$tarball")"
		tmp=$(mktemp -d "$CACHE/redis-bin.XXXXXX")
		trap 'rm -rf "$tmp"' EXIT
		tar -xzf "$tarball" -C "$tmp"
		top=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d)
		[ "$(printf '%s\n' "$top" | wc -l)" = 1 ] && [ -f "$top/Makefile" ] ||
			die "$(basename "$tarball") does not hold one Redis source tree"
		rm -rf "$dir"
		mv "$top" "$dir"
	fi
	buildlog=$CACHE/redis-$version-build.log
	log "building Redis $version in $dir (about a minute on two cores; log: $buildlog)"
	if ! make -C "$dir" -j2 BUILD_TLS=no >"$buildlog" 2>&1; then
		tail -n 30 "$buildlog" >&2
		die "make failed; see $buildlog"
	fi
	built || die "make succeeded but $src has no redis-server and redis-cli"
fi
echo "$src"
