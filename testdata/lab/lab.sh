#!/usr/bin/env bash
# lab.sh runs the local lab: hosts node1..nodeN on this one Debian machine,
# each a set of Linux namespaces (network, mount, UTS, PID) around a
# copy-on-write overlay of the machine's root filesystem, with its own sshd.
#
#   lab.sh up       create or repair the hosts; write inventory.yaml
#   lab.sh down     end every lab process, remove namespaces, links, state
#   lab.sh status   one line per host: namespace, sshd, port 22
#   lab.sh source   print the path of the cached Redis source tarball,
#                   fetching it from Debian's source packages when missing
#   lab.sh restart nodeI...  power the hosts off in order and boot them again
#   lab.sh kill nodeI...     cut the hosts' power (up starts them again)
#
# Environment:
#   REDISCTL_LAB_STATE   state dir (default <repo>/.lab): keys, known_hosts,
#                        inventory.yaml, per-host overlay layers and pid files
#   REDISCTL_CACHE       download cache (default <repo>/.cache); kept by down
#   REDISCTL_LAB_HOSTS   number of hosts (default 3); up with a larger number
#                        adds hosts and keeps the running ones
#   REDISCTL_LAB_SUBNET  first three octets (default 10.231.0); host i is
#                        .(10+i), the bridge in the root namespace is .1
#   REDISCTL_LAB_KIND    sysv (default): sshd is the host's first process, in
#                        an overlay of this machine's root; systemd: the host
#                        boots systemd (systemd-nspawn) from a Debian root
#                        filesystem made with mmdebstrap and cached
#   REDISCTL_LAB_OFF_SECONDS  how long restart keeps hosts off (default 0)
#   REDISCTL_LAB_RELEASES  for systemd hosts, the Debian release of each host
#                        in turn (default "trixie"; the last one repeats), e.g.
#                        "bookworm trixie" for node1 on 12 and the rest on 13
#
# Layout: a bridge rctl-br0 in the root namespace holds .1/24 and one veth
# rctl-nI per host; the host's end is eth0 in network namespace rctl-nodeI.
# No NAT, no default route: lab traffic stays on the bridge. Inside, sshd is
# PID 1 of the host's PID namespace, so killing it ends every process of the
# host. Overlay layers live in <state>/hosts/nodeI/{upper,work}; the overlay
# is mounted only inside the host's private mount namespace, so it vanishes
# with the host. Restarting a killed host reuses its upper layer (host keys,
# users and files survive, like a reboot).
#
# Messages go to stderr; stdout carries only results (paths).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self=$here/$(basename "${BASH_SOURCE[0]}")
repo=$(cd "$here/../.." && pwd)

STATE=$(realpath -m "${REDISCTL_LAB_STATE:-$repo/.lab}")
CACHE=$(realpath -m "${REDISCTL_CACHE:-$repo/.cache}")
NHOSTS=${REDISCTL_LAB_HOSTS:-3}
SUBNET=${REDISCTL_LAB_SUBNET:-10.231.0}
KIND=${REDISCTL_LAB_KIND:-sysv}
RELEASES=${REDISCTL_LAB_RELEASES:-trixie}

PREFIX=rctl
BRIDGE=$PREFIX-br0
MARKER=.rctl-lab # file in the state dir: down only deletes a dir that has it
READY_TIMEOUT=60 # seconds for a (re)started host's sshd to answer

log() { printf 'lab: %s\n' "$*" >&2; }
die() {
	printf 'lab: error: %s\n' "$*" >&2
	exit 1
}

host_ip() { echo "$SUBNET.$((10 + $1))"; }
host_ns() { echo "$PREFIX-node$1"; }
host_veth() { echo "$PREFIX-n$1"; }
host_dir() { echo "$STATE/hosts/node$1"; }
# host_kind I: what host I should be: sysv, or systemd:RELEASE.
host_kind() {
	if [ "$KIND" = sysv ]; then echo sysv; return; fi
	local rels=($RELEASES) n
	n=$(($1 - 1))
	[ "$n" -lt "${#rels[@]}" ] || n=$((${#rels[@]} - 1))
	echo "systemd:${rels[$n]}"
}
# init_comm I: the command name of host I's first process.
init_comm() { case $(cat "$(host_dir "$1")/kind" 2>/dev/null || echo sysv) in sysv) echo sshd ;; *) echo systemd ;; esac; }

need_root() {
	[ "$(id -u)" = 0 ] || die "the lab needs root (network namespaces, mounts); run as root"
}

# lock serialises up and down across every checkout on this machine: the
# names (rctl-*) and the subnet are the machine's. Processes the lab starts
# get fd 9 closed, so they do not hold it.
LOCKFILE=/run/lock/redisctl-lab.lock
lock() {
	[ -d /run/lock ] || LOCKFILE=/tmp/redisctl-lab.lock
	exec 9>>"$LOCKFILE"
	if ! flock -n 9; then
		log "waiting for another lab.sh (lock $LOCKFILE)"
		flock -w 600 9 || die "another lab.sh holds $LOCKFILE for 10 minutes"
	fi
}

check_kind() {
	case $KIND in sysv | systemd) ;; *) die "REDISCTL_LAB_KIND must be sysv or systemd, not $KIND" ;; esac
	local r
	for r in $RELEASES; do
		case $r in bookworm | trixie) ;; *) die "REDISCTL_LAB_RELEASES: $r is not bookworm or trixie" ;; esac
	done
}

