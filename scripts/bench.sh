#!/bin/bash
# bench.sh - mmapfs against the native directory and other FUSE mirrors.
#
# Runs the same workloads, in one run, on: the native backing directory;
# mmapfs (read-write, its defaults: kernel passthrough where it can),
# mmapfs-mapped (-o passthrough=off: every read through the daemon's
# mappings) and mmapfs-ro (-o ro: files are read without opens); libfuse's
# passthrough_ll (built from Debian's libfuse3-dev examples); bindfs;
# mergerfs.  --systems can add mmapfs-timeout (mmapfs without its watcher,
# -o cache=timeout) and mmapfs-push0 (-o push=0: nothing pushed into the
# kernel's cache).  --writes runs mmapfs-writeback (-o writeback: the
# kernel caches writes) instead of mmapfs-ro.  Every workload starts from a fresh mount, with the
# backing files already in the page cache, and runs on every system in
# turn before the next workload starts.  Prints a table of
# medians with ratios to native and to the best peer, and writes CSV, the
# table (Markdown) and a PNG chart under results/.
#
#   scripts/bench.sh            full run (1 GiB file, 1,000,000-entry walk)
#   scripts/bench.sh --quick    small sizes, one run: under two minutes
#   scripts/bench.sh --writes   the write workloads instead, backing on a
#                               tmpfs: tar -x, 4 KiB writes, git commit
#   scripts/bench.sh --network  reads over sshfs to an sshd of its own on
#                               127.0.0.1: every system over the same
#                               sshfs (a fresh sshfs mount each time),
#                               against sshfs itself and the files read
#                               locally ("native")
#   options: --runs N  --systems "native mmapfs ..."  --data DIR  --out DIR
#            --mmapfs-opts "-o ..."  (extra options for mmapfs, to measure levers)
set -u
cd "$(dirname "$0")/.."
top=$(pwd)
prog=bench
. "$top/scripts/mmapfs-lib.sh"

usage() {
	cat <<USAGE
usage: scripts/bench.sh [--quick | --writes | --network] [--runs N]
                        [--systems "SYSTEM ..."] [--data DIR] [--out DIR]
                        [--mmapfs-opts "-o ..."]

Runs the same workloads on the native directory, mmapfs, mmapfs-mapped,
mmapfs-ro and the
peers (passthrough_ll, bindfs, mergerfs), in one run, and prints a table of
medians with ratios to native and to the best peer.  As root.

  --quick         small sizes, one run: under two minutes
  --writes        the write workloads instead (backing on a tmpfs): tar -x
                  of /usr/include (checked against the archive), 256 MiB in
                  4 KiB writes, git init + add + commit of 2,000 files;
                  mmapfs-writeback (-o writeback) in place of mmapfs-ro
  --network       256 KiB files in a shuffled order and grep -r over a copy
                  of /usr/include, twice each, over sshfs (an sshd of its
                  own on 127.0.0.1): native (the files read locally), sshfs,
                  and mmapfs (-o timeout=600), mmapfs-ro and the peers
                  over sshfs
  --runs N        runs of each workload (3; 1 with --quick)
  --systems LIST  the systems to run, of: native mmapfs mmapfs-mapped
                  mmapfs-ro mmapfs-timeout mmapfs-push0 mmapfs-writeback
                  passthrough_ll bindfs mergerfs (and sshfs with --network)
  --data DIR      where the data set is made (/var/tmp/mmapfs-bench)
  --out DIR       where results go (results/DATE)
  --mmapfs-opts   extra options for every mmapfs system (to measure levers)
USAGE
}

quick=0
writes=0
network=0
runs=3
systems=""
data=""
out=""
mmapfs_opts=""
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1; runs=1 ;;
	--writes) writes=1 ;;
	--network) network=1 ;;
	--runs) runs=$2; shift ;;
	--systems) systems=$2; shift ;;
	--data) data=$2; shift ;;
	--out) out=$2; shift ;;
	--mmapfs-opts) mmapfs_opts=$2; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "bench: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
case "$runs" in ''|*[!0-9]*|0) echo "bench: --runs takes a whole number from 1" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "bench: run as root (mounts, drop_caches)" >&2; exit 1; }

if [ $quick = 1 ]; then
	big_mb=256; nsmall=1000; walk_small=5000; walk_big=50000; rand_mb=32; nepoch=400
	sparse_gb=1; rand_rounds=1
