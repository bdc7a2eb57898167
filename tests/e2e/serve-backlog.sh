# A backlog of invocations larger than a connection's output limit (64 MiB)
# reaches a server as it works (flow control), instead of overflowing the
# connection at every `serve`.
set -eu
. tests/e2e/lib.inc
start_daemon
acct=$(head -c 100000 /dev/zero | tr '\0' 'a')
n=700
i=0
while [ $i -lt $n ]; do
	printf '{"from":"%s%d","to":"b","amount":1}\n' "$acct" $i
	i=$((i + 1))
done >"$WORK/args"
# Start them all through one pipelined client: one start per line.
while IFS= read -r a; do
	$CTL start transfer "$a" >/dev/null || fail "start"
done <"$WORK/args"
expect "backlog" "$(ctl stats | jq .invocations_pending)" $n
cat >"$WORK/ok.sh" <<'EOS'
#!/bin/sh
cat >/dev/null
echo true
EOS
serve bank sh "$WORK/ok.sh"
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
