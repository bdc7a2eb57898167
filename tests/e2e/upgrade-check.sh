# asyncflowctl upgrade --check and replay (issue 9, items 2 and 6) through a
# real daemon, store and modules. A store with a few thousand activations
# in different states (waiting, Failed, on a durable timer, Done) is
# checked against: the example module's compatible v3 (ok, exit 0), its
# v2 that diverges at a known index (every `order` named, index 0, the
# Failed diagnostic, exit 3), a module whose flows run away or crash on
# replay only (verdicts runaway and crashed, every other activation still
# checked, the live daemon unaffected), and a set without a flow
# (flow-missing). Also: the check writes nothing, relative paths, replay
# of one activation, a second upgrade while one runs (EBUSY) and usage
# errors. The module is tests/modules/replayhaz.c, built here.
# run-tests: start early
set -eu
. tests/e2e/lib.inc
CC=${CC:-cc}
M=$B/modules
build() {
	out=$1
	shift
	$CC -shared -fPIC -Iinclude "$@" -o "$WORK/$out" \
	    tests/modules/replayhaz.c || fail "building $out"
}
build haz-safe.so -DREPLAYHAZ_SAFE
build haz-drift.so -DREPLAYHAZ_SAFE -DREPLAYHAZ_DRIFT
build haz.so
build haz-gate.so -DREPLAYHAZ_SAFE -DREPLAYHAZ_GATE
N=2000
LIMIT=1000
# waiting A WHAT: A waits (Running in memory, or Sleeping out of it: past
# the first 1,000 a start replays, they sleep until an event needs them).
waiting() {
	case $(state_of "$1") in
	Running | Sleeping) ;;
	*) fail "$2: $(state_of "$1")" ;;
	esac
}
start_daemon --durability none --turn-limit $LIMIT \
    --module "$M/example-v1.so" --module "$WORK/haz-safe.so"
mkvow
APPROVAL=$VOW
set -- $("$B/tests/startmany" "$SOCK" order approval "$APPROVAL" $N)
FIRST=$1
LAST=$2
mkvow
GO=$VOW
set -- $("$B/tests/startmany" "$SOCK" calm go "$GO" 20)
CALM1=$1
SPIN=$(ctl start spin "{\"go\":{\"@vow\":$GO}}" | jq -r .activation)
BOOM=$(ctl start boom "{\"go\":{\"@vow\":$GO}}" | jq -r .activation)
GATE=$(ctl start gate "{\"go\":{\"@vow\":$GO},\"gate\":\"$WORK/gate\"}" |
    jq -r .activation)
NAP=$(ctl start nap '{"ms": 86400000}' | jq -r .activation)
mkvow
DONE=$(ctl start order "{\"approval\":{\"@vow\":$VOW}}" | jq -r .activation)
ctl settle "$VOW" --resolver "$RES" '"yes"' >/dev/null
ctl mkvow >/dev/null # a later pass: the settle's delivery is committed
expect "done" "$(state_of "$DONE")" Done
stop_daemon

# A restart with the drifted `calm` fails the upgrade check: refused
# (each calm named), then forced. Under it the 20 calm activations are
# Failed (and stay so while this code runs); the others wait.
refused '"flow": "calm", "verdict": "diverged"' --durability none \
    --module "$M/example-v1.so" --module "$WORK/haz-drift.so"
expect "refusal names 20" "$(grep -o '"flow": "calm"' "$WORK/err" | wc -l)" 20
start_daemon --durability none --turn-limit $LIMIT --force-upgrade \
    --module "$M/example-v1.so" --module "$WORK/haz-drift.so"
expect "failed" "$(ctl failures | jq length)" 20
expect "calm failed" "$(state_of "$CALM1")" Failed
TOTAL=$((N + 20 + 4))
ENTRIES=$((2 * (N + 20 + 3) + 2))

ctl journal "$FIRST" | jq -c . >"$WORK/journal.before"
sum_before=$(cksum <"$DIR/data.mdb")

