# A server killed mid-invocation: the invocation goes to another server.
set -eu
. tests/e2e/lib.inc
export BANK_STATE=$WORK/bank.json
echo '{"balances":{"alice":100},"closed":[],"done":{}}' >"$BANK_STATE"
start_daemon
# Server A takes invocations and never answers.
cat >"$WORK/hang.sh" <<EOS
#!/bin/sh
cat >/dev/null
touch "$WORK/a-took-one"
exec sleep 60
EOS
serve bank sh "$WORK/hang.sh"
A=$SERVER_PID
sleep 0.3
serve bank sh scripts/bank.sh
BSRV=$SERVER_PID
sleep 0.3
out=$(ctl start transfer '{"from":"alice","to":"bob","amount":5}')
OUT=$(echo "$out" | jq -r '.outcome["@vow"]')
wait_for_file "$WORK/a-took-one"
kill -9 "$A"
pkill -9 -f "sleep 60" 2>/dev/null || true
expect "outcome" "$(ctl vow "$OUT" --wait --timeout 20 | jq -c .value)" '{"ok":true}'
expect "balances" "$(jq -c .balances "$BANK_STATE")" '{"alice":95,"bob":5}'
kill "$BSRV" 2>/dev/null || true
stop_daemon
