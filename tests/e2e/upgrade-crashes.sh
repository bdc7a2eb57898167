# Many crashes in one upgrade check: 150 activations whose flow crashes on
# replay only (tests/modules/replayhaz.c's boom). Each crash ends a checker
# process with a read transaction open, so it dies holding a slot of
# LMDB's reader table (126 of them by default); the checker started after
# it must not find the table full. Every one gets its verdict "crashed",
# and the live daemon is unaffected.
set -eu
. tests/e2e/lib.inc
CC=${CC:-cc}
$CC -shared -fPIC -Iinclude -DREPLAYHAZ_SAFE -o "$WORK/haz-safe.so" \
    tests/modules/replayhaz.c || fail "building haz-safe.so"
$CC -shared -fPIC -Iinclude -o "$WORK/haz.so" tests/modules/replayhaz.c ||
	fail "building haz.so"
N=150
start_daemon --durability none --module "$WORK/haz-safe.so"
mkvow
set -- $("$B/tests/startmany" "$SOCK" boom go "$VOW" $N)
FIRST=$1
RC=0
$CTL upgrade --check --module "$WORK/haz.so" >"$WORK/check.out" \
    2>"$WORK/check.err" || RC=$?
expect "exit" "$RC" 3
OUT=$(cat "$WORK/check.out")
expect "activations" "$(echo "$OUT" | jq .activations)" "$N"
expect "crashed" "$(echo "$OUT" |
    jq '[.failing[] | select(.verdict == "crashed")] | length')" "$N"
expect "live" "$(state_of "$FIRST")" Running
stop_daemon
echo "upgrade-crashes: $N crashed verdicts, one checker after another"