# check CTL-ARGS...: run the check; sets OUT and RC.
check() {
	RC=0
	OUT=$($CTL upgrade --check "$@" 2>"$WORK/check.err") || RC=$?
}

# Compatible: v3 and the safe module. Failed ones pass too.
check --module "$M/example-v3.so" --module "$WORK/haz-safe.so"
expect "v3 exit" "$RC" 0
expect "v3 ok" "$(echo "$OUT" | jq -c '[.ok, .activations, .entries, .failing]')" \
    "[true,$TOTAL,$ENTRIES,[]]"
echo "$OUT" | jq -e '.seconds >= 0' >/dev/null || fail "no seconds: $OUT"

# Divergent: v2 records step 2 first; every order is named at index 0.
check --module "$M/example-v2.so" --module "$WORK/haz-safe.so"
expect "v2 exit" "$RC" 3
expect "v2 ok" "$(echo "$OUT" | jq .ok)" false
expect "v2 activations" "$(echo "$OUT" | jq .activations)" "$TOTAL"
expect "v2 failing" "$(echo "$OUT" | jq '.failing | length')" "$N"
expect "v2 verdicts" "$(echo "$OUT" |
    jq -c '[.failing[] | [.flow, .verdict, .index]] | unique')" \
    '[["order","diverged",0]]'
expect "v2 first, last" "$(echo "$OUT" |
    jq -c '[.failing[0].activation, .failing[-1].activation]')" \
    "[$FIRST,$LAST]"
echo "$OUT" | jq -r '.failing[0].diagnostic' | grep -q \
    'replay diverged at journal index 0: expected checkCall(ledger.record, {"step":1}, #0); the flow attempted checkCall(ledger.record, {"step":2}, #0); first difference at args.step' ||
	fail "v2 diagnostic: $(echo "$OUT" | jq -r '.failing[0].diagnostic')"

# Relative paths are resolved by asyncflowctl.
(cd "$WORK" && RC=0 && $CTL upgrade --check --module haz-safe.so \
    --module "$M/example-v3.so" >"$WORK/rel.out") ||
	fail "relative --module: $(cat "$WORK/check.err")"
expect "relative" "$(jq .ok "$WORK/rel.out")" true

# Runaway and crash on replay only: verdicts, the rest still checked.
RC=0
$CTL upgrade --check --module "$M/example-v1.so" --module "$WORK/haz.so" \
    >"$WORK/check.out" 2>"$WORK/check.err" || RC=$?
OUT=$(cat "$WORK/check.out")
expect "haz exit" "$RC" 3
expect "haz activations" "$(echo "$OUT" | jq .activations)" "$TOTAL"
expect "haz verdicts" "$(echo "$OUT" |
    jq -c '[.failing[] | [.activation, .flow, .verdict]]')" \
    "[[$SPIN,\"spin\",\"runaway\"],[$BOOM,\"boom\",\"crashed\"]]"
echo "$OUT" | jq -r '.failing[0].diagnostic' | grep -q "turn limit ($LIMIT ms)" ||
	fail "runaway diagnostic: $OUT"
# A SIGSEGV kills the checker's worker (signal 11); under AddressSanitizer
# its handler reports the fault and exits 1 instead.
crash_how="signal 11"
if ldd "$B/asyncflowd" | grep -q libasan; then
	crash_how="exit status 1"
fi
echo "$OUT" | jq -r '.failing[1].diagnostic' | grep -q "$crash_how" ||
	fail "crash diagnostic: $OUT"
# The live daemon was not touched: same states, same journal.
for a in "$SPIN" "$BOOM" "$NAP"; do
	waiting "$a" "$a live"
done
expect "failed live" "$(ctl failures | jq length)" 20

# A set without the module: its flows are missing.
check --module "$M/example-v3.so"
expect "missing exit" "$RC" 3
expect "missing" "$(echo "$OUT" |
    jq -c '[.failing[] | .verdict] | unique')" '["flow-missing"]'
expect "missing count" "$(echo "$OUT" | jq '.failing | length')" 23
echo "$OUT" | jq -r '.failing[0].diagnostic' | grep -q "flow calm not registered" ||
	fail "missing diagnostic: $OUT"

# replay: one activation, entry by entry, up to the divergence.
RC=0
OUT=$($CTL replay "$FIRST" --module "$M/example-v2.so") || RC=$?
expect "replay exit" "$RC" 3
expect "replay" "$(echo "$OUT" | jq -c '[.activation, .verdict, .index,
    (.entries | length), .entries[0].entry]')" \
    "[$FIRST,\"diverged\",0,1,\"checkCall(ledger.record, {\\\"step\\\":1}, #0)\"]"
