# The daemon answers while its engine never goes idle: a pass that asks
# for another must not keep the loop from reading and writing sockets
# (a live upgrade drops the old code's activations a bounded number per
# pass, and stack trims, replays and continue-as-new loops are spread
# over passes the same way; clients are to be answered in between).
# `spin` (tests/modules/spin.c) continues as new at once, for ever.
set -eu
. tests/e2e/lib.inc
CC=${CC:-cc}
$CC -shared -fPIC -Iinclude -o "$WORK/spin.so" tests/modules/spin.c ||
	fail "building the module"
start_daemon --durability none --module "$WORK/spin.so"
# A client that is never answered is a failure, not a hang of the run.
answered() {
	timeout 20 "$@" || fail "no answer to: $*"
}
out=$(answered $CTL start spin '{"n": 1}')
A=$(echo "$out" | jq -r .activation)
expect "stats while busy" "$(answered $CTL stats | jq '.resident >= 1')" true
expect "show while busy" "$(answered $CTL show "$A" | jq -r .flow)" spin
expect "terminate" "$(answered $CTL terminate "$A" | jq -c .)" \
    "{\"terminated\":$A}"
expect "state" "$(state_of "$A")" Done
stop_daemon
echo "busy-answers: answered while the engine stayed busy"
