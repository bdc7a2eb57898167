# Durable timers: one due while the daemon is down fires at start; one
# pending across a clean restart fires when due, not before. Journals are
# kept (--retain-journals) to read which incarnation fired a timer: the
# checks read what happened instead of racing the clock.
set -eu
. tests/e2e/lib.inc
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# fired_by A: the incarnations that fired activation A's timer.
fired_by() {
	ctl journal "$1" | jq -c '[.[] | select(.kind == "doFulfill") | .incarnation]'
}
start_daemon --retain-journals
# Ten minutes: pending at every check below however slow the machine is.
o3=$(ctl start nap '{"ms":600000}' | jq -r '.outcome["@vow"]')
expect "timers" "$(ctl stats | jq .timers_pending)" 1
ctl start nap '{"ms":2000}' >"$WORK/n1"
kill9_daemon
sleep 2.2     # the 2000 ms timer comes due while the daemon is down
start_daemon --retain-journals
o1=$(jq -r '.outcome["@vow"]' "$WORK/n1")
expect "due while down" "$(ctl vow "$o1" --wait --timeout 10 | jq -c .value)" 2000
expect "fired at start" "$(fired_by "$(jq -r .activation "$WORK/n1")")" "[2]"
expect "not yet" "$(ctl vow "$o3" | jq -r .state)" pending
t0=$(now_ms)
ctl start nap '{"ms":3000}' >"$WORK/n2"
stop_daemon
start_daemon --retain-journals
o2=$(jq -r '.outcome["@vow"]' "$WORK/n2")
expect "after restart" "$(ctl vow "$o2" --wait --timeout 10 | jq -c .value)" 3000
expect "fired after restart" "$(fired_by "$(jq -r .activation "$WORK/n2")")" "[3]"
# Not before it was due: 3000 ms after a moment that preceded its start.
[ $(($(now_ms) - t0)) -ge 3000 ] || fail "the 3000 ms timer fired early"
expect "still pending" "$(ctl vow "$o3" | jq -r .state)" pending
expect "one timer left" "$(ctl stats | jq .timers_pending)" 1
stop_daemon