check_settings() {
	if ! [[ $NHOSTS =~ ^[0-9]+$ ]] || [ "$NHOSTS" -lt 1 ] || [ "$NHOSTS" -gt 200 ]; then
		die "REDISCTL_LAB_HOSTS must be a number from 1 to 200, got '$NHOSTS'"
	fi
	[[ $SUBNET =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] ||
		die "REDISCTL_LAB_SUBNET must be three octets like 10.231.0, got '$SUBNET'"
	case $STATE in
	/ | /root | /home | /tmp | /etc | /var | /usr) die "REDISCTL_LAB_STATE=$STATE is not a lab directory" ;;
	esac
}

# ---------------------------------------------------------------------------
# Processes

# pid_alive PID: PID runs (a zombie does not count: it holds no namespace).
pid_alive() {
	[ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

ns_inode() { stat -L -c %i "/run/netns/$1" 2>/dev/null; }
pid_ns_inode() { stat -L -c %i "/proc/$1/ns/net" 2>/dev/null; }

# belongs PID I: PID is alive and is one of host I's processes: in its network
# namespace, chrooted into its overlay, or started with its directory.
belongs() {
	local pid=$1 i=$2 ns dir root
	pid_alive "$pid" || return 1
	ns=$(host_ns "$i")
	dir=$(host_dir "$i")
	local a b
	a=$(ns_inode "$ns") || a=
	b=$(pid_ns_inode "$pid") || b=
	[ -n "$a" ] && [ "$a" = "$b" ] && return 0
	root=$(readlink "/proc/$pid/root" 2>/dev/null) || root=
	case $root in "$dir"/*) return 0 ;; esac
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir" && return 0
	return 1
}

# init_pid NS: the PID (seen from here) of the first process of the PID
# namespace started in network namespace NS, i.e. the host's sshd.
init_pid() {
	local p
	for p in $(ip netns pids "$1" 2>/dev/null); do
		# NSpid lists the PID in each nested namespace; PID 1 one level down.
		if awk '/^NSpid:/ { exit !(NF == 3 && $3 == 1) }' "/proc/$p/status" 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

read_pid() { cat "$1" 2>/dev/null || true; }

# host_healthy I: the host runs and answers on port 22 with its sshd.
host_healthy() {
	local i=$1 ns dir pid a b
	ns=$(host_ns "$i")
	dir=$(host_dir "$i")
	[ -e "/run/netns/$ns" ] || return 1
	pid=$(read_pid "$dir/sshd.pid")
	pid_alive "$pid" || return 1
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$(init_comm "$i")" ] || return 1
	[ "$(cat "$dir/kind" 2>/dev/null || echo sysv)" = "$(host_kind "$i")" ] || return 1
	a=$(ns_inode "$ns") && b=$(pid_ns_inode "$pid") && [ "$a" = "$b" ] || return 1
	local master
	master=$(readlink "/sys/class/net/$(host_veth "$i")/master" 2>/dev/null) || return 1
	[ "${master##*/}" = "$BRIDGE" ] || return 1
	port_open "$(host_ip "$i")" || return 1
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/${2:-22}" 2>/dev/null; }

# ancestors: this shell and its ancestors, which must never be killed.
ancestors() {
	local p=$$
	while [ -n "$p" ] && [ "$p" -gt 1 ]; do
		echo "$p"
		p=$(awk '/^PPid:/ {print $2}' "/proc/$p/status" 2>/dev/null)
	done
}

kill_wait() { # kill -KILL PIDs and wait until they are gone
	local pids=() p n keep
	keep=" $(ancestors | tr '\n' ' ') "
	for p in "$@"; do
		# Only real PIDs of other processes: never 0, 1, -N or an ancestor.
		if ! [[ $p =~ ^[0-9]+$ ]] || [ "$p" -le 1 ]; then continue; fi
		case $keep in *" $p "*) log "warning: not killing $p, an ancestor of lab.sh"; continue ;; esac
		pids+=("$p")
	done
	[ ${#pids[@]} -gt 0 ] || return 0
	kill -KILL "${pids[@]}" 2>/dev/null || true
	for n in $(seq 50); do
		local left=0
		for p in "${pids[@]}"; do
			if pid_alive "$p"; then left=1; fi
		done
		[ $left = 0 ] && return 0
		sleep 0.1
	done
	log "warning: processes still alive after SIGKILL: ${pids[*]}"
}

# mounts_under DIR: mount points at or below DIR in this mount namespace,
# deepest first.
mounts_under() {
	awk -v d="$1" '{
		# mountinfo escapes spaces etc. as \040; lab paths have none.
		if ($5 == d || index($5, d "/") == 1) print length($5) " " $5
	}' /proc/self/mountinfo | sort -rn | cut -d' ' -f2-
}

# unmount_under DIR: unmount everything mounted at or below DIR, lazily
# when a plain unmount fails.
unmount_under() {
	local m
	for m in $(mounts_under "$1"); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null ||
			log "warning: could not unmount $m"
	done
}

# stop_host I: end host I's processes and remove its namespace and link.
# Its overlay layers stay (up reuses them; down deletes the state dir).
stop_host() {
	local i=$1 ns dir veth pids=() p f
	ns=$(host_ns "$i")
	dir=$(host_dir "$i")
	veth=$(host_veth "$i")
	for f in "$dir/sshd.pid" "$dir/holder.pid"; do
		p=$(read_pid "$f")
		if belongs "$p" "$i"; then pids+=("$p"); fi
	done
	if [ -e "/run/netns/$ns" ]; then
		for p in $(ip netns pids "$ns" 2>/dev/null); do pids+=("$p"); done
	fi
	if [ ${#pids[@]} -gt 0 ]; then
		mapfile -t pids < <(printf '%s\n' "${pids[@]}" | sort -nu)
		log "node$i: ending processes ${pids[*]}"
		kill_wait "${pids[@]}"
	fi
	if [ -e "/run/netns/$ns" ]; then
		# Processes entered from outside (nsenter, ip netns exec) may linger.
		pids=()
		for p in $(ip netns pids "$ns" 2>/dev/null); do pids+=("$p"); done
		kill_wait "${pids[@]}"
		ip netns del "$ns" 2>/dev/null || log "warning: could not delete netns $ns"
	fi
	if [ -e "/sys/class/net/$veth" ]; then ip link del "$veth" 2>/dev/null || true; fi
	rm -f "$dir/sshd.pid" "$dir/holder.pid"
	[ -d "$dir" ] && unmount_under "$dir"
	return 0
}

# ---------------------------------------------------------------------------
# Source tarball

# newest_tarball DIR: the newest redis_*.orig.tar.gz in DIR, if any.
newest_tarball() {
	local f
	f=$(shopt -s nullglob && printf '%s\n' "$1"/redis_*.orig.tar.gz | sort -V | tail -n 1)
	[ -n "$f" ] && [ -s "$f" ] && echo "$f"
}

# apt_opts SOURCES DIR: sets opts to apt-get options for a private deb-src
# configuration (SOURCES; lists and cache under DIR), so that the machine's
# own apt configuration is not touched.
apt_opts() {
	opts=(
		-o "Dir::Etc::SourceList=$1"
		-o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$2/lists"
		-o "Dir::Cache=$2/cache"
		-o APT::Sandbox::User=root
		-q
	)
}

cmd_source() { # source [PKG SUITE]: the lab's Redis tarball, or PKG's from SUITE
	local f
	if [ $# -gt 0 ]; then
		source_of "$@"
		return
	fi
	if f=$(newest_tarball "$CACHE"); then
		echo "$f"
		return 0
	fi
	command -v apt-get >/dev/null || die "apt-get not found; put a redis_*.orig.tar.gz into $CACHE"
	log "fetching the Redis source tarball from Debian's source packages into $CACHE"
	local apt=$CACHE/apt
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/download"
	# Same URIs and suites as the machine's own apt sources, as deb-src,
	# in a private directory: the machine's apt configuration is not touched.
	local src
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		src=$apt/deb-src.sources
		sed -E 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$src"
	elif [ -f /etc/apt/sources.list ] && grep -q '^deb ' /etc/apt/sources.list; then
		src=$apt/deb-src.list
		sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >"$src"
	else
		die "no Debian apt sources found (/etc/apt/sources.list.d/debian.sources)"
	fi
	local opts
	apt_opts "$src" "$apt"
	apt-get "${opts[@]}" update >&2 || die "apt-get update of the deb-src lists failed"
	rm -f "$apt/download"/*
	(cd "$apt/download" && apt-get "${opts[@]}" source --download-only redis >&2) ||
		die "apt-get source --download-only redis failed"
	f=$(newest_tarball "$apt/download") || die "apt-get source gave no redis_*.orig.tar.gz"
	mv "$f" "$CACHE/"
	rm -rf "$apt/download"
	f=$CACHE/$(basename "$f")
	log "cached $f"
	echo "$f"
}

# source_of PKG SUITE: the upstream tarball (PKG_*.orig.tar.*) of Debian's
# source package PKG in SUITE (for example redis trixie: Redis 8.0.2;
# valkey trixie: Valkey 8.1.1), fetched once into $CACHE/sources/SUITE.
# Only the orig tarball matters: the mirror may lack the Debian diff or
# .dsc of a point release, so a failing apt-get is fine once it arrived.
source_of() {
	local pkg=$1 suite=$2 dir=$CACHE/sources/$2 f
	[[ $pkg =~ ^[a-z0-9.+-]+$ && $suite =~ ^[a-z0-9-]+$ ]] || die "source: bad package or suite: $pkg $suite"
	f=$(shopt -s nullglob && printf '%s\n' "$dir/${pkg}"_*.orig.tar.* | sort -V | tail -n 1)
	if [ -n "$f" ] && [ -s "$f" ]; then
		echo "$f"
		return 0
	fi
	command -v apt-get >/dev/null || die "apt-get not found; put a ${pkg}_*.orig.tar.* into $dir"
	local apt=$CACHE/apt-$suite
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$dir"
	printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$suite" >"$apt/deb-src.sources"
	local opts
	apt_opts "$apt/deb-src.sources" "$apt"
	if [ ! -e "$apt/lists/.updated" ]; then
		apt-get "${opts[@]}" update >&2 || die "apt-get update of the $suite deb-src lists failed"
		touch "$apt/lists/.updated"
	fi
	local dl
	dl=$(mktemp -d "$apt/download.XXXXXX")
	(cd "$dl" && apt-get "${opts[@]}" source --download-only "$pkg" >&2) ||
		log "apt-get source $pkg ($suite) did not fetch everything; only the orig tarball is needed"
	f=$(shopt -s nullglob && printf '%s\n' "$dl/${pkg}"_*.orig.tar.* | sort -V | tail -n 1)
	if [ -z "$f" ] || [ ! -s "$f" ]; then
		rm -rf "$dl"
		die "apt-get source gave no ${pkg}_*.orig.tar.* from $suite"
	fi
	mv "$f" "$dir/"
	rm -rf "$dl"
	f=$dir/$(basename "$f")
	log "cached $f"
	echo "$f"
}

# ---------------------------------------------------------------------------
# Host init: runs as PID 1 of the new PID namespace, inside the host's
# network, mount and UTS namespaces, before chroot.

hosts_file() { # hosts_file I "J K ...": /etc/hosts of host I in a lab of hosts J K ...
	local i=$1 j
	printf '127.0.0.1\tlocalhost\n127.0.1.1\tnode%s\n' "$i"
	printf '::1\tlocalhost ip6-localhost ip6-loopback\n'
	printf '# lab hosts\n'
	for j in $2; do printf '%s\tnode%s\n' "$(host_ip "$j")" "$j"; done
}

# HOST_SETUP runs inside the host's root (chroot) with bash; every step
# checks first, so a restart on a reused upper layer is quick.
read -r -d '' HOST_SETUP <<'EOS' || true
set -eu
printf '%s\n' "$LAB_NAME" >/etc/hostname
printf '%s' "$LAB_HOSTS_FILE" >/etc/hosts
mkdir -p /run/sshd && chmod 0755 /run/sshd
# Host keys from the lower layer (the machine's own) are replaced once by
# keys of this host's own.
if [ ! -e /etc/ssh/.rctl-lab-hostkeys ]; then
	rm -f /etc/ssh/ssh_host_*
	ssh-keygen -A >/dev/null
	: >/etc/ssh/.rctl-lab-hostkeys
fi
mkdir -p /etc/ssh/sshd_config.d
cat >/etc/ssh/sshd_config.d/lab.conf <<EOF
# Written by redisctl's testdata/lab/lab.sh.
ListenAddress $LAB_IP
PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AllowTcpForwarding yes
UsePAM no
EOF
if ! getent passwd deploy >/dev/null; then
	useradd --create-home --home-dir /home/deploy --shell /bin/bash deploy
fi
# Not locked ('!' makes sshd refuse the user with UsePAM no), not usable.
usermod -p '*' deploy
install -d -m 0700 -o deploy -g deploy /home/deploy/.ssh
printf '%s\n' "$LAB_PUBKEY" >/home/deploy/.ssh/authorized_keys
chown deploy:deploy /home/deploy/.ssh/authorized_keys
chmod 0600 /home/deploy/.ssh/authorized_keys
mkdir -p /etc/sudoers.d
printf 'deploy ALL=(ALL) NOPASSWD:ALL\n' >/etc/sudoers.d/deploy
chmod 0440 /etc/sudoers.d/deploy
/usr/sbin/sshd -t
EOS

cmd_init() { # __init I DIR "J K ..." (internal; J K ...: all lab hosts)
	local i=$1 dir=$2 all=$3 root
	root=$dir/root
	[ "$$" = 1 ] || die "__init must run as PID 1 of a new PID namespace"
	# An upper layer whose setup never finished (the host was killed in the
	# middle of useradd, say) is not worth repairing: start it afresh.
	if [ ! -e "$dir/ready" ]; then
		rm -rf --one-file-system "$dir/upper" "$dir/work"
		mkdir -p "$dir/upper" "$dir/work"
	fi
	# The copied mount table holds the nsfs mounts of the other hosts'
	# network namespaces; drop them so this host pins none of them.
	umount -l /run/netns 2>/dev/null || true
	mount -t overlay overlay -o "lowerdir=/,upperdir=$dir/upper,workdir=$dir/work" "$root"
	mount -t proc proc "$root/proc"
	mount --rbind /dev "$root/dev"
	mount --rbind /sys "$root/sys"
	mount -t tmpfs -o mode=0755 tmpfs "$root/run"
	mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
	# The lower layer shows the lab's state (other hosts' layers, the client
	# key) inside the host; hide it.
	if [ -d "$root$STATE" ]; then mount -t tmpfs -o ro,size=4k,mode=0755 tmpfs "$root$STATE"; fi
	hostname "node$i"
	LAB_NAME=node$i LAB_IP=$(host_ip "$i") LAB_HOSTS_FILE=$(hosts_file "$i" "$all")$'\n' \
		LAB_PUBKEY=$(cat "$STATE/id_ed25519.pub") \
		chroot "$root" /bin/bash -c "$HOST_SETUP"
	: >"$dir/ready"
	log "node$i: starting sshd"
	exec chroot "$root" /usr/sbin/sshd -D -e
}

# ---------------------------------------------------------------------------
# Hosts that boot systemd

# What a systemd host's root filesystem holds: systemd and sshd, and what a
# Redis build needs (lab hosts have no route to a package mirror).
IMAGE_PACKAGES=systemd,systemd-sysv,dbus,openssh-server,sudo,iproute2,procps,gcc,make,libc6-dev,pkg-config,libsystemd-dev,libssl-dev

image_dir() { echo "$CACHE/images/$1"; }

# ensure_image RELEASE: a Debian root filesystem for RELEASE, made once with
# mmdebstrap from Debian's packages and kept in the cache.
ensure_image() {
	local rel=$1 dir
	dir=$(image_dir "$rel")
	[ -e "$dir/.complete" ] && return 0
	command -v mmdebstrap >/dev/null || die "mmdebstrap is missing (testdata/lab/deps.sh installs it)"
	log "making a Debian $rel root filesystem with mmdebstrap (about 40 s; cached in $dir)"
	rm -rf --one-file-system "$dir.tmp"
	mkdir -p "$dir.tmp"
	if ! mmdebstrap --variant=minbase --include="$IMAGE_PACKAGES" "$rel" "$dir.tmp/root" >"$dir.tmp/mmdebstrap.log" 2>&1; then
		tail -n 20 "$dir.tmp/mmdebstrap.log" >&2
		die "mmdebstrap $rel failed; see $dir.tmp/mmdebstrap.log"
	fi
	rm -rf --one-file-system "$dir"
	mv "$dir.tmp" "$dir"
	: >"$dir/.complete"
}

cmd_boot() { # __boot I DIR "J K ..." RELEASE (internal): boot host I with systemd
	local i=$1 dir=$2 all=$3 rel=$4 root lower
	root=$dir/root
	lower=$(image_dir "$rel")/root
	if [ ! -e "$dir/ready" ]; then
		rm -rf --one-file-system "$dir/upper" "$dir/work"
		mkdir -p "$dir/upper" "$dir/work"
	fi
	# Keep this host's network namespace at a path of its own, then drop
	# the copied nsfs mounts of the other hosts' so this host pins none.
	: >"$dir/netns"
	mount --bind "/run/netns/$(host_ns "$i")" "$dir/netns"
	umount -l /run/netns 2>/dev/null || true
	mount -t overlay overlay -o "lowerdir=$lower,upperdir=$dir/upper,workdir=$dir/work" "$root"
	# The setup runs before the first boot (fresh host keys, the deploy
	# user, sshd's drop-in), in a chroot with /dev and /proc for ssh-keygen.
	mount --bind /dev "$root/dev"
	mount -t proc proc "$root/proc"
	LAB_NAME=node$i LAB_IP=$(host_ip "$i") LAB_HOSTS_FILE=$(hosts_file "$i" "$all")$'\n' \
		LAB_PUBKEY=$(cat "$STATE/id_ed25519.pub") \
		chroot "$root" /bin/bash -c "$HOST_SETUP"
	umount "$root/proc" "$root/dev"
	: >"$dir/ready"
	log "node$i: booting Debian $rel with systemd"
	# --register=no --keep-unit: this machine runs no systemd or dbus for
	# nspawn to register with. SIGTERM to nspawn shuts the host down in
	# order; SIGKILL to the host's PID 1 is a power cut.
	exec systemd-nspawn -q -D "$root" --boot --register=no --keep-unit \
		--network-namespace-path="$dir/netns" -M "node$i" --console=passive
}

# ---------------------------------------------------------------------------
# up

ensure_bridge() {
	if [ ! -e "/sys/class/net/$BRIDGE" ]; then
		ip link add "$BRIDGE" type bridge
	fi
	# A fixed MAC: a bridge otherwise takes the lowest of its ports', which
	# changes as hosts come and go and leaves stale ARP entries in the hosts.
	ip link set "$BRIDGE" address 02:72:63:ff:00:01
	if ! ip -4 -o addr show dev "$BRIDGE" | grep -qF " $SUBNET.1/24 "; then
		ip addr flush dev "$BRIDGE"
		ip addr add "$SUBNET.1/24" dev "$BRIDGE"
	fi
	if [ -e "/proc/sys/net/ipv6/conf/$BRIDGE/disable_ipv6" ]; then
		echo 1 >"/proc/sys/net/ipv6/conf/$BRIDGE/disable_ipv6"
	fi
	ip link set "$BRIDGE" up
	local other
	other=$(ip -4 route show "$SUBNET.0/24" | grep -v "dev $BRIDGE" || true)
	[ -z "$other" ] || die "$SUBNET.0/24 is already routed elsewhere ($other); set REDISCTL_LAB_SUBNET"
}

# host_mac I: a fixed MAC for host I's eth0, so a restarted host keeps its
# address in the ARP caches of the others (a new random MAC would leave them
# sending to a vanished address for several seconds).
host_mac() { printf '02:72:63:00:%02x:%02x\n' $(($1 / 256)) $(($1 % 256)); }

start_host() { # start_host I "J K ...": launch host I (not waiting for it)
	local i=$1 all=$2 ns dir veth ip
	ns=$(host_ns "$i")
	dir=$(host_dir "$i")
	veth=$(host_veth "$i")
	ip=$(host_ip "$i")
	mkdir -p "$dir/upper" "$dir/work" "$dir/root"
	# The host's init (this script again, as __init or __boot) must see the
	# same values.
	export REDISCTL_LAB_STATE=$STATE REDISCTL_LAB_SUBNET=$SUBNET REDISCTL_CACHE=$CACHE
	ip netns add "$ns"
	ip link add "$veth" type veth peer name eth0 address "$(host_mac "$i")" netns "$ns"
	ip link set "$veth" master "$BRIDGE"
	ip link set "$veth" up
	ip netns exec "$ns" sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6' 2>/dev/null || true
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$ip/24" dev eth0
	ip -n "$ns" link set eth0 up
	log "node$i: starting at $ip ($(host_kind "$i"))"
	: >"$dir/sshd.log"
	host_kind "$i" >"$dir/kind"
	# setsid: the host must not share the caller's session (a Ctrl-C or a
	# test harness ending its process group must not touch it).
	case $(host_kind "$i") in
	sysv)
		setsid ip netns exec "$ns" \
			unshare --mount --uts --pid --fork --kill-child --propagation private \
			bash "$self" __init "$i" "$dir" "$all" \
			</dev/null >>"$dir/sshd.log" 2>&1 9<&- &
		;;
	systemd:*)
		local rel
		rel=$(host_kind "$i")
		setsid unshare --mount --propagation private \
			bash "$self" __boot "$i" "$dir" "$all" "${rel#systemd:}" \
			</dev/null >>"$dir/sshd.log" 2>&1 9<&- &
		;;
	esac
}

# wait_host I: wait for host I's sshd, then record the pids.
wait_host() {
	local i=$1 ns dir ip pid holder n
	ns=$(host_ns "$i")
	dir=$(host_dir "$i")
	ip=$(host_ip "$i")
	for n in $(seq $((READY_TIMEOUT * 5))); do
		pid=$(init_pid "$ns") || pid=
		if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$(init_comm "$i")" ] && port_open "$ip"; then
			holder=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status")
			echo "$pid" >"$dir/sshd.pid"
			echo "$holder" >"$dir/holder.pid"
			return 0
		fi
		if [ -z "$pid" ] && [ "$n" -gt 25 ]; then break; fi # init died
		sleep 0.2
	done
	log "node$i did not come up; its log ($dir/sshd.log) ends with:"
	tail -n 20 "$dir/sshd.log" >&2 || true
	return 1
}

# lab_host_nums: numbers of the hosts that have a state dir or a namespace.
lab_host_nums() {
	local d
	{
		for d in "$STATE"/hosts/node*; do
			[ -d "$d" ] && echo "${d##*/node}"
		done
		ip netns list 2>/dev/null | awk '{print $1}' | sed -n "s/^$PREFIX-node\([0-9][0-9]*\)$/\1/p"
	} | sort -nu
}

write_atomic() { # write_atomic FILE (content on stdin)
	local tmp
	tmp=$(mktemp "$1.XXXXXX")
	cat >"$tmp"
	chmod 0644 "$tmp"
	mv -f "$tmp" "$1"
}

write_inventory() { # write_inventory TARBALL
	local tarball=$1 version sum i role
	version=$(basename "$tarball")
	version=${version#redis_}
	version=${version%.orig.tar.gz}
	version=${version%%+*} # Debian repacks are named 7.0.15+dfsg
	sum=$(sha256sum "$tarball" | cut -d' ' -f1)
	{
		echo "# Generated by testdata/lab/lab.sh for the local three-host lab."
		echo "name: mymaster"
		echo "redis:"
		echo "  version: \"$version\""
		echo "  source: $tarball"
		echo "  sha256: \"$sum\""
		echo "  port: 7000"
		echo "  password_file: $STATE/redis.password"
		echo "sentinel:"
		echo "  port: 8000"
		echo "  quorum: 2"
		echo "  down_after_ms: 2000"
		echo "  parallel_syncs: 1"
		echo "  failover_timeout_ms: 10000"
		echo "ssh:"
		echo "  user: deploy"
		echo "  port: 22"
		echo "  identity_file: $STATE/id_ed25519"
		echo "  known_hosts: $STATE/known_hosts"
		echo "hosts:"
		for i in $(seq 1 "$NHOSTS"); do
			role=replica
			[ "$i" = 1 ] && role=master
			echo "  - {name: node$i, address: $(host_ip "$i"), role: $role}"
		done
	} | write_atomic "$STATE/inventory.yaml"
}

cmd_up() {
	need_root
	check_settings
	check_kind
	local t0=$SECONDS
	lock
	bash "$here/deps.sh"
	local tarball
	tarball=$(cmd_source)
	# The hosts' init (this script again, as __init) must see the same values.
	export REDISCTL_LAB_STATE=$STATE REDISCTL_LAB_SUBNET=$SUBNET

	if [ -d "$STATE" ] && [ ! -e "$STATE/$MARKER" ] && [ -n "$(ls -A "$STATE")" ]; then
		die "$STATE exists and is not a lab state dir; set REDISCTL_LAB_STATE"
	fi
	mkdir -p "$STATE/hosts"
	echo "redisctl lab state; removed by testdata/lab/lab.sh down" >"$STATE/$MARKER"
	if [ ! -s "$STATE/id_ed25519" ] || [ ! -s "$STATE/id_ed25519.pub" ]; then
		rm -f "$STATE/id_ed25519" "$STATE/id_ed25519.pub"
		ssh-keygen -q -t ed25519 -N '' -C "redisctl-lab" -f "$STATE/id_ed25519"
	fi
	# Leftovers of older runs in the root mount namespace (none in normal use:
	# the overlays live in the hosts' own mount namespaces).
	unmount_under "$STATE"

	ensure_bridge

	# Hosts beyond NHOSTS (from an earlier, larger up) keep running when
	# healthy and are named in every /etc/hosts; broken ones are removed.
	local i all
	all=$(seq -s ' ' 1 "$NHOSTS")
	for i in $(lab_host_nums); do
		[ "$i" -gt "$NHOSTS" ] || continue
		if host_healthy "$i"; then
			log "node$i: keeps running (not in the inventory of $NHOSTS hosts)"
			all="$all $i"
		else
			log "node$i: removing what is left of it"
			stop_host "$i"
			rm -rf --one-file-system "$(host_dir "$i")"
		fi
	done

	if [ "$KIND" = systemd ]; then
		local r
		for r in $(for i in $(seq 1 "$NHOSTS"); do k=$(host_kind "$i"); echo "${k#systemd:}"; done | sort -u); do
			ensure_image "$r"
		done
	fi
	local started=() ok=1
	for i in $(seq 1 "$NHOSTS"); do
		if host_healthy "$i"; then continue; fi
		stop_host "$i"
		# A host of another kind or release starts from a fresh layer.
		if [ -e "$(host_dir "$i")/kind" ] && [ "$(cat "$(host_dir "$i")/kind")" != "$(host_kind "$i")" ]; then
			rm -rf --one-file-system "$(host_dir "$i")"
		fi
		start_host "$i" "$all"
		started+=("$i")
	done
	for i in "${started[@]}"; do
		wait_host "$i" || ok=
	done
	[ -n "$ok" ] || die "some hosts did not start; see the logs above ('lab.sh down' cleans up)"

	# /etc/hosts of hosts that kept running may lack new hosts.
	local running=() pid
	for i in $all; do
		host_healthy "$i" || continue
		running+=("$i")
		pid=$(read_pid "$(host_dir "$i")/sshd.pid")
		local want
		want=$(hosts_file "$i" "$all")
		if [ "$(cat "/proc/$pid/root/etc/hosts" 2>/dev/null)" != "$want" ]; then
			printf '%s\n' "$want" >"/proc/$pid/root/etc/hosts"
		fi
	done

	# known_hosts from the control side: plain entries, one per address.
	local ips=() scan
	for i in "${running[@]}"; do ips+=("$(host_ip "$i")"); done
	scan=$(ssh-keyscan -T 5 "${ips[@]}" 2>/dev/null | sort) || true
	for ip in "${ips[@]}"; do
		grep -q "^$ip ssh-ed25519 " <<<"$scan" || die "ssh-keyscan got no ed25519 key from $ip"
	done
	printf '%s\n' "$scan" | write_atomic "$STATE/known_hosts"

	# The hosts reach each other over the bridge (no routing, no firewall
	# change: bridged traffic on one segment).
	local ns1
	ns1=$(host_ns 1)
	for i in "${running[@]}"; do
		[ "$i" = 1 ] && continue
		ip netns exec "$ns1" timeout 2 bash -c "exec 3<>/dev/tcp/$(host_ip "$i")/22" 2>/dev/null ||
			die "node1 cannot reach node$i on port 22 across $BRIDGE (a firewall on bridged traffic?)"
	done

	write_inventory "$tarball"
	if [ ${#started[@]} -gt 0 ]; then
		log "started ${#started[@]} host(s) (${started[*]/#/node}); up in $((SECONDS - t0)) s"
	else
		log "all $NHOSTS hosts already up"
	fi
	echo "$STATE/inventory.yaml"
}

# ---------------------------------------------------------------------------
# down

cmd_down() {
	need_root
	check_settings
	lock
	local i l
	# Hosts known from state or namespaces, then any lab link left over.
	for i in $(lab_host_nums); do stop_host "$i"; done
	for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^$PREFIX-" || true); do
		ip link del "$l" 2>/dev/null || log "warning: could not delete link $l"
	done
	# Any process still chrooted into a lab overlay (should be none).
	local stray=() p root
	for p in /proc/[0-9]*; do
		root=$(readlink "$p/root" 2>/dev/null) || continue
		case $root in "$STATE"/*) stray+=("${p#/proc/}") ;; esac
	done
	if [ ${#stray[@]} -gt 0 ]; then
		log "ending stray lab processes ${stray[*]}"
		kill_wait "${stray[@]}"
	fi
	unmount_under "$STATE"
	if [ -d "$STATE" ]; then
		if [ -e "$STATE/$MARKER" ] || [ -z "$(ls -A "$STATE")" ]; then
			if [ -n "$(mounts_under "$STATE")" ]; then
				die "mounts remain under $STATE; not deleting it"
			fi
			rm -rf --one-file-system "$STATE"
		else
			log "warning: $STATE has no $MARKER; not deleting it"
		fi
	fi
	log "down"
}

# ---------------------------------------------------------------------------
# status

cmd_status() {
	local nums i ns dir pid up=0 total=0
	nums=$(lab_host_nums)
	if [ -z "$nums" ]; then
		echo "lab is down (no hosts)"
		return 0
	fi
	for i in $nums; do
		total=$((total + 1))
		ns=$(host_ns "$i")
		dir=$(host_dir "$i")
		local nsst=absent pst=dead portst=closed
		[ -e "/run/netns/$ns" ] && nsst=present
		pid=$(read_pid "$dir/sshd.pid")
		if pid_alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$(init_comm "$i")" ]; then pst="alive($pid)"; fi
		if port_open "$(host_ip "$i")"; then portst=open; fi
		[ "$nsst/$pst/$portst" = "present/alive($pid)/open" ] && up=$((up + 1))
		printf 'node%s\t%s\tnetns %s: %s\tsshd: %s\tport 22: %s\n' \
			"$i" "$(host_ip "$i")" "$ns" "$nsst" "$pst" "$portst"
	done
	echo "$up of $total hosts up; state $STATE"
	[ "$up" = "$total" ]
}

# ---------------------------------------------------------------------------
# restart and kill

host_nums_of() { # host_nums_of nodeI...: the numbers, checked
	local h
	[ $# -gt 0 ] || die "name the hosts (node1 ...)"
	for h in "$@"; do
		[[ $h =~ ^node([0-9]+)$ ]] || die "not a lab host name: $h"
		[ -d "$(host_dir "${BASH_REMATCH[1]}")" ] || die "$h is not a host of this lab"
		echo "${BASH_REMATCH[1]}"
	done
}

# cmd_restart nodeI...: power the hosts off in order (systemd stops its
# services first; SysV hosts have no orderly shutdown: their processes are
# ended) and boot them again, all at once; returns when every one answers.
cmd_restart() {
	need_root
	check_settings
	check_kind
	lock
	local nums i holder n all
	nums=$(host_nums_of "$@")
	all=$(lab_host_nums | tr '\n' ' ')
	for i in $nums; do
		holder=$(read_pid "$(host_dir "$i")/holder.pid")
		if [ "$(init_comm "$i")" = systemd ] && belongs "$holder" "$i"; then
			log "node$i: shutting down"
			kill -TERM "$holder" 2>/dev/null || true
		fi
	done
	for i in $nums; do
		holder=$(read_pid "$(host_dir "$i")/holder.pid")
		for n in $(seq 600); do pid_alive "$holder" || break; sleep 0.1; done
		pid_alive "$holder" && log "node$i: did not shut down within 60 s; cutting its power"
		stop_host "$i"
	done
	if [ "${REDISCTL_LAB_OFF_SECONDS:-0}" != 0 ]; then
		log "off for ${REDISCTL_LAB_OFF_SECONDS}s"
		sleep "$REDISCTL_LAB_OFF_SECONDS"
	fi
	for i in $nums; do start_host "$i" "$all"; done
	for i in $nums; do wait_host "$i" || die "node$i did not come back"; done
	log "restarted $(printf 'node%s ' $nums)"
}

# cmd_kill nodeI...: cut the hosts' power: SIGKILL to their first process.
# The hosts stay down until lab.sh up starts them again.
cmd_kill() {
	need_root
	check_settings
	local i pid
	for i in $(host_nums_of "$@"); do
		pid=$(read_pid "$(host_dir "$i")/sshd.pid")
		belongs "$pid" "$i" || die "node$i is not running"
		log "node$i: power cut (SIGKILL to pid $pid)"
		kill -KILL "$pid"
	done
}

# Nothing the lab runs reads the caller's terminal or input.
exec </dev/null

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
source) shift; cmd_source "$@" ;;
restart) shift && cmd_restart "$@" ;;
kill) shift && cmd_kill "$@" ;;
__init) shift && cmd_init "$@" ;;
__boot) shift && cmd_boot "$@" ;;
*)
	echo "usage: $0 up|down|status|source [PKG SUITE]|restart nodeI...|kill nodeI..." >&2
	exit 2
	;;
esac
