# Durable timers: one due while the daemon is down fires at start; one
# pending across a clean restart fires when due.
set -eu
. tests/e2e/lib.inc
start_daemon
o1=$(ctl start nap '{"ms":800}' | jq -r '.outcome["@vow"]')
o2=$(ctl start nap '{"ms":3000}' | jq -r '.outcome["@vow"]')
expect "timers" "$(ctl stats | jq .timers_pending)" 2
kill9_daemon
sleep 1.2     # the first comes due while the daemon is down
start_daemon
expect "due while down" "$(ctl vow "$o1" --wait --timeout 10 | jq -c .value)" 800
expect "not yet" "$(ctl vow "$o2" | jq -r .state)" pending
stop_daemon
start_daemon
expect "after restart" "$(ctl vow "$o2" --wait --timeout 10 | jq -c .value)" 3000
expect "no timers" "$(ctl stats | jq .timers_pending)" 0
stop_daemon
