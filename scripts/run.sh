#!/bin/sh
# The main job.  Installs what is missing and builds mmapfs, then:
#   run.sh                           mirrors a generated sample tree, reads it
#                                    all through the mount, checks every byte,
#                                    prints what the mapping cache did, unmounts
#   run.sh SOURCE MOUNTPOINT [OPTS]  mounts SOURCE at MOUNTPOINT and leaves it
#                                    mounted (unmount: fusermount3 -u MOUNTPOINT)
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
prog=run
. "$top/scripts/mmapfs-lib.sh"

scripts/install-deps.sh
if [ ! -f build/build.ninja ]; then
	meson setup build >/dev/null
fi
ninja -C build >/dev/null

if [ $# -ge 2 ]; then
	exec "$top/build/mmapfs" "$@"
fi
if [ $# -eq 1 ]; then
	echo "usage: scripts/run.sh [SOURCE MOUNTPOINT [mmapfs options]]" >&2
	exit 2
fi

work=$(mktemp -d /tmp/mmapfs-demo-XXXXXX)
pid=""
cleanup() {
	if mountpoint -q "$work/mnt" 2>/dev/null; then
		fusermount3 -u "$work/mnt" 2>/dev/null || umount -l "$work/mnt"
	fi
	if [ -n "$pid" ]; then
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== generating a sample tree in $work/src"
mkdir -p "$work/src" "$work/mnt"
i=0
while [ $i -lt 200 ]; do
	d="$work/src/dir$((i % 10))"
	mkdir -p "$d"
	head -c $(( (i * 7919) % 300000 )) /dev/urandom > "$d/file$i"
	i=$((i + 1))
done
head -c $((64 << 20)) /dev/urandom > "$work/src/big"
ln -s dir0/file0 "$work/src/link"
ln "$work/src/dir1/file1" "$work/src/hardlink"

echo "== mounting it at $work/mnt (max_maps=64)"
"$top/build/mmapfs" -f -o max_maps=64 "$work/src" "$work/mnt" 2> "$work/daemon.log" &
pid=$!
if ! wait_fuse_mount "$work/mnt" 20 "$pid"; then
	cat "$work/daemon.log" >&2
	die "the mount was not ready"
fi

echo "== reading every file through the mount, twice"
(cd "$work/src" && find . -type f -print0 | sort -z | xargs -0 sha256sum) > "$work/want"
for pass in 1 2; do
	(cd "$work/mnt" && find . -type f -print0 | sort -z | xargs -0 sha256sum) > "$work/got"
	if ! cmp -s "$work/want" "$work/got"; then
		echo "run: pass $pass: bytes through the mount differ from the source" >&2
		diff "$work/want" "$work/got" | head >&2
		exit 1
	fi
	echo "   pass $pass: $(wc -l < "$work/got") files, every byte equal"
done
[ "$(readlink "$work/mnt/link")" = dir0/file0 ] && echo "   symlink reads back"
[ "$(stat -c %i "$work/mnt/hardlink")" = "$(stat -c %i "$work/mnt/dir1/file1")" ] &&
	echo "   hard links share one inode number"

echo "== a change made in the source, seen through the mount"
echo "changed outside" > "$work/src/dir0/file0"
sleep 0.1
if [ "$(cat "$work/mnt/dir0/file0")" = "changed outside" ]; then
	echo "   seen within 0.1 s (cache=watched)"
else
	echo "run: the change made in the source is not seen through the mount" >&2
	exit 1
fi

echo "== mmapfs-ctl stats (a few lines of it)"
"$top/build/mmapfs-ctl" stats "$work/mnt" |
	grep -E '^(cache|watcher|requests|bytes_from_maps|bytes_from_pread|map_hits|maps_live|op\.read\.(requests|p50_us|p99_us)) ' |
	sed 's/^/   /'

echo "== unmounting"
fusermount3 -u "$work/mnt"
wait "$pid"
pid=""
echo "== what the daemon did"
sed 's/^/   /' "$work/daemon.log"