else
	big_mb=1024; nsmall=5000; walk_small=20000; walk_big=1000000; rand_mb=128; nepoch=2000
	sparse_gb=4; rand_rounds=3
fi
if [ -z "$systems" ] && [ $network = 1 ]; then
	systems="native sshfs mmapfs mmapfs-ro passthrough_ll bindfs"
elif [ -z "$systems" ] && [ $writes = 1 ]; then
	systems="native mmapfs mmapfs-mapped mmapfs-writeback passthrough_ll bindfs mergerfs"
elif [ -z "$systems" ]; then
	systems="native mmapfs mmapfs-mapped mmapfs-ro passthrough_ll bindfs mergerfs"
fi
[ -n "$out" ] || out="results/$(date +%Y%m%d-%H%M%S)$([ $quick = 1 ] && echo -quick)$([ $writes = 1 ] && echo -writes)$([ $network = 1 ] && echo -network)"
# The quick data set lives apart, so that switching modes recreates neither.
[ -n "$data" ] || data=/var/tmp/mmapfs-bench$([ $quick = 1 ] && echo -quick)
mkdir -p "$out"
csv="$out/results.csv"
echo "workload,system,run,value,unit" > "$csv"

# --- what the benchmark needs ------------------------------------------------
scripts/install-deps.sh >/dev/null
need=""
for p in fio bindfs mergerfs gnuplot-nox gcc git bc $([ $network = 1 ] && echo sshfs openssh-server); do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
	echo "bench: installing$need"
	DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need >/dev/null || exit 1
fi
if [ ! -f build-bench/build.ninja ]; then
	meson setup build-bench --buildtype=release -Dmount_tests=false >/dev/null || exit 1
fi
ninja -C build-bench mmapfs >/dev/null || exit 1
tools="$top/results/tools"
mkdir -p "$tools"
ex=/usr/share/doc/libfuse3-dev/examples
if [ ! -x "$tools/passthrough_ll" ]; then
	cp "$ex"/passthrough_ll.c "$ex"/passthrough_helpers.h "$tools/" 2>/dev/null ||
		{ zcat "$ex/passthrough_ll.c.gz" > "$tools/passthrough_ll.c"; cp "$ex/passthrough_helpers.h" "$tools/"; }
	gcc -O2 -o "$tools/passthrough_ll" "$tools/passthrough_ll.c" \
		$(pkg-config --cflags --libs fuse3) || exit 1
fi

# --- the data set ------------------------------------------------------------
if [ $writes = 1 ]; then
	# The write workloads write into a tmpfs: the disk's own flushing
	# does not blur the figures.
	mkdir -p "$data-writes"
	[ -f "$data-writes/include.tar" ] ||
		tar -C /usr -cf "$data-writes/include.tar" include || exit 1
	[ -d "$data-writes/files" ] || python3 - "$data-writes/files" <<'PY'
import os, sys
root = sys.argv[1]
os.makedirs(root)
for i in range(2000):
    d = f"{root}/d{i // 100:02d}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i:04d}.c", "w") as f:
        f.write(f"int f{i}(void) {{ return {i}; }}\n" * (1 + i % 40))
PY
	# What the extracted tree must hash to.
	rm -rf "$data-writes/ref"
	mkdir -p "$data-writes/ref"
	tar -C "$data-writes/ref" -xf "$data-writes/include.tar" || exit 1
	want_sum=$(cd "$data-writes/ref/include" && find . -type f -print0 | sort -z | xargs -0 md5sum | md5sum)
	rm -rf "$data-writes/ref"
fi
if [ $network = 1 ]; then
	# Served over sshfs: the shuffled files and a source tree to search.
	data="$data-network"
	if [ ! -f "$data/.complete-$nepoch" ]; then
		echo "bench: creating the network data set in $data (once)"
		rm -rf "$data"
		mkdir -p "$data/src/epochs" "$data/mnt" "$data/net" "$data/ssh"
		python3 - "$data/src/epochs" "$nepoch" <<'PY'
import os, sys
blob = os.urandom(256 * 1024)
for i in range(int(sys.argv[2])):
    with open(f"{sys.argv[1]}/s{i:05d}", "wb") as f:
        f.write(blob)
PY
		cp -a /usr/include "$data/src/include" || exit 1
		touch "$data/.complete-$nepoch"
	fi
