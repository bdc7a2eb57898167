# Restart as upgrade: v1 -> v2 diverges (refused by the upgrade check;
# forced: Failed, listed, outcome pending, no effect) -> v3 fixed (the
# check passes; the activation completes).
set -eu
. tests/e2e/lib.inc
M=$B/modules
start_daemon --module "$M/example-v1.so"
mkvow
out=$(ctl start order "{\"approval\":{\"@vow\":$VOW}}")
ACT=$(echo "$out" | jq -r .activation)
OUT=$(echo "$out" | jq -r '.outcome["@vow"]')
expect "v1 state" "$(state_of "$ACT")" Running
journal=$(ctl journal "$ACT" | jq -c .)
stop_daemon

# A restart with v2 is an upgrade that fails the check: refused, the
# report on stderr naming the activation and the index, the recorded set
# unchanged; --force-upgrade switches anyway.
refused "\"activation\": $ACT, \"flow\": \"order\", \"verdict\": \"diverged\"" \
    --module "$M/example-v2.so"
grep -q '"index": 0' "$WORK/err" || fail "no index: $(cat "$WORK/err")"
grep -q "example-v1.so" "$DIR/modules/set" ||
	fail "the refused set was recorded: $(cat "$DIR/modules/set")"
start_daemon --force-upgrade --module "$M/example-v2.so"
expect "v2 state" "$(state_of "$ACT")" Failed
ctl show "$ACT" | jq -r .failure | grep -q "journal index 0" ||
	fail "diagnostic does not name the index: $(ctl show "$ACT")"
expect "failures" "$(ctl failures | jq -c '[.[].activation]')" "[$ACT]"
ctl settle "$VOW" --resolver "$RES" '"yes"' >/dev/null
# The settle's reply comes after the commit of its pass, the pass that
# delivers it to its waiters and runs them. A later write (mkvow, answered
# after a later pass's commit) proves that pass and any it chained are over:
# no wall-clock wait decides the checks below.
ctl mkvow >/dev/null
expect "v2 outcome" "$(ctl vow "$OUT" | jq -r .state)" pending
expect "v2 journal unchanged" "$(ctl journal "$ACT" | jq -c .)" "$journal"
kill9_daemon

start_daemon --module "$M/example-v3.so"
expect "v3 outcome" "$(ctl vow "$OUT" --wait --timeout 10 | jq -c .value)" \
    '{"approved":"yes","step":3}'
expect "v3 state" "$(state_of "$ACT")" Done
expect "no failures" "$(ctl failures | jq -c .)" "[]"
stop_daemon
