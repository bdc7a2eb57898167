# runaway.sh: a flow that loops for ever after a durable timer fires (or
# after a settle) must not wedge the daemon (issue 9). Past --turn-limit
# the watchdog quarantines it ("ran away"), logs a line naming it, and the
# daemon restarts itself (same PID) and serves everyone else; SIGTERM
# during a runaway still ends the daemon.
set -eu
. tests/e2e/lib.inc
M=$B/modules
# is_failed ACT: the daemon answers, and ACT is Failed.
is_failed() {
	[ "$($CTL show "$1" 2>/dev/null | jq -r .state 2>/dev/null)" = Failed ]
}
start_daemon --module "$M/hazards.so" --turn-limit 1000
PID=$DAEMON_PID
mkvow
V2=$VOW R2=$RES
out=$(ctl start wait "{\"after\":{\"@vow\":$V2},\"value\":\"served\"}")
BYSTANDER=$(echo "$out" | jq -r .activation)
BOUT=$(echo "$out" | jq -r '.outcome["@vow"]')
# The timer fires in the daemon, the flow runs away in that pass.
ACT=$(ctl start spin "{\"sleep\":100,\"marker\":\"$WORK/spin1\"}" |
    jq -r .activation)
wait_for_file "$WORK/spin1"
# The daemon answers again: a later incarnation, same process.
wait_until "the daemon to answer again" is_failed "$ACT"
expect "same pid" "$(kill -0 "$PID" && echo alive)" alive
ctl show "$ACT" | jq -r .failure | grep -q "ran away" ||
    fail "no runaway diagnostic: $(ctl show "$ACT")"
grep -q "activation $ACT ran away" "$WORK/daemon.log" ||
    fail "no log line naming activation $ACT"
# Everyone else is served: the bystander, and new work.
ctl settle "$V2" --resolver "$R2" 1 >/dev/null
expect "bystander" "$(ctl vow "$BOUT" --wait --timeout 10 | jq -c .value)" \
    '"served"'
a=$(ctl start echo 5 | jq -r .activation)
expect "echo" "$(state_of "$a")" Done

# The same after a settle; and it stays quarantined across a restart.
mkvow
ACT2=$(ctl start spin "{\"after\":{\"@vow\":$VOW},\"marker\":\"$WORK/spin2\"}" |
    jq -r .activation)
$CTL settle "$VOW" --resolver "$RES" 1 >/dev/null 2>&1 || true
wait_until "the second runaway to be quarantined" is_failed "$ACT2"
ctl show "$ACT2" | jq -r .failure | grep -q "ran away" ||
    fail "no runaway diagnostic: $(ctl show "$ACT2")"
stop_daemon
start_daemon --module "$M/hazards.so" --turn-limit 1000
expect "still quarantined" "$(state_of "$ACT2")" Failed
a=$(ctl start echo 6 | jq -r .activation)
expect "echo after restart" "$(state_of "$a")" Done

# A turn stopped while it holds stdio's lock on stderr (a flow that loops
# printing can be): the watchdog's log line and its restart must not wait
# for that lock, or the daemon is wedged for good.
mkvow
ACT3=$(ctl start spin "{\"after\":{\"@vow\":$VOW},\"hold_stderr\":true,\"marker\":\"$WORK/spin4\"}" |
    jq -r .activation)
# Each request in a bounded time (timeout ends only the client it started):
# a wedged daemon would never answer, and the test must fail, not hang.
timeout 30 $CTL settle "$VOW" --resolver "$RES" 1 >/dev/null 2>&1 || true
give_up=$(($(date +%s) + 60))
until [ "$(timeout 3 $CTL show "$ACT3" 2>/dev/null | jq -r .state 2>/dev/null)" = Failed ]; do
	[ "$(date +%s)" -gt $give_up ] &&
	    fail "wedged: a runaway holding stderr's lock was not quarantined"
	sleep 0.05
done
grep -q "activation $ACT3 ran away" "$WORK/daemon.log" ||
    fail "no log line naming activation $ACT3"
a=$(ctl start echo 7 | jq -r .activation)
expect "echo after the stuck stderr" "$(state_of "$a")" Done
stop_daemon

# SIGTERM while a flow runs away (a limit far away, so that it is the
# signal that ends the daemon, not the watchdog's restart).
start_daemon --module "$M/hazards.so" --turn-limit 600000
mkvow
ctl start spin "{\"after\":{\"@vow\":$VOW},\"marker\":\"$WORK/spin3\"}" >/dev/null
$CTL settle "$VOW" --resolver "$RES" 1 >/dev/null 2>&1 &
echo $! >"$WORK/settle.pid"
wait_for_file "$WORK/spin3"
kill -TERM "$DAEMON_PID"
# Its exit, by PID, within 5 s.
i=0
while kill -0 "$DAEMON_PID" 2>/dev/null &&
    [ "$(ps -o stat= -p "$DAEMON_PID" 2>/dev/null | cut -c1)" != Z ]; do
	i=$((i + 1))
	[ $i -gt 100 ] && fail "SIGTERM did not end a daemon whose flow ran away"
	sleep 0.05
done
wait "$DAEMON_PID" || fail "the daemon did not exit 0 on SIGTERM"
DAEMON_PID=
wait "$(cat "$WORK/settle.pid")" 2>/dev/null || true
rm -f "$WORK/settle.pid"
grep -q "kept the daemon from stopping" "$WORK/daemon.log" ||
    fail "no log line about the turn that kept the daemon from stopping"

# The restart loads the modules the data directory keeps, not the files
# given with --module: with that file gone (or replaced) since the start,
# the restarted daemon still serves, with the same code.
rm -rf "$DIR"
cp "$M/hazards.so" "$WORK/gone.so"
start_daemon --module "$WORK/gone.so" --turn-limit 1000
rm "$WORK/gone.so"
ACT=$(ctl start spin "{\"sleep\":100,\"marker\":\"$WORK/spin4\"}" |
    jq -r .activation)
wait_for_file "$WORK/spin4"
wait_until "the daemon to answer after the module file went" is_failed "$ACT"
a=$(ctl start echo 7 | jq -r .activation)
expect "echo after a restart without the module file" "$(state_of "$a")" Done
stop_daemon

# Under systemd (sdharness plays it) the restarted daemon still reaches
# $NOTIFY_SOCKET: READY=1 again once it answers, STOPPING=1 at the end.
rm -rf "$DIR"
mkdir -p "$DIR"
"$B/tests/sdharness" -p "$WORK/daemon.pid" -n "$WORK/notify" -- \
    "$B/asyncflowd" -d "$DIR" --module "$M/hazards.so" --turn-limit 1000 \
    >"$WORK/n1" 2>>"$WORK/daemon.log" &
HARNESS=$!
wait_for_file "$WORK/daemon.pid"
ready_count() {
	[ "$(grep -cx READY=1 "$WORK/n1")" -ge "$1" ]
}
wait_until "READY=1" ready_count 1
ACT=$(ctl start spin "{\"sleep\":100,\"marker\":\"$WORK/spin5\"}" |
    jq -r .activation)
wait_until "READY=1 from the restarted daemon" ready_count 2
expect "quarantined under systemd" "$(state_of "$ACT")" Failed
kill -TERM "$(cat "$WORK/daemon.pid")"
wait "$HARNESS" || fail "daemon did not exit 0 on SIGTERM"
grep -qx STOPPING=1 "$WORK/n1" || fail "no STOPPING=1: $(cat "$WORK/n1")"
echo "runaway: ok"
