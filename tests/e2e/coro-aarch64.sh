#!/bin/sh
# Cross-compiles the coroutine runtime (daemon/coro.c, daemon/coro_aarch64.S)
# with tests/coro_selftest.c into a static aarch64 binary under $B/aarch64/
# and runs it under qemu-aarch64, so the aarch64 context switch is tested on
# an x86-64 machine. Skipped (exit 77, not a pass) when the host is not
# x86_64 or the cross compiler or qemu-aarch64 is missing.
set -u

b=${B:-build}
case $b in
/*) ;;
*) b=$(pwd)/$b ;;
esac
cd "$(dirname "$0")/../.." || exit 1

cc=aarch64-linux-gnu-gcc
if [ "$(uname -m)" != x86_64 ]; then
	echo "coro-aarch64: skipped (host is $(uname -m), not x86_64)"
	exit 77
fi
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "coro-aarch64: skipped ($cc not found; package gcc-aarch64-linux-gnu)"
	exit 77
fi
qemu=""
for q in qemu-aarch64 qemu-aarch64-static; do
	if command -v "$q" >/dev/null 2>&1; then qemu=$q; break; fi
done
if [ -z "$qemu" ]; then
	echo "coro-aarch64: skipped (qemu-aarch64 not found; package qemu-user)"
	exit 77
fi

# The Makefile's warning flags; -Werror as there when CI or DEVELOPER is set.
warn="-std=c11 -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes
-Wmissing-prototypes -Wold-style-definition -Wpointer-arith -Wwrite-strings
-Wvla -Wundef -Wno-missing-field-initializers -fno-common"
if [ -n "${CI:-}${DEVELOPER:-}" ]; then warn="$warn -Werror"; fi

out=$b/aarch64
mkdir -p "$out" || exit 1
# shellcheck disable=SC2086
if ! "$cc" -D_GNU_SOURCE -Idaemon $warn -O2 -g -static \
	-o "$out/coro_selftest" \
	daemon/coro.c daemon/coro_aarch64.S tests/coro_selftest.c -lm; then
	echo "coro-aarch64: cross build failed"
	exit 1
fi
if ! "$qemu" "$out/coro_selftest"; then
	echo "coro-aarch64: self-test failed under $qemu"
	exit 1
fi
echo "coro-aarch64: ok"
