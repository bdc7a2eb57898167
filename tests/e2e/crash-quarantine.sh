# A flow that segfaults the daemon is recorded, quarantined (Failed) at the
# next start, the daemon serves on; fixed code and `wake` finish it.
set -eu
. tests/e2e/lib.inc
M=$B/modules
start_daemon --module "$M/example-v1.so"
mkvow
out=$(ctl start crash "{\"after\":{\"@vow\":$VOW},\"crash\":true}")
ACT=$(echo "$out" | jq -r .activation)
OUT=$(echo "$out" | jq -r '.outcome["@vow"]')
# This settle wakes the flow, which crashes the daemon before the commit.
if $CTL settle "$VOW" --resolver "$RES" 1 >/dev/null 2>&1; then
	fail "settle acknowledged although the daemon crashed in its pass"
fi
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=
start_daemon --module "$M/example-v1.so"
expect "state" "$(state_of "$ACT")" Failed
ctl show "$ACT" | jq -r .failure | grep -q "crashed the daemon" ||
	fail "no crash diagnostic: $(ctl show "$ACT")"
# Serving: other flows run, and the retried settle is accepted.
a=$(ctl start echo 5 | jq -r .activation)
expect "echo" "$(state_of "$a")" Done
ctl settle "$VOW" --resolver "$RES" 1 >/dev/null
expect "still quarantined" "$(state_of "$ACT")" Failed
# Quarantine holds across restarts with the same code: no crash loop.
stop_daemon
start_daemon --module "$M/example-v1.so"
expect "quarantined after restart" "$(state_of "$ACT")" Failed
stop_daemon
# Fixed code, and an explicit wake, finish it.
start_daemon --module "$M/example-v3.so"
expect "not replayed by itself" "$(state_of "$ACT")" Failed
ctl wake "$ACT" >/dev/null
expect "outcome" "$(ctl vow "$OUT" --wait --timeout 10 | jq -c .value)" '"fixed"'
stop_daemon

# A stack overflow into the coroutine's guard page is recorded the same way.
start_daemon --module "$M/example-v1.so"
mkvow
ACT=$(ctl start crash "{\"after\":{\"@vow\":$VOW},\"crash\":true,\"overflow\":true}" |
    jq -r .activation)
$CTL settle "$VOW" --resolver "$RES" 1 >/dev/null 2>&1 || true
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=
start_daemon --module "$M/example-v1.so"
expect "overflow quarantined" "$(state_of "$ACT")" Failed
ctl show "$ACT" | jq -r .failure | grep -q "signal 11" ||
	fail "no crash diagnostic: $(ctl show "$ACT")"
stop_daemon
