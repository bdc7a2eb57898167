# run-tests: start early
# scripts/bank.sh killed at each of its steps in turn (its BANK_DIE_AT=N
# hook: it kills itself with SIGKILL at the Nth step it passes) during two
# transfers, one that succeeds and one that compensates: `serve` leaves
# the killed invocation unanswered, the daemon hands it out again, and
# bank.sh must apply it exactly once. Money is conserved at every N.
set -eu
. tests/e2e/lib.inc
export BANK_STATE=$WORK/bank.json
start_daemon
n=0
while :; do
	n=$((n + 1))
	echo '{"balances":{"alice":100,"bob":0},"closed":["carol"],"done":{}}' \
	    >"$BANK_STATE"
	echo 0 >"$BANK_STATE.points"
	BANK_DIE_AT=$n ASYNCFLOW_SOCKET=$SOCK \
	    $CTL serve bank -- sh scripts/bank.sh >>"$WORK/serve.log" 2>&1 &
	SRV=$!
	echo "$SRV" >"$WORK/serve.$SRV.pid" # ended by the cleanup on a failure
	o=$(ctl start transfer '{"from":"alice","to":"bob","amount":30}' |
	    jq -r '.outcome["@vow"]')
	expect "N=$n: transfer to bob" \
	    "$(ctl vow "$o" --wait --timeout 20 | jq -c '[.state, .value]')" \
	    '["fulfilled",{"ok":true}]'
	o=$(ctl start transfer '{"from":"alice","to":"carol","amount":20}' |
	    jq -r '.outcome["@vow"]')
	expect "N=$n: transfer to carol" \
	    "$(ctl vow "$o" --wait --timeout 20 | jq -r .state)" rejected
	kill "$SRV"
	wait "$SRV" 2>/dev/null || true
	rm -f "$WORK/serve.$SRV.pid"
	expect "N=$n: balances" "$(jq -c .balances "$BANK_STATE")" \
	    '{"alice":70,"bob":30}'
	# The last N is the first that bank.sh never reached: no kill.
	[ "$(cat "$BANK_STATE.points")" -ge "$n" ] || break
done
[ "$n" -gt 10 ] || fail "only $((n - 1)) steps in two transfers"
echo "killed at each of $((n - 1)) steps"
stop_daemon
