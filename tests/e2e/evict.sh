# Memory is a cache (issue 8): with --max-resident 1 every activation that
# waits is evicted as soon as another one is used, and each kind of event
# (a settlement, a timer, an answered invocation, a resolver handed over to
# a server, wake) replays it from its journal and applies the event. Also:
# a budget the kernel cannot honour is refused at start, and a SIGKILL
# with eviction forced on loses nothing acknowledged.
set -eu
. tests/e2e/lib.inc
export BANK_STATE=$WORK/bank.json
echo '{"balances":{"alice":100,"bob":0},"closed":[],"done":{}}' >"$BANK_STATE"

refused "--max-resident needs a positive number" --max-resident 0
refused "--max-resident needs a positive number" --max-resident x1
refused "vm.max_map_count" --max-resident 100000000000

stat() { ctl stats | jq -r ".$1"; }
# evict_first: start a gather on a fresh vow, so that with a budget of one
# the activation used before it is evicted (its reply follows the commit
# that evicts); sets FILLER_VOW/FILLER_RES.
evict_first() {
	mkvow
	FILLER_VOW=$VOW
	FILLER_RES=$RES
	ctl start gather "[{\"@vow\":$VOW}]" >/dev/null
}

start_daemon --max-resident 1
expect "resident budget" "$(stat resident)" 0

# A settlement.
mkvow
V1=$VOW R1=$RES
out=$(ctl start gather "[{\"@vow\":$V1}]")
A1=$(echo "$out" | jq -r .activation)
O1=$(echo "$out" | jq -r '.outcome["@vow"]')
evict_first
expect "evicted" "$(state_of "$A1")" Sleeping
expect "one evicted" "$(stat evictions)" 1
expect "one sleeping" "$(stat sleeping)" 1
expect "one resident" "$(stat resident)" 1
ctl settle "$V1" --resolver "$R1" '"paid"' >/dev/null
expect "settled evicted" "$(ctl vow "$O1" --wait --timeout 20 | jq -c .value)" \
    '["paid"]'
expect "replayed on demand" "$(stat replays_on_demand)" 1
expect "done" "$(state_of "$A1")" Done

# A timer: due in 3 s, far after the eviction below.
out=$(ctl start nap '{"ms":3000}')
A2=$(echo "$out" | jq -r .activation)
O2=$(echo "$out" | jq -r '.outcome["@vow"]')
evict_first
expect "nap evicted" "$(state_of "$A2")" Sleeping
expect "timer fired" "$(ctl vow "$O2" --wait --timeout 20 | jq -c .value)" 3000
expect "nap done" "$(state_of "$A2")" Done

# An answered invocation: the bank is served only once transfer sleeps;
# its second call (the deposit) comes from a replay too.
out=$(ctl start transfer '{"from":"alice","to":"bob","amount":30}')
A3=$(echo "$out" | jq -r .activation)
O3=$(echo "$out" | jq -r '.outcome["@vow"]')
evict_first
expect "transfer evicted" "$(state_of "$A3")" Sleeping
serve bank sh scripts/bank.sh
expect "transfer" "$(ctl vow "$O3" --wait --timeout 20 | jq -c .value)" \
    '{"ok":true}'
expect "balances" "$(jq -c .balances "$BANK_STATE")" '{"alice":70,"bob":30}'

# A resolver handed over: the approver settles the flow's own vow.
out=$(ctl start approval '{"order":7}')
A4=$(echo "$out" | jq -r .activation)
O4=$(echo "$out" | jq -r '.outcome["@vow"]')
evict_first
expect "approval evicted" "$(state_of "$A4")" Sleeping
serve approver sh scripts/approver.sh
expect "approved" "$(ctl vow "$O4" --wait --timeout 20 | jq -c .value)" \
    '{"about":{"order":7},"approved":true}'

# wake: replays an evicted activation now; it goes on waiting.
mkvow
V5=$VOW R5=$RES
out=$(ctl start gather "[{\"@vow\":$V5}]")
A5=$(echo "$out" | jq -r .activation)
O5=$(echo "$out" | jq -r '.outcome["@vow"]')
evict_first
expect "gather evicted" "$(state_of "$A5")" Sleeping
ctl wake "$A5" >/dev/null
expect "woken: in memory again" "$(state_of "$A5")" Running
# Six gathers wait (five fillers and A5); only A5 is in memory.
expect "the others sleep" "$(stat sleeping)" 5
expect "one resident" "$(stat resident)" 1

# SIGKILL with eviction forced on: an acknowledged settlement of an
# evicted activation is delivered after the restart.
evict_first
expect "evicted again" "$(state_of "$A5")" Sleeping
ctl settle "$V5" --resolver "$R5" '5' >/dev/null
kill9_daemon
start_daemon --max-resident 1
expect "after SIGKILL" "$(ctl vow "$O5" --wait --timeout 20 | jq -c .value)" \
    '[5]'
expect "journal of a Done one" "$(state_of "$A5")" Done
# What waits is still evicted after the restart's first commit.
ctl settle "$FILLER_VOW" --resolver "$FILLER_RES" '0' >/dev/null
[ "$(stat resident)" -le 1 ] || fail "more than one resident"
stop_daemon