OUT=$(ctl replay "$FIRST" --module "$M/example-v3.so")
expect "replay ok" "$(echo "$OUT" | jq -c '[.verdict,
    [.entries[] | .guest] ]')" \
    '["ok",["replayed: the same","replayed: the same"]]'
RC=0
$CTL replay "$DONE" --module "$M/example-v3.so" >/dev/null 2>"$WORK/e" ||
	RC=$?
expect "replay done exit" "$RC" 1
grep -q ESTATE "$WORK/e" || fail "replay of a Done one: $(cat "$WORK/e")"

# Nothing was written by any of it.
expect "journal unchanged" "$(ctl journal "$FIRST" | jq -c .)" \
    "$(cat "$WORK/journal.before")"
expect "store unchanged" "$(cksum <"$DIR/data.mdb")" "$sum_before"

# Bad input: usage errors (2) before anything is sent, errors (1).
for args in "upgrade --check" "upgrade --check --force --module $M/example-v3.so" \
    "replay $FIRST" "replay --module $M/example-v3.so"; do
	RC=0
	# shellcheck disable=SC2086
	$CTL $args >/dev/null 2>"$WORK/e" || RC=$?
	expect "usage: $args" "$RC" 2
done
RC=0
$CTL upgrade --check --module "$WORK/nonexistent.so" >/dev/null \
    2>"$WORK/e" || RC=$?
expect "missing file exit" "$RC" 1
grep -q "nonexistent.so" "$WORK/e" || fail "missing file: $(cat "$WORK/e")"
RC=0
$CTL upgrade --check --module "$DIR/data.mdb" >/dev/null 2>"$WORK/e" ||
	RC=$?
expect "not a module exit" "$RC" 1
grep -q "EINVAL: module .*data.mdb: cannot load it" "$WORK/e" ||
	fail "not a module: $(cat "$WORK/e")"
# While a check runs, a second upgrade is refused (EBUSY) and the daemon
# answers. The gate holds the check until the file exists; the daemon
# is restarted (the same set: no check) with a turn limit longer than
# the test, so that the gate is not a runaway.
stop_daemon
start_daemon --durability none --turn-limit 600000 \
    --module "$M/example-v1.so" --module "$WORK/haz-drift.so"
before=$(grep -c "upgrade check of 2 module" "$WORK/daemon.log")
$CTL upgrade --check --module "$M/example-v1.so" --module "$WORK/haz-gate.so" \
    >"$WORK/gate.out" 2>"$WORK/gate.err" &
CHECK_PID=$!
echo "$CHECK_PID" >"$WORK/check.pid"
wait_until "the check to start" sh -c "[ \$(grep -c 'upgrade check of 2 module' \
    $WORK/daemon.log) -gt $before ]"
RC=0
$CTL upgrade --check --module "$M/example-v3.so" >/dev/null \
    2>"$WORK/busy.err" || RC=$?
expect "busy exit" "$RC" 1
grep -q EBUSY "$WORK/busy.err" || fail "no EBUSY: $(cat "$WORK/busy.err")"
waiting "$SPIN" "live while checking"
touch "$WORK/gate"
RC=0
wait "$CHECK_PID" || RC=$?
rm -f "$WORK/check.pid"
expect "gate exit" "$RC" 0
expect "gate ok" "$(jq -c '[.ok, .activations]' "$WORK/gate.out")" "[true,$TOTAL]"

stop_daemon
