#!/usr/bin/env bash
# deps.sh installs the Debian packages the lab and the tests need, only those
# that are missing. A second run checks with dpkg-query and exits at once,
# without network.
#
# There is no systemd on these machines (and maybe no init at all): installing
# openssh-server would start sshd in the root namespace. A policy-rc.d that
# exits 101 forbids that for the duration of the install.
set -euo pipefail

log() { printf 'deps: %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
	log "not root; skipping package installation (the lab needs root anyway)"
	exit 0
fi

# Package -> why the lab or the tests need it.
packages=(
	openssh-server  # sshd inside every lab host
	openssh-client  # ssh, ssh-keygen, ssh-keyscan on the control side
	sudo            # the deploy user elevates with sudo -n
	iproute2        # ip netns, veth, bridge
	util-linux      # unshare, nsenter, setsid, flock
	mount           # mount, umount (overlay, proc, tmpfs inside hosts)
	hostname        # hostname inside hosts
	procps          # ps, pkill inside hosts
	psmisc          # fuser, killall inside hosts (used by init scripts)
	passwd          # useradd, usermod
	coreutils       # sha256sum, timeout
	ca-certificates # apt over https mirrors
	dpkg-dev        # apt-get source (Redis source tarball)
	gcc             # building Redis
	make
	libc6-dev
	pkg-config
	tar
	gzip
	mmdebstrap        # root filesystems for the hosts that boot systemd
	systemd-container # systemd-nspawn boots them
	nftables          # nft: e2e TestCheck blocks a port between two hosts
)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	if [ "$status" != installed ]; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	log "all packages present"
	exit 0
fi

log "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive

# Forbid service starts during the install. Only a policy-rc.d we put in place
# is removed afterwards; one that does not already forbid starts is moved
# aside and restored.
policy=/usr/sbin/policy-rc.d
created_policy=
moved_policy=
restore_policy() {
	if [ -n "$created_policy" ]; then rm -f "$policy"; fi
	if [ -n "$moved_policy" ]; then mv -f "$moved_policy" "$policy"; fi
}
trap restore_policy EXIT
if [ ! -e "$policy" ]; then
	created_policy=1
elif ! grep -qx 'exit 101' "$policy"; then
	moved_policy=$policy.deps-saved.$$
	mv "$policy" "$moved_policy"
	created_policy=1
fi
if [ -n "$created_policy" ]; then
	printf '#!/bin/sh\n# Written by redisctl testdata/lab/deps.sh during an install.\nexit 101\n' >"$policy"
	chmod 0755 "$policy"
fi

have_lists() {
	compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null
}

if ! have_lists; then
	log "no package lists; running apt-get update"
	apt-get update -q >&2
fi

install() {
	apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

if ! install; then
	# Lists that are present but stale point at files the mirror dropped.
	log "install failed; refreshing package lists and retrying"
	apt-get update -q >&2
	install
fi

log "installed: ${missing[*]}"
