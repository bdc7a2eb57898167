# SIGHUP (a closed terminal, or a supervisor's "reload") does not stop the
# daemon: it logs to stderr, so there is no log file to reopen, and it
# ignores the signal. The daemon says so in its log, which proves the
# signal arrived before the checks below.
set -eu
. tests/e2e/lib.inc
start_daemon
kill -HUP "$DAEMON_PID"
# Logged, or dead: either one ends the wait.
hup_seen() {
	grep -q 'SIGHUP' "$WORK/daemon.log" ||
	    ! kill -0 "$DAEMON_PID" 2>/dev/null
}
wait_until "the daemon to see SIGHUP" hup_seen
kill -0 "$DAEMON_PID" 2>/dev/null || fail "SIGHUP killed the daemon"
expect "stats after SIGHUP" "$(ctl stats | jq -r 'has("timers_pending")')" true
out=$(ctl start echo '{"x":1}' | jq -r '.outcome["@vow"]')
expect "works after SIGHUP" "$(ctl vow "$out" --wait --timeout 10 | jq -c .value)" '{"x":1}'
stop_daemon
