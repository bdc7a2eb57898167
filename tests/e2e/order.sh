# The built-in `shop` flow (issue 10's `order` demo, items 2, 4, 5, 7) through the CLI
# with a real daemon: calls into its export (`asyncflowctl call`), a
# SIGKILL between two calls (the state comes back by replay), checkout
# charging through a served `payments` and starting a `shipping` child
# (show names parent and children), calls after the end (Finished), bad
# references; cancel before the charge (nothing refunded) and after it
# (refund sent, the shipping child cancelled with it).
set -eu
. tests/e2e/lib.inc
export PAYMENTS_LOG="$WORK/payments.log"
: >"$PAYMENTS_LOG"
start_daemon --retain-journals
serve payments sh scripts/payments.sh
wait_until "payments served" served 1

A=$(ctl start shop | jq -r .activation)
AO=$(ctl show "$A" | jq -r '.outcome["@vow"]')
OBJ="act/$A/order"
callv() { ctl call "$@" --wait --timeout 20 | jq -c '[.state, .value]'; }
expect "add book" "$(callv "$OBJ" add_item '{"item":"book"}')" \
    '["fulfilled",["book"]]'
expect "add pen" "$(callv "$OBJ" add_item '{"item":"pen"}')" \
    '["fulfilled",["book","pen"]]'
# Between two calls: SIGKILL, restart; the order is rebuilt by replay.
kill9_daemon
start_daemon --retain-journals
expect "remove book" "$(callv "$OBJ" remove_item '{"item":"book"}')" \
    '["fulfilled",["pen"]]'
expect "items" "$(callv "$OBJ" items)" '["fulfilled",["pen"]]'
ctl journal "$A" | jq -e '[.[] | select(.kind == "doCall")] | length == 4' \
    >/dev/null || fail "four doCall entries: $(ctl journal "$A")"
ctl journal "$A" | jq -e '[.[] | select(.kind == "checkReturn")] |
    length == 4' >/dev/null || fail "four answers: $(ctl journal "$A")"
# A call without --wait prints its vow; an unknown method is rejected by
# the handler.
v=$(ctl call "$OBJ" nope | jq -r .vow)
expect "unknown method" "$(ctl vow "$v" --wait --timeout 20 |
    jq -r '.value["@error"].name')" NotFound

expect "checkout" "$(callv "$OBJ" checkout | jq -c '.[1].checkout')" true
out=$(ctl vow "$AO" --wait --timeout 20)
expect "order outcome" "$(echo "$out" | jq -c '[.state, .value.shipping]')" \
    "[\"fulfilled\",{\"order\":$A,\"shipped\":[\"pen\"]}]"
C=$(ctl show "$A" | jq -r '.children[0]')
expect "child's parent" "$(ctl show "$C" | jq -r '[.flow, .parent] | join(" ")')" \
    "shipping $A"
expect "one child" "$(ctl show "$A" | jq -c '.children | length')" 1
# After the end: Finished, never hung.
expect "after the end" "$(ctl call "$OBJ" items --wait --timeout 20 |
    jq -r '[.state, .value["@error"].name] | join(" ")')" "rejected Finished"
# Bad references: exit 1 with a clear error.
for bad in "act/x/order" "order" "act/$A/a/b"; do
	if $CTL call "$bad" items >"$WORK/out" 2>"$WORK/err"; then
		fail "call $bad succeeded"
	fi
	grep -q "not an export reference" "$WORK/err" || fail "$(cat "$WORK/err")"
done
if $CTL call act/999999/order items >"$WORK/out" 2>"$WORK/err"; then
	fail "call to a missing activation succeeded"
fi
grep -q ENOTFOUND "$WORK/err" || fail "$(cat "$WORK/err")"
v=$(ctl call "act/$A/nothing" items | jq -r .vow)
ctl vow "$v" --wait --timeout 20 | jq -r '.value["@error"].name' |
    grep -qx Finished || fail "a Done activation's unknown name"

# Cancel before the charge: nothing is charged or refunded.
B=$(ctl start shop | jq -r .activation)
BO=$(ctl show "$B" | jq -r '.outcome["@vow"]')
callv "act/$B/order" add_item '{"item":"lamp"}' >/dev/null
ctl cancel "$B" --reason '{"@error":{"name":"Cancelled","message":"changed my mind"}}' >/dev/null
expect "cancelled early" "$(ctl vow "$BO" --wait --timeout 20 |
    jq -r '[.state, .value["@error"].message] | join(" ")')" \
    "rejected changed my mind"
grep -q "$B" "$PAYMENTS_LOG" && fail "order $B reached payments"

# Cancel after the charge: refunded, and its shipping child cancelled.
D=$(ctl start shop '{"ship_ms":600000}' | jq -r .activation)
DO=$(ctl show "$D" | jq -r '.outcome["@vow"]')
callv "act/$D/order" add_item '{"item":"desk"}' >/dev/null
callv "act/$D/order" checkout >/dev/null
has_child() { [ "$(ctl show "$D" | jq '.children | length')" = 1 ]; }
wait_until "the shipping child" has_child
S=$(ctl show "$D" | jq -r '.children[0]')
SO=$(ctl show "$S" | jq -r '.outcome["@vow"]')
ctl cancel "$D" --reason '{"@error":{"name":"Cancelled","message":"too slow"}}' >/dev/null
expect "cancelled late" "$(ctl vow "$DO" --wait --timeout 20 |
    jq -r '[.state, .value["@error"].message] | join(" ")')" \
    "rejected too slow"
grep -qx "refund $D" "$PAYMENTS_LOG" || fail "no refund: $(cat "$PAYMENTS_LOG")"
expect "child cancelled" "$(ctl vow "$SO" --wait --timeout 20 |
    jq -r '[.state, .value["@error"].message] | join(" ")')" \
    "rejected too slow"
ctl failures | jq -e 'length == 0' >/dev/null || fail "$(ctl failures)"
echo "order: ok"
