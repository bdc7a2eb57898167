# A backlog of invocations larger than a connection's output limit (64 MiB)
# reaches a server as it works (flow control), instead of overflowing the
# connection at every `serve`.
# run-tests: start early
set -eu
. tests/e2e/lib.inc
# No fsyncs: flow control is what is tested here, not durability.
start_daemon --durability none
n=700
# 700 starts of transfer from accounts named by 100 KB each: a backlog of
# 70 MB of invocations. They go through one pipelined client (rawframe's
# starts mode): 700 asyncflowctl processes took most of this test's time,
# and starting a flow through the CLI is tested elsewhere.
r=$("$B/tests/rawframe" "$SOCK" starts $n)
case $r in "started=$n errors=0 last_outcome="*) ;;
*) fail "starts: $(printf '%s' "$r" | cut -c 1-300)" ;; esac
last=${r#*last_outcome=}
expect "backlog" "$(ctl stats | jq .invocations_pending)" $n
# The server reads each invocation whole and answers true, in one process
# per invocation (as the shell script it stands for would, minus a fork).
serve bank awk 'END { print "true" }'
# Invocations are handed out oldest first: wait for the last transfer to
# finish, checking meanwhile (without a process per check) that the daemon
# did not cut the server off.
$CTL vow "$last" --wait --timeout 1200 >"$WORK/last" 2>&1 &
W=$!
while kill -0 "$W" 2>/dev/null; do
	kill -0 "$SERVER_PID" 2>/dev/null || fail "the server was cut off"
	sleep 0.5
done
wait "$W" || fail "the last transfer did not finish: $(cat "$WORK/last")"
kill -0 "$SERVER_PID" 2>/dev/null || fail "the server was cut off"
i=0
while [ "$(ctl stats | jq .invocations_pending)" != 0 ]; do
	i=$((i + 1))
	[ $i -gt 1200 ] && fail "backlog not drained: $(ctl stats)"
	kill -0 "$SERVER_PID" 2>/dev/null || fail "the server was cut off"
	sleep 0.1
done
# Counted in the compact JSON without parsing its 70 MB (jq took seconds).
expect "done" "$(ctl ls --state Done | grep -o '"state":"Done"' | wc -l)" $n
kill "$SERVER_PID" 2>/dev/null || true
stop_daemon
