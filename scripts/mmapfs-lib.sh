# mmapfs-lib.sh - what mmapfs-mount, mmapfs-umount, with-mmapfs, run.sh and
# bench.sh share.  Sourced, not run; POSIX sh (dash runs run.sh).

# The daemon: $MMAPFS, or next to this script (an installed bin/ beside
# sbin/, or the source tree's build/), or the PATH.
find_mmapfs() {
	local here
	here=$(dirname "$(readlink -f "$0")")
	for candidate in "${MMAPFS:-}" "$here/../sbin/mmapfs" "$here/../build/mmapfs" \
		"$(command -v mmapfs 2>/dev/null)" /usr/local/sbin/mmapfs /usr/sbin/mmapfs; do
		if [ -n "$candidate" ] && [ -x "$candidate" ]; then
			echo "$candidate"
			return 0
		fi
	done
	return 1
}

die() {
	echo "$prog: $*" >&2
	exit 1
}

usage_error() {
	echo "$prog: $* (see --help)" >&2
	exit 2
}

FUSE_SUPER_MAGIC=65735546      # statfs's f_type of a FUSE mount, in hex

is_fuse_mount() {   # path: mounted, and answering, from FUSE
	[ "$(stat -f -c %t "$1" 2>/dev/null)" = "$FUSE_SUPER_MAGIC" ]
}

# wait_fuse_mount PATH SECONDS [PID]: returns 0 once PATH answers from
# FUSE; 1 after SECONDS, or as soon as process PID (the daemon) is gone.
wait_fuse_mount() {
	local path=$1 ticks=$(($2 * 100)) pid=${3:-}
	while ! is_fuse_mount "$path"; do
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			return 1
		fi
		ticks=$((ticks - 1))
		[ $ticks -gt 0 ] || return 1
		sleep 0.01
	done
}

is_dead_mount() {   # path: a FUSE mount whose daemon is gone
	local err
	# statfs always reaches the daemon; a stat may be answered from cache.
	err=$(stat -f "$1" 2>&1 >/dev/null) && return 1
	case "$err" in
	*"Transport endpoint is not connected"*|*"Software caused connection abort"*) return 0 ;;
	esac
	return 1
}

# The daemons serving mount point $1 (an absolute path): mmapfs processes
# whose last argument is that path.
find_ctl() {
	local here
	here=$(dirname "$(readlink -f "$0")")
	for candidate in "${MMAPFS_CTL:-}" "$here/mmapfs-ctl" "$here/../build/mmapfs-ctl" \
		"$(command -v mmapfs-ctl 2>/dev/null)" /usr/local/bin/mmapfs-ctl /usr/bin/mmapfs-ctl; do
		if [ -n "$candidate" ] && [ -x "$candidate" ]; then
			echo "$candidate"
			return 0
		fi
	done
	return 1
}

mount_fstype() {    # path (absolute, canonical): the type of its topmost mount
	# mountinfo: field 5 the mount point (space, tab, newline and
	# backslash as octal escapes), then after "-" the type.
	local escaped
	escaped=$(printf '%s' "$1" | sed 's/\\/\\134/g; s/ /\\040/g; s/\t/\\011/g')
	MOUNT_AT=$escaped awk '$5 == ENVIRON["MOUNT_AT"] {
		for (i = 7; $i != "-"; i++) ;
		t = $(i + 1)
	} END { print t }' /proc/self/mountinfo
}

is_mmapfs_mount() { # path (absolute, canonical): an mmapfs mount is on top
	[ "$(mount_fstype "$1")" = fuse.mmapfs ]
}

daemon_pid() {      # path: the pid of the daemon serving it, asked of it
	local ctl
	ctl=$(find_ctl) || return 1
	"$ctl" pid "$1" 2>/dev/null | awk '$1 == "pid" { print $2 }'
}
