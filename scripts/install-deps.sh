#!/bin/sh
# Installs, on Debian 12 as root, every package mmapfs needs to build, run
# and test.  Does nothing when all are there already.
set -eu

packages="gcc libc6-dev meson ninja-build pkg-config python3 libfuse3-dev fuse3
libglib2.0-dev libglib2.0-bin procps util-linux coreutils
git sqlite3 tar diffutils bindfs valgrind clang acl passwd sshfs openssh-server
openssh-client"

missing=""
for p in $packages; do
	if ! dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: missing packages:$missing (run as root to install them)" >&2
		exit 1
	fi
	echo "install-deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q $missing
fi
if [ ! -e /dev/fuse ]; then
	modprobe fuse 2>/dev/null || true
fi
