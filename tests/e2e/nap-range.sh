# nap with a duration whose due time is past the end of time (ms near
# INT64_MAX) is refused by timer.sleep: the nap's outcome is that
# RangeError, not a Failed activation.
set -eu
. tests/e2e/lib.inc
start_daemon
out=$(ctl start nap '{"ms":9223372036854775000}')
act=$(echo "$out" | jq -r .activation)
vow=$(echo "$out" | jq -r '.outcome["@vow"]')
got=$(ctl vow "$vow" --wait --timeout 10)
expect "outcome" "$(echo "$got" | jq -r .state)" rejected
expect "error" "$(echo "$got" | jq -r '.value["@error"].name')" RangeError
expect "activation" "$(state_of "$act")" Done
stop_daemon
