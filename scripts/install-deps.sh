#!/bin/sh
# Installs the Debian packages asyncflowd needs to build and test, if any is
# missing. Needs root (apt-get). Does nothing when everything is present, so
# `make demo` and `make test` can call it every time.
set -eu

pkgs="build-essential pkg-config liblmdb-dev lmdb-utils libevent-dev
libprotobuf-c-dev protobuf-c-compiler protobuf-compiler check libjansson-dev
valgrind jq clang-format"
pkgs="$pkgs systemd" # test: systemd-analyze verify of dist/ (systemd-units.sh)
# Cross toolchain and qemu-user for the aarch64 coroutine test.
if [ "$(uname -m)" = x86_64 ]; then
	pkgs="$pkgs gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"
fi

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
