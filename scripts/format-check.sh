#!/bin/sh
# Checks that every C source and header of the tree is formatted as
# .clang-format says: lists the files clang-format would change and exits 1,
# or prints nothing and exits 0. It never rewrites a file; to see what would
# change in one, run `clang-format --style=file FILE | diff FILE -`.
#
# The style file is written for clang-format 14 (Debian 12's); other major
# versions format some constructs differently, so another version is refused
# unless CLANG_FORMAT names the program to use anyway. A missing clang-format
# is a failure, not a skip: CI must run this check.
# Usage: format-check.sh [FILE...]   (default: every .c and .h in git)
set -u
cd "$(dirname "$0")/.." || exit 2

cf=${CLANG_FORMAT:-}
if [ -z "$cf" ]; then
	for c in clang-format-14 clang-format; do
		if command -v "$c" >/dev/null 2>&1; then
			cf=$c
			break
		fi
	done
	if [ -z "$cf" ]; then
		echo "format-check: clang-format not found; on Debian:" \
		    "apt-get install clang-format (version 14, as in Debian 12)" >&2
		exit 2
	fi
	v=$("$cf" --version | sed -n 's/.*version \([0-9][0-9]*\)\..*/\1/p')
	if [ "$v" != 14 ]; then
		echo "format-check: $cf is version ${v:-unknown}, .clang-format" \
		    "is written for 14 (set CLANG_FORMAT=$cf to use it anyway)" >&2
		exit 2
	fi
elif ! command -v "$cf" >/dev/null 2>&1; then
	echo "format-check: CLANG_FORMAT=$cf not found" >&2
	exit 2
fi

if [ $# -eq 0 ]; then
	set -- $(git ls-files -- 'bench/*.[ch]' 'client/*.[ch]' \
	    'common/*.[ch]' 'daemon/*.[ch]' 'include/*.[ch]' \
	    'modules/*.[ch]' 'tests/*.[ch]')
fi

bad=0
for f in "$@"; do
	if ! "$cf" --style=file "$f" | cmp -s "$f" -; then
		echo "$f"
		bad=$((bad + 1))
	fi
done
if [ "$bad" -ne 0 ]; then
	echo "format-check: $bad file(s) differ from .clang-format" >&2
	exit 1
fi
exit 0
