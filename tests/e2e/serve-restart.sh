# `asyncflowctl serve` survives a daemon restart (kill -9, then start
# again): the same serve process reconnects, serves the object again,
# answers the invocation whose answer the dead daemon never got (handed
# out again) and new ones.
set -eu
. tests/e2e/lib.inc
export BANK_STATE=$WORK/bank.json
echo '{"balances":{"alice":100},"closed":[],"done":{}}' >"$BANK_STATE"
start_daemon
# The first withdraw waits until the daemon is dead before it answers,
# so its answer is lost; every other run is bank.sh at once.
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
SRV=$SERVER_PID
wait_until "serve" served 1
o1=$(ctl start transfer '{"from":"alice","to":"bob","amount":30}' |
    jq -r '.outcome["@vow"]')
wait_for_file "$WORK/slow-once"
kill9_daemon
touch "$WORK/daemon-killed"
start_daemon
# The same process registers again (a second "serving" line).
wait_until "serve to reconnect" served 2
kill -0 "$SRV" || fail "serve exited: $(cat "$WORK/serve.log")"
expect "redelivered" "$(ctl vow "$o1" --wait --timeout 20 | jq -c .value)" \
    '{"ok":true}'
o2=$(ctl start transfer '{"from":"alice","to":"bob","amount":5}' |
    jq -r '.outcome["@vow"]')
expect "new" "$(ctl vow "$o2" --wait --timeout 20 | jq -c .value)" \
    '{"ok":true}'
expect "balances" "$(jq -c .balances "$BANK_STATE")" '{"alice":65,"bob":35}'
expect "withdraws seen" "$(grep -c '^withdraw ' "$WORK/seen")" 3
kill -0 "$SRV" || fail "serve exited: $(cat "$WORK/serve.log")"
expect "outages logged" "$(grep -c 'lost the connection' "$WORK/serve.log")" 1
kill "$SRV"
stop_daemon
