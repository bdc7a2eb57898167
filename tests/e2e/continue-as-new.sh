# af_continue_as_new (issue 8, item 4) through a real daemon and module
# (tests/modules/rounds.c): `rounds` awaits one vow a round and continues
# as new with the rest. Its journal never holds more than one round, its
# args say how far it got, the vows it carries over stay held (one
# settled before its round comes, one after a SIGKILL), and a SIGKILL
# right after a round loses nothing: the next daemon replays from the
# last continue-as-new and finishes with the right sum.
set -eu
. tests/e2e/lib.inc
CC=${CC:-cc}
$CC -shared -fPIC -Iinclude -o "$WORK/rounds.so" tests/modules/rounds.c ||
	fail "building the module"
start_daemon --module "$WORK/rounds.so"
left=
for i in 1 2 3 4 5; do
	mkvow
	eval "V$i=\$VOW R$i=\$RES"
	left="$left${left:+,}{\"@vow\":$VOW}"
done
out=$(ctl start rounds "{\"left\":[$left],\"sum\":0}")
A=$(echo "$out" | jq -r .activation)
O=$(echo "$out" | jq -r '.outcome["@vow"]')
# settle_nth N VALUE: settle the Nth vow of the list.
settle_nth() {
	eval "v=\$V$1 r=\$R$1"
	ctl settle "$v" --resolver "$r" "$2" >/dev/null
}
# The fourth is settled long before its round.
settle_nth 4 1000
settle_nth 1 1
wait_until "the first round to end" sh -c "[ \"\$($CTL show $A | jq '.args.left | length')\" = 4 ]"
expect "sum after one round" "$(ctl show "$A" | jq .args.sum)" 1
settle_nth 2 20
wait_until "the second round to end" sh -c "[ \"\$($CTL show $A | jq '.args.left | length')\" = 3 ]"
jlen=$(ctl show "$A" | jq .journal_length)
[ "$jlen" -le 2 ] || fail "journal of one round holds $jlen entries"
kill9_daemon
start_daemon --module "$WORK/rounds.so"
expect "args after the kill" "$(ctl show "$A" | jq -c '[.args.sum, (.args.left | length)]')" '[21,3]'
expect "state after the kill" "$(state_of "$A")" Running
settle_nth 3 300
settle_nth 5 5000
expect "outcome" "$(ctl vow "$O" --wait --timeout 20 | jq -c .value)" 6321
expect "state" "$(state_of "$A")" Done
stop_daemon
