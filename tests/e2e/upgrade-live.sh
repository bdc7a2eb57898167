# The live upgrade (issue 9, item 3): `asyncflowctl upgrade --module
# PATH` switches a running daemon to checked code while several clients
# settle the approvals of hundreds of waiting activations, then the
# daemon is SIGKILLed in the middle of the stream. Every settle a client
# had acknowledged is there after the restart (its activation finishes),
# the daemon answered every settle until the kill, the new code runs
# (activations approved after the switch return step 3, v3's), the
# restart loads the recorded (new) set, and a failing check switches
# nothing (exit 3) unless --force. The example module's v1/v2/v3.
# run-tests: start early
set -eu
. tests/e2e/lib.inc
M=$B/modules
N=300
CLIENTS=3
start_daemon --durability none --module "$M/example-v1.so"
expect "modules before" "$(ctl modules | jq -c '[.modules[] | [.path,
    (.sha256 | length), .flows]]')" \
    "[[\"$M/example-v1.so\",64,[\"crash\",\"order\",\"pair\"]]]"
"$B/tests/startmany" "$SOCK" order approval - $N >"$WORK/acts" ||
	fail "startmany"
expect "started" "$(wc -l <"$WORK/acts")" $N

# A failing check switches nothing: v2 diverges at index 0.
RC=0
$CTL upgrade --module "$M/example-v2.so" >"$WORK/v2.out" || RC=$?
expect "v2 exit" "$RC" 3
expect "v2 not switched" "$(jq -c '[.ok, (.failing | length)]' "$WORK/v2.out")" \
    "[false,$N]"
grep -q example-v1.so "$DIR/modules/set" || fail "v2 was recorded"

# client K: settle every CLIENTS-th approval from line K, one by one,
# appending the acknowledged ones to acked.K; a refusal while the daemon
# runs is an error (it must answer throughout), one after the kill (the
# file `killed` is made just before it) ends it.
client() {
	k=$1
	awk -v k="$k" -v c=$CLIENTS 'NR % c == k' "$WORK/acts" |
	while read -r act out vow res; do
		if $CTL settle "$vow" --resolver "$res" '"yes"' >/dev/null \
		    2>>"$WORK/client.$k.err"; then
			echo "$act $out" >>"$WORK/acked.$k"
		elif [ ! -e "$WORK/killed" ]; then
			echo "refused while running: $act: $(tail -n 1 \
			    "$WORK/client.$k.err")" >>"$WORK/errors"
		else
			break
		fi
	done
}
acked() {
	cat "$WORK"/acked.* 2>/dev/null | wc -l
}
k=0
while [ $k -lt $CLIENTS ]; do
	client $k &
	echo $! >"$WORK/client.$k.pid"
	k=$((k + 1))
done
wait_until "settles to flow" sh -c "[ \$(cat $WORK/acked.* 2>/dev/null | wc -l) -ge 20 ]"

V1SUM=$(sha256sum "$M/example-v1.so" | cut -d' ' -f1)
grep -q "$V1SUM" "/proc/$DAEMON_PID/maps" || fail "v1 is not mapped"
OUT=$(ctl upgrade --module "$M/example-v3.so")
expect "upgraded" "$(echo "$OUT" | jq -c '[.upgraded, (.modules | length),
    .modules[0].path]')" "[true,1,\"$M/example-v3.so\"]"
echo "$OUT" | jq -e '.modules[0].sha256 | test("^[0-9a-f]{64}$")' >/dev/null ||
	fail "no sha256: $OUT"
echo "$OUT" | jq -e ".activations > 0 and .activations <= $N" >/dev/null ||
	fail "activations: $OUT"
grep -q example-v3.so "$DIR/modules/set" || fail "v3 not recorded"
# The old copy is pruned (no longer in the set); the new one is there.
V3SUM=$(sha256sum "$M/example-v3.so" | cut -d' ' -f1)
[ ! -e "$DIR/modules/$V1SUM.so" ] || fail "the v1 copy was not pruned"
[ -f "$DIR/modules/$V3SUM.so" ] || fail "no v3 copy"
# modules lists the new one: its SHA-256, since when, what it registered.
expect "modules after" "$(ctl modules | jq -c '[.modules[] | [.path, .sha256,
    (.since | length > 0), .flows, .objects]]')" \
    "[[\"$M/example-v3.so\",$(echo "$OUT" | jq .modules[0].sha256),true,[\"crash\",\"order\",\"pair\"],[\"ledger\"]]]"
# The old module goes once no activation in memory runs its code (the
# switch drops them a bounded number per pass, or replays them under v3
# when a settle reaches them first).
v1_unloaded() {
	! grep -q "$V1SUM" "/proc/$DAEMON_PID/maps"
}
wait_until "the v1 module to be unloaded" v1_unloaded
AT_SWITCH=$(acked)
# Some settles after the switch, then SIGKILL in the middle of the stream.
wait_until "settles after the switch" sh -c \
    "[ \$(cat $WORK/acked.* 2>/dev/null | wc -l) -ge $((AT_SWITCH + 30)) ]"
touch "$WORK/killed"
kill9_daemon
k=0
while [ $k -lt $CLIENTS ]; do
	wait "$(cat "$WORK/client.$k.pid")" || true
	rm -f "$WORK/client.$k.pid"
	k=$((k + 1))
done
[ ! -s "$WORK/errors" ] || fail "$(cat "$WORK/errors")"
ACKED=$(acked)
[ "$ACKED" -lt $N ] || fail "the kill came after every settle"

# The restart loads the recorded set, v3: no --module, no check.
start_daemon --durability none
expect "modules" "$(ctl modules | jq -c '.flows | index("order") != null')" true
# Every acknowledged settle took effect: its activation finishes, approved.
step3=0
for f in "$WORK"/acked.*; do
	while read -r act out; do
		v=$(ctl vow "$out" --wait --timeout 20 | jq -c .value)
		case $v in
		'{"approved":"yes","step":1}') ;;
		'{"approved":"yes","step":3}') step3=$((step3 + 1)) ;;
		*) fail "activation $act: outcome $v" ;;
		esac
	done <"$f"
done
# Those approved after the switch ran v3's code.
[ "$step3" -ge 30 ] || fail "only $step3 outcomes from v3"
# The others still wait, under v3.
expect "waiting" "$(ctl ls --state Running | jq length)" $((N - ACKED))
stop_daemon