fi
stamp="$data/.complete-$big_mb-$nsmall-$walk_small-$walk_big-$nepoch"
mkdir -p "$data/src" "$data/mnt"
if [ $writes = 0 ] && [ $network = 0 ] && [ ! -f "$stamp" ]; then
	echo "bench: creating the data set in $data (once)"
	rm -rf "$data"
	mkdir -p "$data/src/small" "$data/src/walk-small" "$data/src/walk-big" \
		"$data/src/epochs" "$data/mnt"
	head -c "${big_mb}M" /dev/urandom > "$data/src/big"
	python3 - "$data/src" "$nsmall" "$walk_small" "$walk_big" "$nepoch" <<'PY'
import os, sys
src, nsmall, wsmall, wbig, nepoch = sys.argv[1], *map(int, sys.argv[2:])
blob = os.urandom(4096)
for i in range(nsmall):
    with open(f"{src}/small/f{i:06d}", "wb") as f:
        f.write(blob)
blob = os.urandom(256 * 1024)
for i in range(nepoch):
    with open(f"{src}/epochs/s{i:05d}", "wb") as f:
        f.write(blob)
def tree(root, n):
    per = 1000
    for i in range(n):
        d = f"{root}/d{i // per:04d}"
        if i % per == 0:
            os.mkdir(d)
        with open(f"{d}/e{i:07d}", "wb") as f:
            f.write(b"x" * (i % 7))
tree(f"{src}/walk-small", wsmall)
tree(f"{src}/walk-big", wbig)
PY
	touch "$stamp"
fi
if [ $writes = 0 ] && [ $network = 0 ]; then
	# A source tree to search, and a sparse file: 1 MiB of data at the
	# start of every 64 MiB, holes between.
	[ -d "$data/src/include" ] || cp -a /usr/include "$data/src/include" || exit 1
	if [ ! -f "$data/.complete-sparse-$sparse_gb" ]; then
		rm -f "$data/src/sparse"
		truncate -s "${sparse_gb}G" "$data/src/sparse" || exit 1
		for i in $(seq 0 $((sparse_gb * 16 - 1))); do
			dd if=/dev/urandom of="$data/src/sparse" bs=1M count=1 seek=$((i * 64)) \
				conv=notrunc status=none || exit 1
		done
		touch "$data/.complete-sparse-$sparse_gb"
	fi
fi
src="$data/src"
mnt="$data/mnt"
net="$data/net"
# What the FUSE systems mirror: the source, or (--network) sshfs of it.
backing="$src"
[ $network = 1 ] && backing="$net"

# --- the network (--network): an sshd of our own on 127.0.0.1 ----------------
port=""
sshd_pid=""
net_setup() {
	local d="$data/ssh"
	mkdir -p /run/sshd "$d" "$net"
	[ -f "$d/host" ] || ssh-keygen -q -t ed25519 -N '' -f "$d/host" || exit 1
	[ -f "$d/client" ] || ssh-keygen -q -t ed25519 -N '' -f "$d/client" || exit 1
	cp "$d/client.pub" "$d/authorized_keys"
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat > "$d/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $port
HostKey $d/host
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
CONF
	# In the foreground (-D), so that its pid is ours to stop.
	/usr/sbin/sshd -D -f "$d/sshd_config" &
	sshd_pid=$!
	local tries=500
	until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
		tries=$((tries - 1))
		if [ $tries = 0 ] || ! kill -0 "$sshd_pid" 2>/dev/null; then
			echo "bench: sshd did not start" >&2
			exit 1
		fi
		sleep 0.01
	done
	mmapfs_opts="-o timeout=600 $mmapfs_opts"
}
# A fresh sshfs mount for each measurement: its own caches start empty.
net_up() {
	[ $network = 1 ] || return 0
	sshfs -o "IdentityFile=$data/ssh/client,Port=$port,StrictHostKeyChecking=no" \
		-o "UserKnownHostsFile=/dev/null,BatchMode=yes,LogLevel=ERROR" \
		"root@127.0.0.1:$src" "$net" && return 0
	echo "bench: sshfs did not mount" >&2
	return 1
}
net_down() {
	if [ $network = 1 ] && mountpoint -q "$net" 2>/dev/null; then
		fusermount3 -u "$net" 2>/dev/null || umount -l "$net"
	fi
}

