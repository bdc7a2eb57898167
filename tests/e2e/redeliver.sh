# A server killed mid-invocation: the invocation goes to another server.
set -eu
. tests/e2e/lib.inc
export BANK_STATE=$WORK/bank.json
echo '{"balances":{"alice":100},"closed":[],"done":{}}' >"$BANK_STATE"
start_daemon
# Server A takes invocations and never answers. exec keeps the PID it
# records: the test kills that process, no other.
cat >"$WORK/hang.sh" <<EOS
#!/bin/sh
cat >/dev/null
echo \$\$ >"$WORK/hang.pid"
touch "$WORK/a-took-one"
exec sleep 60
EOS
# A registers before B (the daemon hands invocations out in turn, from
# the first server registered): wait for each one's ServeReply.
serve bank sh "$WORK/hang.sh"
A=$SERVER_PID
wait_until "server A" served 1
serve bank sh scripts/bank.sh
BSRV=$SERVER_PID
wait_until "server B" served 2
out=$(ctl start transfer '{"from":"alice","to":"bob","amount":5}')
OUT=$(echo "$out" | jq -r '.outcome["@vow"]')
wait_for_file "$WORK/a-took-one"
kill -9 "$A"
kill_pidfile "$WORK/hang.pid"
expect "outcome" "$(ctl vow "$OUT" --wait --timeout 20 | jq -c .value)" '{"ok":true}'
expect "balances" "$(jq -c .balances "$BANK_STATE")" '{"alice":95,"bob":5}'
kill "$BSRV" 2>/dev/null || true
stop_daemon
