#!/bin/sh
# demo-world.sh: flows that talk to the world (`make demo-world`). A shell
# script serves `bank`; `transfer` moves money and compensates when the
# deposit fails; `nap` sleeps on a durable timer across a SIGKILL;
# `approval` hands a resolver to a shell approver, which settles it;
# `shop` (the order demo) is called into (its export act/A/order) across a SIGKILL, charges through a
# shell-served `payments`, starts a `shipping` child, and refunds when it
# is cancelled after the charge.
set -eu
B=${1:-build}
. tests/e2e/lib.inc
export BANK_STATE=$WORK/bank.json
say() { printf '\n== %s\n' "$*"; }

echo '{"balances":{"alice":100,"bob":0},"closed":["carol"],"done":{}}' \
    >"$BANK_STATE"
say "start asyncflowd; serve bank from the shell (scripts/bank.sh)"
start_daemon
serve bank sh scripts/bank.sh
jq -c .balances "$BANK_STATE"

say "transfer 30 from alice to bob"
o=$(ctl start transfer '{"from":"alice","to":"bob","amount":30}' |
    jq -r '.outcome["@vow"]')
ctl vow "$o" --wait --timeout 10
jq -c .balances "$BANK_STATE"

say "transfer 20 from alice to carol, whose account is closed"
o=$(ctl start transfer '{"from":"alice","to":"carol","amount":20}' |
    jq -r '.outcome["@vow"]')
ctl vow "$o" --wait --timeout 10
echo "alice got her 20 back (compensation):"
jq -c .balances "$BANK_STATE"

say "nap 1500 ms, and kill -9 the daemon while it sleeps"
o=$(ctl start nap '{"ms":1500}' | jq -r '.outcome["@vow"]')
kill9_daemon
kill "$SERVER_PID" 2>/dev/null || true
sleep 2
say "restart: the timer came due while the daemon was down and fires now"
start_daemon
ctl vow "$o" --wait --timeout 10

say "approval: the flow sends its resolver to an approver served from the shell"
serve approver sh scripts/approver.sh
o=$(ctl start approval '{"order":7}' | jq -r '.outcome["@vow"]')
ctl vow "$o" --wait --timeout 10
kill "$SERVER_PID" 2>/dev/null || true

say "shop: a flow you talk to (its export act/A/order), payments served from the shell"
export PAYMENTS_LOG=$WORK/payments.log
serve payments sh scripts/payments.sh
A=$(ctl start shop | jq -r .activation)
ctl call "act/$A/order" add_item '{"item":"book"}' --wait --timeout 10
ctl call "act/$A/order" add_item '{"item":"pen"}' --wait --timeout 10
say "kill -9 the daemon between two calls; restart: the order is rebuilt by replay"
kill9_daemon
start_daemon
ctl call "act/$A/order" remove_item '{"item":"book"}' --wait --timeout 10
ctl call "act/$A/order" checkout --wait --timeout 10
o=$(ctl show "$A" | jq -r '.outcome["@vow"]')
ctl vow "$o" --wait --timeout 10
echo "its shipping child:"
ctl show "$(ctl show "$A" | jq -r '.children[0]')" | jq -c '{flow, parent, state}'

say "shop: cancelled after the charge, so it refunds"
D=$(ctl start shop '{"ship_ms":600000}' | jq -r .activation)
ctl call "act/$D/order" add_item '{"item":"desk"}' --wait --timeout 10 >/dev/null
ctl call "act/$D/order" checkout --wait --timeout 10 >/dev/null
has_child() { [ "$(ctl show "$D" | jq '.children | length')" = 1 ]; }
wait_until "the shipping child" has_child
ctl cancel "$D" --reason '{"@error":{"name":"Cancelled","message":"too slow"}}'
ctl vow "$(ctl show "$D" | jq -r '.outcome["@vow"]')" --wait --timeout 10
echo "payments saw:"
cat "$PAYMENTS_LOG"
kill "$SERVER_PID" 2>/dev/null || true
stop_daemon
say "done"
