# The manual pages (man/*.[1-8]) are well-formed and complete: mandoc -T
# lint finds no warning (and man --warnings, which renders with groff,
# none either, where man-db is installed), every command and option that
# asyncflowctl --help, each command's --help and asyncflowd --help print is
# documented, asyncflowctl.1 has the exit codes of client/ctl/ctl.h, and
# asyncflow-flow.3 names every function flow.h declares.
# Not here: what the pages say being true (the other tests test that).
set -eu
. tests/e2e/lib.inc

command -v mandoc >/dev/null 2>&1 ||
	skip "mandoc not installed (apt-get install mandoc)"
pages=$(ls man/*.[1-8])
[ -n "$pages" ] || fail "no manual pages in man/"

# Lint: any message at level warning or above is a failure.
# shellcheck disable=SC2086
mandoc -T lint -W warning $pages >"$WORK/lint" 2>&1 ||
	{ cat "$WORK/lint"; fail "mandoc -T lint: warnings (above)"; }
[ ! -s "$WORK/lint" ] || { cat "$WORK/lint"; fail "mandoc -T lint: output"; }

# The same pages through groff, as man shows them on Debian.
if command -v man >/dev/null 2>&1 && command -v groff >/dev/null 2>&1; then
	for p in $pages; do
		MANWIDTH=80 man --warnings -E UTF-8 -l "$p" >/dev/null \
		    2>"$WORK/groff" || fail "man -l $p failed"
		[ ! -s "$WORK/groff" ] ||
			{ cat "$WORK/groff"; fail "man --warnings $p"; }
	done
fi

# documented PAGE WORDS...: each "word" appears in PAGE as a macro argument
# (Cm NAME for a command, Fl for an option: "--name" is "Fl Fl name").
documented() {
	page=$1
	shift
	for w in "$@"; do
		case $w in
		--*) pat="Fl Fl ${w#--}" ;;
		-?) pat="Fl ${w#-}" ;;
		*) pat="Cm $w" ;;
		esac
		grep -Eq "(^|[ .])$pat([ ,]|\$)" "$page" ||
			fail "$page does not document $w (no \"$pat\")"
	done
}

# asyncflowctl: the commands of --help, the options of its usage, and the
# options of every command's --help.
"$B/asyncflowctl" --help >"$WORK/ctl-help" || fail "asyncflowctl --help"
cmds=$(sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\).*/\1/p' \
    "$WORK/ctl-help" | sort -u)
[ -n "$cmds" ] || fail "no commands found in asyncflowctl --help"
documented man/asyncflowctl.1 $cmds
opts=$(sed -n '1,/^Commands:/p' "$WORK/ctl-help" |
    grep -o -- '\(^\| \|\[\)--*[a-z][a-z-]*' | sed 's/^[ []*//' | sort -u)
documented man/asyncflowctl.1 $opts
for c in $cmds; do
	"$B/asyncflowctl" "$c" --help >"$WORK/cmd-help" ||
		fail "asyncflowctl $c --help"
	opts=$(grep -o -- '[ [|]--*[a-z][a-z-]*' "$WORK/cmd-help" |
	    sed 's/^[ [|]//' | sort -u)
	documented man/asyncflowctl.1 $opts
done

# The exit codes: 0, 1 and EXIT_USAGE in the EXIT STATUS section.
usage_code=$(sed -n 's/^#define EXIT_USAGE *\([0-9]*\).*/\1/p' \
    client/ctl/ctl.h)
[ -n "$usage_code" ] || fail "EXIT_USAGE not found in client/ctl/ctl.h"
sed -n '/^\.Sh EXIT STATUS/,/^\.Sh /p' man/asyncflowctl.1 >"$WORK/exit"
for code in 0 1 "$usage_code"; do
	grep -q "^\.It $code\$" "$WORK/exit" ||
		fail "asyncflowctl.1: EXIT STATUS does not list $code"
done

# asyncflowd: every option of --help.
"$B/asyncflowd" --help >"$WORK/d-help" || fail "asyncflowd --help"
opts=$(grep -o -- '\(^\| \|\[\)--*[a-z][a-z-]*' "$WORK/d-help" |
    sed 's/^[ []*//' | sort -u)
[ -n "$opts" ] || fail "no options found in asyncflowd --help"
documented man/asyncflowd.8 $opts
grep -q '^\.Sh EXIT STATUS' man/asyncflowd.8 ||
	fail "asyncflowd.8 has no EXIT STATUS section"

# asyncflow-flow.3: every function flow.h and errors.h declare.
fns=$(grep -hv '^typedef' include/asyncflow/flow.h include/asyncflow/errors.h |
    sed -n 's/^.*[ *]\(af_[a-z_]*\)(.*/\1/p' | sort -u)
[ -n "$fns" ] || fail "no functions found in flow.h"
for fn in $fns; do
	grep -Eq "^\.(Fn|Fo) $fn( |\$)" man/asyncflow-flow.3 ||
		fail "asyncflow-flow.3 does not declare $fn"
done
echo "manpages: ok ($(echo $pages | wc -w) pages," \
    "$(echo $cmds | wc -w) commands, $(echo $fns | wc -w) functions)"
