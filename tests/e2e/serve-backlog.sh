# A backlog of invocations larger than a connection's output limit (64 MiB)
# reaches a server as it works (flow control), instead of overflowing the
# connection at every `serve`.
# run-tests: start early
set -eu
. tests/e2e/lib.inc
# No fsyncs: flow control is what is tested here, not durability.
start_daemon --durability none
acct=$(head -c 100000 /dev/zero | tr '\0' 'a')
n=700
# 700 starts of about 100 KB of arguments each (the arguments are built
# here: the shell's `read` of 100 KB lines is a byte at a time).
i=0
while [ $i -lt $n ]; do
	out=$($CTL start transfer "{\"from\":\"$acct$i\",\"to\":\"b\",\"amount\":1}") ||
	    fail "start $i"
	i=$((i + 1))
done
last=$(echo "$out" | jq -r '.outcome["@vow"]')
expect "backlog" "$(ctl stats | jq .invocations_pending)" $n
# The server reads each invocation whole and answers true, in one process
# per invocation (as the shell script it stands for would, minus a fork).
serve bank awk 'END { print "true" }'
# Invocations are handed out oldest first: wait for the last transfer to
# finish, checking meanwhile (without a process per check) that the daemon
# did not cut the server off.
$CTL vow "$last" --wait --timeout 300 >"$WORK/last" 2>&1 &
W=$!
while kill -0 "$W" 2>/dev/null; do
	kill -0 "$SERVER_PID" 2>/dev/null || fail "the server was cut off"
	sleep 0.1
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
expect "done" "$(ctl ls --state Done | jq length)" $n
kill "$SERVER_PID" 2>/dev/null || true
stop_daemon
