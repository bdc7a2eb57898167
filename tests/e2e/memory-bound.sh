# --max-activation-memory (issue 8): an activation whose arena and stacks
# would exceed the bound is Failed ("exceeded its memory bound") and the
# daemon goes on serving the others; a bound that makes no sense is
# refused at start.
set -eu
. tests/e2e/lib.inc
refused "--max-activation-memory needs a positive number" \
    --max-activation-memory 0
refused "--max-activation-memory needs a positive number" \
    --max-activation-memory -3
refused "leaves nothing past one coroutine stack" \
    --max-activation-memory 1 --stack-size 1024
start_daemon --max-activation-memory 1
# A 2 MiB string: the activation's own copy of its arguments is over.
awk 'BEGIN { printf "\""; for (i = 0; i < 2097152; i++) printf "a"; printf "\"" }' \
    >"$WORK/big.json"
A=$(ctl start echo "@$WORK/big.json" | jq -r .activation)
expect "state" "$(state_of "$A")" Failed
ctl show "$A" | jq -r .failure | grep -q "exceeded its memory bound" ||
	fail "no 'exceeded its memory bound' in $(ctl show "$A")"
out=$(ctl start echo '{"small": true}' --wait --timeout 20)
expect "the others go on" "$(echo "$out" | jq -c .value)" '{"small":true}'
expect "listed by failures" "$(ctl failures | jq length)" 1
stop_daemon
