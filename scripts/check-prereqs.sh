#!/bin/sh
# check-prereqs.sh: run by make before it compiles anything. Checks that
# the tools and libraries the build needs are here and, if any is missing,
# names each one with the Debian package that brings it, prints the
# apt-get line for all of them and exits 1. Prints nothing and exits 0
# when all is there.
#
# Usage: check-prereqs.sh [build|test]
#   build (default)  what `make` needs: a C compiler with the C library's
#                    headers, ar, protoc-c, pkg-config, and the pkg-config
#                    files of libevent, lmdb, libprotobuf-c and jansson
#   test             the same and Check (the unit tests, `make check`)
# CC (default cc) and PKG_CONFIG (default pkg-config) name the programs.
#
# It only looks: installing is scripts/install-deps.sh (build|test).
set -u

what=${1:-build}
case $what in
build | test) ;;
*)
	echo "usage: check-prereqs.sh [build|test]" >&2
	exit 2
	;;
esac
cc=${CC:-cc}
pkgconfig=${PKG_CONFIG:-pkg-config}

missing=""	# one line per missing thing
pkgs=""		# the Debian packages, each once
nl='
'

# need WHAT PACKAGE: WHAT is missing, PACKAGE brings it.
need() {
	missing="$missing$nl  $1 (Debian package $2)"
	case " $pkgs " in
	*" $2 "*) ;;
	*) pkgs="$pkgs $2" ;;
	esac
}

# The C compiler: the first word of CC must run and build a program that
# includes a C library header (gcc alone, without libc6-dev, does not).
set -- $cc
if [ $# -eq 0 ] || ! command -v "$1" >/dev/null 2>&1; then
	case ${1:-cc} in
	cc | gcc | c99) need "a C compiler (${1:-cc})" build-essential ;;
	*)
		missing="$missing$nl  the C compiler named by CC ($cc):"
		missing="$missing install it, or build with make CC=cc"
		;;
	esac
else
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/afprereq.XXXXXX") || exit 1
	printf '#include <stdio.h>\nint main(void) { return 0; }\n' \
	    >"$tmp/t.c"
	if ! $cc -o "$tmp/t" "$tmp/t.c" >"$tmp/log" 2>&1; then
		need "a C compiler that builds programs ($cc: $(head -n 1 \
		    "$tmp/log"))" build-essential
	fi
	rm -rf "$tmp"
fi
command -v ar >/dev/null 2>&1 || need "ar" binutils
command -v protoc-c >/dev/null 2>&1 || need "protoc-c" protobuf-c-compiler

# The libraries, through their pkg-config files.
if ! command -v "$pkgconfig" >/dev/null 2>&1; then
	need "$pkgconfig (the libraries could not be checked without it)" \
	    pkg-config
else
	libs="libevent:libevent-dev lmdb:liblmdb-dev"
	libs="$libs libprotobuf-c:libprotobuf-c-dev jansson:libjansson-dev"
	[ "$what" = test ] && libs="$libs check:check"
	for l in $libs; do
		if ! "$pkgconfig" --exists "${l%%:*}" 2>/dev/null; then
			need "${l%%:*}.pc, the library for pkg-config" "${l#*:}"
		fi
	done
fi

[ -z "$missing" ] && exit 0
if [ "$what" = test ]; then
	target="make check"
else
	target=make
fi
{
	echo "asyncflowd: cannot build ($what): missing$missing"
	if [ -n "$pkgs" ]; then
		echo "Install them with:"
		echo "  apt-get install$pkgs"
	fi
	echo "or install everything \`$target\` needs (as root):" \
	    "sh scripts/install-deps.sh $what"
} >&2
exit 1
