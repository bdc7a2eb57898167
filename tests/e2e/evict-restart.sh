# run-tests: start early
# A restart with 100,000 waiting activations (issue 8): the daemon answers
# with every activation beyond the resident budget still out of memory
# (the counters say so, not a clock), and one settlement that all of them
# wait on replays each on demand and finishes it.
set -eu
. tests/e2e/lib.inc
M=$B/tests/manystart
[ -x "$M" ] || fail "$M not built"
N=100000
BUDGET=1000

stat() { ctl stats | jq -r ".$1"; }
start_daemon --durability none --max-resident $BUDGET
mkvow
"$M" "$SOCK" $N "$VOW" || fail "starting $N activations"
expect "resident after the starts" "$(stat resident)" $BUDGET
expect "asleep after the starts" "$(stat sleeping)" $((N - BUDGET))
stop_daemon
start_daemon --durability none --max-resident $BUDGET
ctl stats >"$WORK/first.json"
# The first answer: at most the budget was replayed; the rest sleep.
expect "asleep at the first answer" "$(jq .sleeping "$WORK/first.json")" \
    $((N - BUDGET))
[ "$(jq .replays_on_demand "$WORK/first.json")" -eq 0 ] ||
	fail "replays on demand before any event"
expect "nothing evicted yet" "$(jq .evictions "$WORK/first.json")" 0
ctl settle "$VOW" --resolver "$RES" '"go"' >/dev/null
done_all() { [ "$(stat sleeping)" -eq 0 ] && [ "$(stat resident)" -eq 0 ]; }
wait_until "every activation Done" done_all
expect "replayed on demand" "$(stat replays_on_demand)" $((N - BUDGET))
expect "none Failed" "$(stat failed)" 0
expect "Done" "$(ctl ls --state Done --limit 1 | jq length)" 1
stop_daemon
