# An invocation pending across SIGKILL and restart enters the flow's journal
# exactly once: the server may see it twice, the flow never.
set -eu
. tests/e2e/lib.inc
export BANK_STATE=$WORK/bank.json
echo '{"balances":{"alice":100},"closed":[],"done":{}}' >"$BANK_STATE"
start_daemon
out=$(ctl start transfer '{"from":"alice","to":"bob","amount":30}')
ACT=$(echo "$out" | jq -r .activation)
OUT=$(echo "$out" | jq -r '.outcome["@vow"]')
# Nobody serves bank yet: the invocation waits, visible.
expect "pending invocations" "$(ctl stats | jq .invocations_pending)" 1
expect "invocation shown" "$(ctl show "$ACT" | jq -r '.invocations[0].method')" withdraw
kill9_daemon
start_daemon
expect "pending after restart" "$(ctl stats | jq .invocations_pending)" 1
# A server that records every delivery; the first time, it does the work
# only once the daemon has been killed (so the answer is lost and it sees
# the withdraw again).
cat >"$WORK/slow.sh" <<EOS
#!/bin/sh
in=\$(cat)
echo "\$in" | jq -r '.method + " " + (.vow|tostring)' >>"$WORK/seen"
if [ ! -e "$WORK/slow-once" ]; then
	touch "$WORK/slow-once"
	i=0
	while [ ! -e "$WORK/daemon-killed" ] && [ \$i -lt 400 ]; do
		i=\$((i + 1))
		sleep 0.05
	done
fi
echo "\$in" | BANK_STATE=$BANK_STATE sh scripts/bank.sh
EOS
serve bank sh "$WORK/slow.sh"
wait_for_file "$WORK/slow-once"
kill9_daemon
touch "$WORK/daemon-killed"
# The same serve process connects again once the daemon is back.
start_daemon --retain-journals
expect "outcome" "$(ctl vow "$OUT" --wait --timeout 20 | jq -c .value)" '{"ok":true}'
kill "$SERVER_PID" 2>/dev/null || true
expect "balances" "$(jq -c .balances "$BANK_STATE")" '{"alice":70,"bob":30}'
withdraws=$(grep -c '^withdraw ' "$WORK/seen")
[ "$withdraws" -ge 2 ] || fail "the server saw the withdraw only $withdraws time(s)"
# The flow's journal, kept (--retain-journals) now that it is Done: one
# withdraw send, one deposit send, each settled once.
expect "state" "$(state_of "$ACT")" Done
expect "journal length" "$(ctl show "$ACT" | jq .journal_length)" 6
expect "entries" "$(ctl journal "$ACT" | jq -c '[.[].kind]')" \
    '["checkSend","doReturn","doFulfill","checkSend","doReturn","doFulfill"]'
stop_daemon
