# A served command killed by a signal gave no answer: the invocation is
# not settled (it may have done its work, or not) but handed out again,
# and the flow ends with exactly one answer to each of its invocations.
set -eu
. tests/e2e/lib.inc
export BANK_STATE=$WORK/bank.json
echo '{"balances":{"alice":100},"closed":[],"done":{}}' >"$BANK_STATE"
start_daemon --retain-journals
# The first run writes its PID and waits (exec keeps that PID: the test
# kills it, no other process); every later run is bank.sh.
cat >"$WORK/bank-once.sh" <<EOS
#!/bin/sh
in=\$(cat)
echo "\$in" | jq -r '.method + " " + (.vow|tostring)' >>"$WORK/seen"
if [ ! -e "$WORK/first" ]; then
	touch "$WORK/first"
	echo \$\$ >"$WORK/cmd.pid.new"
	mv "$WORK/cmd.pid.new" "$WORK/cmd.pid"
	exec sleep 600
fi
echo "\$in" | BANK_STATE=$BANK_STATE sh scripts/bank.sh
EOS
serve bank sh "$WORK/bank-once.sh"
SRV=$SERVER_PID
out=$(ctl start transfer '{"from":"alice","to":"bob","amount":30}')
ACT=$(echo "$out" | jq -r .activation)
OUT=$(echo "$out" | jq -r '.outcome["@vow"]')
wait_for_file "$WORK/cmd.pid"
kill_pidfile "$WORK/cmd.pid"
expect "outcome" "$(ctl vow "$OUT" --wait --timeout 20 | jq -c '[.state, .value]')" \
    '["fulfilled",{"ok":true}]'
expect "balances" "$(jq -c .balances "$BANK_STATE")" '{"alice":70,"bob":30}'
# The withdraw ran twice (killed, then again), the deposit once.
expect "runs" "$(cut -d' ' -f1 "$WORK/seen" | tr '\n' ' ')" \
    "withdraw withdraw deposit "
w=$(head -n 1 "$WORK/seen" | cut -d' ' -f2)
expect "same invocation" "$(sed -n 2p "$WORK/seen" | cut -d' ' -f2)" "$w"
# One answer each: nothing rejected, each fulfilled once, and the flow's
# journal took one result per send.
grep -q 'rejected' "$WORK/serve.log" && fail "rejected: $(cat "$WORK/serve.log")"
expect "withdraw answers" "$(grep -c "bank.withdraw (vow $w): fulfilled" "$WORK/serve.log")" 1
expect "answers" "$(grep -c ': fulfilled' "$WORK/serve.log")" 2
grep -q "killed by signal 9" "$WORK/serve.log" ||
    fail "the kill is not logged: $(cat "$WORK/serve.log")"
expect "state" "$(state_of "$ACT")" Done
expect "entries" "$(ctl journal "$ACT" | jq -c '[.[].kind]')" \
    '["checkSend","doReturn","doFulfill","checkSend","doReturn","doFulfill"]'
# The same serve process answered after the kill.
kill -0 "$SRV" || fail "serve exited"
kill "$SRV"
stop_daemon
