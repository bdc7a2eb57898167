# The build's prerequisites: with a tool or a library hidden (a PATH of
# links to every program but one; a pkg-config search path of links to
# every .pc file but one), scripts/check-prereqs.sh names what is missing
# and the Debian package to install, and `make` stops with that message
# before compiling anything. With everything there it says nothing. And
# `make` (all) needs no Check: only the tests' objects ask for it.
# Not here: installing packages (scripts/install-deps.sh needs root and a
# network; nothing is installed or removed by this test).
set -eu
. tests/e2e/lib.inc

pcdirs=$(pkg-config --variable pc_path pkg-config 2>/dev/null) ||
	skip "pkg-config cannot say its search path"

# bin_without NAME...: a directory of links to every program of PATH but
# NAMEs (the first of each name, as PATH finds it).
bin_without() {
	d=$WORK/bin-$1
	mkdir -p "$d"
	old_ifs=$IFS
	IFS=:
	for p in $PATH; do
		[ -d "$p" ] && ln -s "$p"/* "$d"/ 2>/dev/null || true
	done
	IFS=$old_ifs
	for n in "$@"; do
		rm -f "$d/$n"
	done
	echo "$d"
}

# pc_without NAME...: a pkg-config search directory with every .pc file
# but NAME.pc.
pc_without() {
	d=$WORK/pc-$1
	mkdir -p "$d"
	old_ifs=$IFS
	IFS=:
	for p in $pcdirs; do
		[ -d "$p" ] && ln -s "$p"/*.pc "$d"/ 2>/dev/null || true
	done
	IFS=$old_ifs
	for n in "$@"; do
		rm -f "$d/$n.pc"
	done
	echo "$d"
}

# prereqs WHAT [VAR=VALUE...]: run check-prereqs.sh WHAT in that
# environment; its stderr in $WORK/msg, its exit code in $rc.
prereqs() {
	what=$1
	shift
	rc=0
	env "$@" sh scripts/check-prereqs.sh "$what" >"$WORK/out" \
	    2>"$WORK/msg" || rc=$?
	[ ! -s "$WORK/out" ] || fail "check-prereqs.sh wrote to stdout"
}

# says TEXT: the message holds TEXT.
says() {
	grep -qF -- "$1" "$WORK/msg" ||
		{ cat "$WORK/msg" >&2; fail "the message does not say: $1"; }
}

# Everything is here: silence, exit 0.
prereqs test
expect "check-prereqs.sh test, all present" "$rc" 0
[ ! -s "$WORK/msg" ] || fail "check-prereqs.sh said: $(cat "$WORK/msg")"

# A tool: protoc-c.
nopc=$(bin_without protoc-c)
prereqs build PATH="$nopc"
expect "exit without protoc-c" "$rc" 1
says "protoc-c (Debian package protobuf-c-compiler)"
says "apt-get install protobuf-c-compiler"
says "sh scripts/install-deps.sh build"

# pkg-config itself: the libraries cannot be checked, and it says so.
nopkg=$(bin_without pkg-config pkgconf)
prereqs build PATH="$nopkg"
expect "exit without pkg-config" "$rc" 1
says "(Debian package pkg-config)"

# A library: lmdb.pc; and two at once, both named in one apt-get line.
prereqs build PKG_CONFIG_LIBDIR="$(pc_without lmdb)" PKG_CONFIG_PATH=
expect "exit without lmdb.pc" "$rc" 1
says "lmdb.pc, the library for pkg-config (Debian package liblmdb-dev)"
prereqs build PKG_CONFIG_LIBDIR="$(pc_without libevent jansson)" \
    PKG_CONFIG_PATH=
expect "exit without libevent.pc and jansson.pc" "$rc" 1
says "apt-get install libevent-dev libjansson-dev"

# A compiler that cannot build a program.
prereqs build CC=no-such-cc
expect "exit with CC=no-such-cc" "$rc" 1
says "no-such-cc"
nocc=$(bin_without cc)
prereqs build PATH="$nocc" CC=cc
expect "exit without cc" "$rc" 1
says "a C compiler (cc) (Debian package build-essential)"

# Check: needed by the tests only.
nocheck=$(pc_without check)
prereqs build PKG_CONFIG_LIBDIR="$nocheck" PKG_CONFIG_PATH=
expect "check-prereqs.sh build without check.pc" "$rc" 0
prereqs test PKG_CONFIG_LIBDIR="$nocheck" PKG_CONFIG_PATH=
expect "check-prereqs.sh test without check.pc" "$rc" 1
says "check.pc, the library for pkg-config (Debian package check)"
says "sh scripts/install-deps.sh test"

# make itself, on a fresh build directory, without protoc-c: the message,
# and not one object compiled (two jobs: no compile may start beside it).
mb=$WORK/build
rc=0
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL PATH="$nopc" \
    make -j2 --no-print-directory B="$mb" >"$WORK/make.out" 2>"$WORK/msg" ||
	rc=$?
[ "$rc" -ne 0 ] || fail "make without protoc-c succeeded"
says "protoc-c (Debian package protobuf-c-compiler)"
compiled=$(find "$mb" -name '*.o' -o -name '*.so' -o -name '*.a' \
    -o -name '*.pb-c.*' 2>/dev/null | head -n 3)
[ -z "$compiled" ] || fail "make compiled before the check: $compiled"
! grep -q '^cc \|protoc-c --' "$WORK/make.out" ||
	fail "make ran a compiler: $(cat "$WORK/make.out")"

# What `make` (all) would run, without check.pc: nothing of tests/, no
# -lcheck; only the build's check.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL PKG_CONFIG_LIBDIR="$nocheck" \
    PKG_CONFIG_PATH= make -n --no-print-directory B="$mb" all \
    >"$WORK/dry" 2>&1 || { cat "$WORK/dry" >&2; fail "make -n all"; }
grep -q 'check-prereqs.sh build' "$WORK/dry" ||
	fail "make all does not check its prerequisites first"
! grep -q 'tests/\|-lcheck\|check-prereqs.sh test' "$WORK/dry" ||
	fail "make all builds tests: $(grep 'tests/\|-lcheck' "$WORK/dry" | head -n 2)"
grep -q 'asyncflowd' "$WORK/dry" && grep -q 'libasyncflow.so' "$WORK/dry" &&
    grep -q 'asyncflowctl' "$WORK/dry" ||
	fail "make -n all does not build the programs and the library"
echo "prereqs: ok"
