#!/bin/sh
# Installs what is missing, builds mmapfs, and runs every test: the whole
# suite (unit tests, tests that mount for real, the core reads again with
# the daemon under valgrind) on a -Dwerror build; again under
# AddressSanitizer and UBSan; the concurrent tests under ThreadSanitizer;
# and the option parser's libFuzzer target for a bounded time.  Needs root
# and /dev/fuse.
# The last line printed is 'N passed, N failed'.
set -u
cd "$(dirname "$0")/.."

scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }

status=0
logs=""

build() {  # build DIR [meson options...]
	dir=$1; shift
	if [ -f "$dir/build.ninja" ]; then
		meson configure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi && ninja -C "$dir"
}

if build build -Dwerror=true; then
	meson test -C build --print-errorlogs || status=1
	logs="$logs build/meson-logs/testlog.json"
else
	echo "test: the build failed" >&2
	status=1
fi

# Everything again on an AddressSanitizer + UndefinedBehaviorSanitizer
# build: a leak or an error in the daemon makes it exit non-zero, which
# the mount tests check.  The exerciser runs fewer operations here.
if build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true; then
	ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
	MMAPFS_FSX_OPS=20000 meson test -C build-asan --print-errorlogs || status=1
	logs="$logs build-asan/meson-logs/testlog.json"
else
	echo "test: the sanitizer build failed" >&2
	status=1
fi

# Under ThreadSanitizer: the 'tsan' suite of tests/meson.build (the
# concurrent unit tests, and the mount tests whose daemon never catches a
# SIGBUS: TSan takes over signal delivery, and a guard that jumps out of a
# handler is outside what it models).  A report makes the daemon exit
# non-zero, which the mount tests check.  TSan maps memory at fixed places,
# so it runs without ASLR.
if build build-tsan -Db_sanitize=thread -Dmount_tests=true -Dwerror=true; then
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
		setarch "$(uname -m)" -R meson test -C build-tsan --print-errorlogs \
		--suite tsan || status=1
	logs="$logs build-tsan/meson-logs/testlog.json"
else
	echo "test: the ThreadSanitizer build failed" >&2
	status=1
fi

# The option parser's libFuzzer target, for a bounded time (clang only:
# gcc has no libFuzzer), on an AddressSanitizer and UBSan build.
if (export CC=clang; build build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
	-Db_lundef=false -Dmount_tests=false); then
	MMAPFS_FUZZ_SECONDS=${MMAPFS_FUZZ_SECONDS:-60} \
		meson test -C build-fuzz --print-errorlogs --suite fuzz || status=1
	logs="$logs build-fuzz/meson-logs/testlog.json"
else
	echo "test: the fuzzing build failed" >&2
	status=1
fi

if [ -z "$logs" ]; then
	echo "0 passed, 1 failed"
	exit 1
fi
# Mounts left behind, in every process's mount namespace (test_network
# mounts in one of its own): "connection mount-point" lines.
left=$(cat /proc/[0-9]*/mountinfo 2>/dev/null |
	awk '{ for (i = 7; i < NF && $i != "-"; i++) ; if ($(i + 1) == "fuse.mmapfs") print $3, $5 }' |
	sort -u)
if [ -n "$left" ]; then
	echo "test: mmapfs mounts were left behind (connection, mount point):" >&2
	echo "$left" >&2
	status=1
	# A daemon stuck in the kernel cannot be killed (an invalidation
	# waiting on a page whose READ nobody answers once the daemon is
	# dying, seen once after a sanitizer's abort): abort each one's
	# connection, so that it exits, then detach the mount (one in
	# another namespace goes with that namespace's last process).
	c=/sys/fs/fuse/connections
	mountpoint -q "$c" || mount -t fusectl none "$c" 2>/dev/null
	echo "$left" | while read -r dev mnt; do
		echo 1 > "$c/${dev#*:}/abort" 2>/dev/null
		umount -l "$mnt" 2>/dev/null
	done
fi
# shellcheck disable=SC2086
python3 scripts/test-summary.py $logs || status=1
exit $status
