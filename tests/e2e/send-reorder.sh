# A divergent reordering of two sends is detected on replay.
set -eu
. tests/e2e/lib.inc
M=$B/modules
start_daemon --module "$M/example-v1.so"
ACT=$(ctl start pair '{"n":1}' | jq -r .activation)
stop_daemon
# v2 fails the upgrade check at a restart: refused, naming the sends;
# forced, the replay detects the same.
refused "expected checkSend(notify.first" --module "$M/example-v2.so"
start_daemon --force-upgrade --module "$M/example-v2.so"
expect "state" "$(state_of "$ACT")" Failed
ctl show "$ACT" | jq -r .failure | grep -q "expected checkSend(notify.first" ||
	fail "diagnostic: $(ctl show "$ACT" | jq -r .failure)"
ctl show "$ACT" | jq -r .failure | grep -q "attempted checkSend(notify.second" ||
	fail "diagnostic: $(ctl show "$ACT" | jq -r .failure)"
# Nothing was re-sent by the failed replay: still the two from v1.
expect "invocations" "$(ctl stats | jq .invocations_pending)" 2
stop_daemon