# --- mounting ----------------------------------------------------------------
pid=""
cleanup() {
	if mountpoint -q "$mnt" 2>/dev/null; then
		fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt"
	fi
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	pid=""
	net_down
	if [ -n "$sshd_pid" ]; then
		kill "$sshd_pid" 2>/dev/null
		wait "$sshd_pid" 2>/dev/null
		sshd_pid=""
	fi
	if [ $writes = 1 ] && mountpoint -q "$src" 2>/dev/null; then
		umount "$src"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Mounts system $1 at $mnt (nothing for native); sets dir and pid.
mount_sys() {
	local sys=$1
	pid=""
	dir="$mnt"
	case "$sys" in
	native) dir="$src"; return 0 ;;
	sshfs) dir="$net"; return 0 ;;
	mmapfs) "$top/build-bench/mmapfs" -f $mmapfs_opts "$backing" "$mnt" 2>>"$out/mmapfs.log" & ;;
	# Every read through the daemon's mappings, as before passthrough.
	mmapfs-mapped) "$top/build-bench/mmapfs" -f -o passthrough=off $mmapfs_opts "$backing" "$mnt" \
		2>>"$out/mmapfs.log" & ;;
	# Read-only: files are read without opens.
	mmapfs-ro) "$top/build-bench/mmapfs" -f -o ro $mmapfs_opts "$backing" "$mnt" \
		2>>"$out/mmapfs.log" & ;;
	# The same without the watcher: what watching costs or gains.
	mmapfs-timeout) "$top/build-bench/mmapfs" -f -o cache=timeout $mmapfs_opts "$backing" "$mnt" \
		2>>"$out/mmapfs.log" & ;;
	# The kernel caches writes (passthrough off).
	mmapfs-writeback) "$top/build-bench/mmapfs" -f -o writeback $mmapfs_opts "$backing" "$mnt" \
		2>>"$out/mmapfs.log" & ;;
	# Through the mappings with nothing pushed: what the pusher costs or gains.
	mmapfs-push0) "$top/build-bench/mmapfs" -f -o passthrough=off,push=0 $mmapfs_opts \
		"$backing" "$mnt" 2>>"$out/mmapfs.log" & ;;
	passthrough_ll) "$tools/passthrough_ll" -f -o source="$backing" "$mnt" 2>/dev/null & ;;
	bindfs) bindfs -f "$backing" "$mnt" 2>/dev/null & ;;
	# No free-space floor: the write workloads run on a small tmpfs.
	mergerfs) mergerfs -f -o minfreespace=0 "$backing" "$mnt" 2>/dev/null & ;;
	esac
	pid=$!
	wait_fuse_mount "$mnt" 10 "$pid" && return 0
	echo "bench: $sys did not mount" >&2
	return 1
}

umount_sys() {
	[ -z "$pid" ] && return 0
	fusermount3 -u "$mnt"
	wait "$pid" 2>/dev/null
	pid=""
}

now() { date +%s.%N; }
record() { echo "$1,$2,$3,$4,$5" >> "$csv"; }   # workload system run value unit

# Backing files in the page cache before every measurement.
warm_backing() {
	cat "$src/big" "$src/sparse" > /dev/null
	find "$src/small" "$src/epochs" "$src/include" -type f -print0 | xargs -0 cat > /dev/null
}

# --- workloads ---------------------------------------------------------------
# The first open of the file on a fresh mount, then the opens after it:
# three of them, timed together (one read of a warm 1 GiB file lasts a
# fifth of a second, where a neighbour's burst moves a single figure by
# 10 % or more).
seq_read() {   # sys run
	local t0 t1 t2 i
	t0=$(now); dd if="$dir/big" of=/dev/null bs=1M status=none || return 1
	t1=$(now)
	for i in 1 2 3; do
		dd if="$dir/big" of=/dev/null bs=1M status=none || return 1
	done
	t2=$(now)
	record seq-read-cold "$1" "$2" "$(echo "$big_mb / ($t1 - $t0)" | bc -l)" MiB/s
	record seq-read-warm "$1" "$2" "$(echo "3 * $big_mb / ($t2 - $t1)" | bc -l)" MiB/s
}

# A bounded amount of reading: rand_mb per job, warm-up included.
rand_read() {  # sys run jobs
	local iops
	iops=$(fio --name=r --filename="$dir/big" --rw=randread --bs=4k --ioengine=psync \
		--numjobs="$3" --group_reporting --io_size="${rand_mb}M" \
		--size="${big_mb}M" --invalidate=0 --output-format=terse --terse-version=3 2>/dev/null |
		awk -F';' '{print $8}')
	[ -n "$iops" ] || return 1
	record "rand-4k-${3}job" "$1" "$2" "$iops" IOPS
}

