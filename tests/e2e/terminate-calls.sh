# terminate-calls.sh: terminating an activation rejects the calls into its
# exports that it has not answered (issue 10, Bad input), with a real
# daemon and module (tests/modules/waiter.c: `waiter` exports `w`, whose
# `wait` awaits the vow it is given). With --max-resident 1, a call in
# flight (journaled, its handler awaiting) into an evicted (Sleeping)
# activation and one into a resident activation are both rejected with
# the Terminated error when their activation is terminated, and stay so
# across a SIGKILL.
# Not here: Failed activations and calls kept in the row
# (tests/check_engine.c).
set -eu
. tests/e2e/lib.inc
command -v jq >/dev/null || skip "no jq"
CC=${CC:-cc}
$CC -shared -fPIC -Iinclude -o "$WORK/waiter.so" tests/modules/waiter.c ||
	fail "building the module"

start_daemon --max-resident 1 --module "$WORK/waiter.so"
mkvow
HANG=$VOW
doCalls() { ctl journal "$1" | jq '[.[] | select(.kind == "doCall")] | length'; }
# begin: start a waiter and call w.wait on HANG; sets ACT, CALL.
begin() {
	mkvow
	ACT=$(ctl start waiter "{\"done\":{\"@vow\":$VOW}}" | jq -r .activation)
	CALL=$(ctl call "act/$ACT/w" wait "{\"v\":{\"@vow\":$HANG}}" |
	    jq -r .vow)
	has_call() { [ "$(doCalls "$ACT")" = 1 ]; }
	wait_until "the call journaled in $ACT" has_call
}
terminated() {
	expect "$1" "$(ctl vow "$2" --wait --timeout 20 |
	    jq -c '[.state, .value["@error"].name, .value["@error"].message]')" \
	    "[\"rejected\",\"Terminated\",\"$3\"]"
}

begin
A=$ACT
CA=$CALL
# Another waiter with its call in flight: A is evicted.
begin
R=$ACT
CR=$CALL
expect "evicted" "$(state_of "$A")" Sleeping
expect "resident" "$(state_of "$R")" Running
expect "pending" "$(ctl vow "$CA" | jq -r .state)" pending

ctl terminate "$A" --reason '{"@error":{"name":"Stop","message":"evicted one"}}' >/dev/null
terminated "the evicted one's call" "$CA" "evicted one"
expect "A done" "$(state_of "$A")" Done
ctl terminate "$R" --reason '{"@error":{"name":"Stop","message":"resident one"}}' >/dev/null
terminated "the resident one's call" "$CR" "resident one"

# Committed with the terminate: a SIGKILL changes nothing.
kill9_daemon
start_daemon --max-resident 1
terminated "after a restart" "$CA" "evicted one"
terminated "after a restart" "$CR" "resident one"
ctl failures | jq -e 'length == 0' >/dev/null || fail "$(ctl failures)"
echo "terminate-calls: ok"
