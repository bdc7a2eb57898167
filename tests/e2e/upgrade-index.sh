# upgrade-index.sh: `upgrade --check` and `replay` say where in the journal
# the new code crashed or ran away (issue 10's rest, item 4), as they do
# for a divergence: "index" is the journal index of the last entry the
# replay read before it, absent when it had read none. The module is
# tests/modules/crashat.c: `crashat` crashes and `spinat` runs away just
# before step K (each step a checkCall and a doReturn), so after reading
# entry 2K - 1; replayhaz.c's `boom` crashes before reading anything.
set -eu
. tests/e2e/lib.inc
command -v jq >/dev/null || skip "no jq"
CC=${CC:-cc}
for v in safe bad; do
	def=
	[ $v = safe ] && def="-DCRASHAT_SAFE -DREPLAYHAZ_SAFE"
	# shellcheck disable=SC2086
	$CC -shared -fPIC -Iinclude $def -o "$WORK/crashat-$v.so" \
	    tests/modules/crashat.c || fail "building crashat-$v.so"
	# shellcheck disable=SC2086
	$CC -shared -fPIC -Iinclude $def -o "$WORK/haz-$v.so" \
	    tests/modules/replayhaz.c || fail "building haz-$v.so"
done
LIMIT=500
start_daemon --durability none --turn-limit $LIMIT \
    --module "$WORK/crashat-safe.so" --module "$WORK/haz-safe.so"
mkvow
C=$(ctl start crashat "{\"n\":5,\"at\":3,\"go\":{\"@vow\":$VOW}}" |
    jq -r .activation)
S=$(ctl start spinat "{\"n\":4,\"at\":2,\"go\":{\"@vow\":$VOW}}" |
    jq -r .activation)
B=$(ctl start boom "{\"go\":{\"@vow\":$VOW}}" | jq -r .activation)
expect "crashat journal" "$(ctl journal "$C" | jq -c '[.[5].kind, length]')" \
    '["doReturn",10]'

RC=0
$CTL upgrade --check --module "$WORK/crashat-bad.so" \
    --module "$WORK/haz-bad.so" >"$WORK/check.out" 2>"$WORK/check.err" ||
	RC=$?
expect "exit" "$RC" 3
expect "verdicts" "$(jq -c '[.failing[] | [.activation, .verdict, .index]]' \
    "$WORK/check.out")" \
    "[[$C,\"crashed\",5],[$S,\"runaway\",3],[$B,\"crashed\",null]]"
jq -e '.failing[2] | has("index") | not' "$WORK/check.out" >/dev/null ||
	fail "boom read no entry: $(cat "$WORK/check.out")"

# replay of one: the same index.
for a in "$C crashed 5" "$S runaway 3"; do
	set -- $a
	RC=0
	$CTL replay "$1" --module "$WORK/crashat-bad.so" \
	    --module "$WORK/haz-bad.so" >"$WORK/replay.out" || RC=$?
	expect "replay exit $1" "$RC" 3
	expect "replay $1" "$(jq -c '[.verdict, .index]' "$WORK/replay.out")" \
	    "[\"$2\",$3]"
done
expect "live" "$(state_of "$C")" Running
stop_daemon
echo "upgrade-index: ok"