# Random 4 KiB reads over a sparse file, bounded (rand_mb / 4): mostly
# holes.  Recorded as the mean time a read, from fio's completion latency.
rand_sparse() {  # sys run
	local usec
	usec=$(fio --name=s --filename="$dir/sparse" --rw=randread --bs=4k --ioengine=psync \
		--io_size="$((rand_mb / 4))M" --size="${sparse_gb}G" --invalidate=0 \
		--output-format=terse --terse-version=3 2>/dev/null | awk -F';' '{print $40}')
	[ -n "$usec" ] || return 1
	record rand-4k-sparse "$1" "$2" "$usec" us
	if [ -n "$pid" ]; then
		record daemon-rss-sparse "$1" "$2" \
			"$(awk '/VmRSS/ {print $2 / 1024}' "/proc/$pid/status")" MiB
	fi
}

# A client's mmap of the whole file, read once (fio copies out of it).
mmap_read() {  # sys run
	local kib
	kib=$(fio --name=m --filename="$dir/big" --rw=read --bs=1M --ioengine=mmap \
		--size="${big_mb}M" --invalidate=0 --output-format=terse --terse-version=3 2>/dev/null |
		awk -F';' '{print $7}')
	[ -n "$kib" ] || return 1
	record mmap-read "$1" "$2" "$(echo "$kib / 1024" | bc -l)" MiB/s
}

small_files() {  # sys run
	local t0 t1 t2
	t0=$(now); find "$dir/small" -type f -print0 | xargs -0 cat > /dev/null || return 1
	t1=$(now); find "$dir/small" -type f -print0 | xargs -0 cat > /dev/null || return 1
	t2=$(now)
	record small-files-cold "$1" "$2" "$(echo "$nsmall / ($t1 - $t0)" | bc -l)" files/s
	record small-files-warm "$1" "$2" "$(echo "$nsmall / ($t2 - $t1)" | bc -l)" files/s
}

# A data set of 256 KiB files read whole in a shuffled order, twice (the
# same order each epoch and each system).
epochs() {  # sys run
	local t0 t1 t2 list mb
	list=$(cd "$dir/epochs" && ls | shuf --random-source=<(yes))
	mb=$(echo "$nepoch / 4" | bc -l)
	t0=$(now); (cd "$dir/epochs" && echo "$list" | xargs cat > /dev/null) || return 1
	t1=$(now); (cd "$dir/epochs" && echo "$list" | xargs cat > /dev/null) || return 1
	t2=$(now)
	record epoch-1 "$1" "$2" "$(echo "$mb / ($t1 - $t0)" | bc -l)" MiB/s
	record epoch-2 "$1" "$2" "$(echo "$mb / ($t2 - $t1)" | bc -l)" MiB/s
}

# A source tree searched twice (a string that is nowhere: every file read).
grep_tree() {  # sys run
	local t0 t1 t2
	t0=$(now); grep -r -F -q mmapfs-bench-nowhere "$dir/include"; [ $? = 1 ] || return 1
	t1=$(now); grep -r -F -q mmapfs-bench-nowhere "$dir/include"; [ $? = 1 ] || return 1
	t2=$(now)
	record grep-1 "$1" "$2" "$(echo "$t1 - $t0" | bc -l)" s
	record grep-2 "$1" "$2" "$(echo "$t2 - $t1" | bc -l)" s
}

walk() {  # sys run name entries
	local t0 t1 n
	t0=$(now)
	n=$(find "$dir/walk-$3" -printf '%s %i\n' 2>"$out/walk-$1.err" | wc -l)
	t1=$(now)
	if [ "$n" -lt "$4" ]; then
		echo "bench: $1: walk of $4 entries saw $n ($(head -c 200 "$out/walk-$1.err"))" >&2
		record "walk-$3" "$1" "$2" 0 entries/s
		return 0
	fi
	record "walk-$3" "$1" "$2" "$(echo "$n / ($t1 - $t0)" | bc -l)" entries/s
	if [ -n "$pid" ] && [ "$3" = big ]; then
		local hwm anon
		hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
		anon=$(awk '/RssAnon/ {print $2}' "/proc/$pid/status")
		record daemon-peak-rss "$1" "$2" "$(echo "$hwm / 1024" | bc -l)" MiB
		record daemon-anon-rss "$1" "$2" "$(echo "$anon / 1024" | bc -l)" MiB
	fi
}

