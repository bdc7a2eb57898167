# A forced live upgrade (issue 9, item 3: `asyncflowctl upgrade --force`)
# fails, at once, the activations its check found failing, as a restart
# with the new code does: their replay under the new code makes them
# Failed with the divergence, while the switch itself replays nothing
# else (the waiting ones replay when an event needs them). The example
# module's v2 diverges at journal index 0 from v1's `order`.
set -eu
. tests/e2e/lib.inc
M=$B/modules
N=10
start_daemon --durability none --module "$M/example-v1.so"
"$B/tests/startmany" "$SOCK" order approval - $N >"$WORK/acts" ||
	fail "startmany"
expect "none failed" "$(ctl failures | jq length)" 0
OUT=$($CTL upgrade --force --module "$M/example-v2.so") ||
	fail "upgrade --force: $OUT"
expect "upgraded" "$(echo "$OUT" | jq .upgraded)" true
expect "activations" "$(echo "$OUT" | jq .activations)" $N
failed_all() {
	[ "$(ctl failures | jq length)" -eq $N ]
}
wait_until "the $N failing ones to be Failed" failed_all
ctl failures | jq -r '.[].failure' | grep -q "replay diverged at journal index 0" ||
	fail "diagnostic: $(ctl failures)"
grep -q example-v2.so "$DIR/modules/set" || fail "v2 not recorded"
stop_daemon
echo "upgrade-force: $N Failed at the switch, with their divergence"
