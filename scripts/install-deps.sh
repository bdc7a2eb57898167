#!/bin/sh
# Installs the Debian packages a make target needs, if any is missing. Needs
# root (apt-get). Does nothing when everything is present, so `make demo`
# and `make test` can call it every time.
#
# Usage: install-deps.sh [build|test]
#   build  building and running: `make`, `make demo`, `make install`,
#          `make bench` (compiler, protobuf-c, libevent, LMDB, jansson;
#          jq, which the demos' scripts use)
#   test   (the default) build's and what `make test`, `make asan` and
#          `make format-check` add: Check, valgrind, clang-format,
#          mandoc, Python 3 with protobuf (the Python client), and on
#          x86_64 a cross compiler and qemu-user (the aarch64 coroutine test)
#
# Not here: telling what is missing without installing it, which make does
# before compiling (scripts/check-prereqs.sh).
set -eu

what=${1:-test}
build="build-essential pkg-config libevent-dev liblmdb-dev
libprotobuf-c-dev protobuf-c-compiler libjansson-dev jq"
test="check valgrind clang-format mandoc lmdb-utils protobuf-compiler
python3 python3-protobuf systemd"
case $what in
build) pkgs=$build ;;
test)
	pkgs="$build $test"
	# Cross toolchain and qemu-user for the aarch64 coroutine test.
	if [ "$(uname -m)" = x86_64 ]; then
		pkgs="$pkgs gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"
	fi
	;;
*)
	echo "usage: install-deps.sh [build|test]" >&2
	exit 2
	;;
esac

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: run as root, or: sudo apt-get install$missing" >&2
	exit 1
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