# --- the write workloads (--writes) ------------------------------------------
fresh_backing() {   # an empty tmpfs as the backing directory
	if ! mountpoint -q "$src"; then
		mount -t tmpfs -o size=4g,mode=0755 mmapfs-bench "$src" || exit 1
	fi
	find "$src" -mindepth 1 -delete
}

tar_x() {  # sys run
	local t0 t1 sum
	t0=$(now); tar -C "$dir" -xf "$data-writes/include.tar" || return 1; sync -f "$dir/include"
	t1=$(now)
	sum=$(cd "$dir/include" && find . -type f -print0 | sort -z | xargs -0 md5sum | md5sum)
	if [ "$sum" != "$want_sum" ]; then
		echo "bench: $1: the extracted tree differs from the archive" >&2
		record write-tar-x "$1" "$2" 0 s
		return 0
	fi
	record write-tar-x "$1" "$2" "$(echo "$t1 - $t0" | bc -l)" s
}

dd_4k() {  # sys run
	local t0 t1
	t0=$(now); dd if=/dev/zero of="$dir/dd" bs=4k count=65536 conv=fsync status=none || return 1
	t1=$(now)
	record write-dd-4k "$1" "$2" "$(echo "$t1 - $t0" | bc -l)" s
}

git_commit() {  # sys run
	local t0 t1
	t0=$(now)
	(cd "$dir" && git init -q repo && cp -r "$data-writes/files/." repo/ && cd repo &&
		git add -A && git -c user.name=b -c user.email=b@b commit -qm bench) || return 1
	t1=$(now)
	record write-git "$1" "$2" "$(echo "$t1 - $t0" | bc -l)" s
}

# Describes the machine and the run in $out/machine.txt.
describe_run() {
	{
		echo "machine: $(uname -r), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
		echo "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
		echo "backing: $(findmnt -n -o FSTYPE -T "$src") at $src"
		echo "mmapfs options: ${mmapfs_opts:-defaults}"
		echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
	} > "$out/machine.txt"
}

# One workload on a fresh mount: measure WORKLOAD SYSTEM RUN [ARGS...]
measure() {
	local workload=$1 sys=$2
	shift 2
	net_up && mount_sys "$sys" && { "$workload" "$sys" "$@" || echo "bench: $sys: $workload failed" >&2; }
	umount_sys
	net_down
}

if [ $network = 1 ]; then
	echo "bench: network, $runs run(s); systems: $systems; results in $out"
	net_setup
	describe_run
	echo "network: sshfs to an sshd on 127.0.0.1 (port $port); mmapfs options: $mmapfs_opts" >> "$out/machine.txt"
	for run in $(seq "$runs"); do
		echo "bench: run $run"
		for workload in epochs grep_tree; do
			for sys in $systems; do
				# The server's files in its page cache: the
				# network is what is measured.
				find "$src" -type f -print0 | xargs -0 cat > /dev/null
				measure "$workload" "$sys" "$run"
			done
		done
	done
elif [ $writes = 1 ]; then
	echo "bench: writes, $runs run(s); systems: $systems; results in $out"
	fresh_backing
	describe_run
	for run in $(seq "$runs"); do
		echo "bench: run $run"
		for workload in tar_x dd_4k git_commit; do
			for sys in $systems; do
				fresh_backing
				measure "$workload" "$sys" "$run"
			done
		done
	done
	find "$src" -mindepth 1 -delete
	umount "$src"
else
	echo "bench: $runs run(s); systems: $systems; results in $out"
	describe_run
	# As in the other modes, each workload runs on every system in turn
	# before the next workload: the figures a ratio divides are taken
	# seconds apart, not minutes (this machine's load drifts by 20 % in
	# minutes).  A bounded random read lasts a fraction of a second,
	# where the noise is largest: rounds of them.
	for run in $(seq "$runs"); do
		echo "bench: run $run"
		for step in seq_read rand_read mmap_read rand_sparse small_files \
			    epochs grep_tree walk_small walk_big; do
			warm_backing
			for sys in $systems; do
				case $step in
				rand_read)
					for round in $(seq "$rand_rounds"); do
						measure rand_read "$sys" "$run" 1
						measure rand_read "$sys" "$run" 2
					done ;;
				walk_small) measure walk "$sys" "$run" small "$walk_small" ;;
				walk_big) measure walk "$sys" "$run" big "$walk_big" ;;
				*) measure "$step" "$sys" "$run" ;;
				esac
			done
		done
	done
fi

python3 scripts/bench-report.py "$csv" "$out"
