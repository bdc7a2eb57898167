# crash-values.sh: malformed values from a flow (a list whose length lies,
# a list that contains itself), as its outcome after a settle or as the
# args of a call, make that activation Failed with a diagnostic; the
# daemon survives and serves everyone else (issue 9).
set -eu
. tests/e2e/lib.inc
M=$B/modules
start_daemon --module "$M/hazards.so"
for flow in bad-result bad-args; do
	for kind in lying self; do
		mkvow
		ACT=$(ctl start "$flow" \
		    "{\"after\":{\"@vow\":$VOW},\"kind\":\"$kind\"}" |
		    jq -r .activation)
		ctl settle "$VOW" --resolver "$RES" 1 >/dev/null
		kill -0 "$DAEMON_PID" 2>/dev/null ||
		    fail "$flow $kind: the daemon died"
		expect "$flow $kind" "$(state_of "$ACT")" Failed
		ctl show "$ACT" | jq -r .failure | grep -q "malformed value" ||
		    fail "$flow $kind: no diagnostic: $(ctl show "$ACT")"
		grep -q "activation $ACT (.*) is Failed" "$WORK/daemon.log" ||
		    fail "$flow $kind: no log line naming it"
	done
done
# Everyone else is still served.
a=$(ctl start echo 5 | jq -r .activation)
expect "echo" "$(state_of "$a")" Done
# A restart replays nothing into a crash: the Failed ones stay Failed.
stop_daemon
start_daemon --module "$M/hazards.so"
expect "after restart" "$(state_of "$ACT")" Failed
stop_daemon
