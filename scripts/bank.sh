#!/bin/sh
# bank.sh: a toy bank served from the shell, for the `transfer` demo flow:
#
#   asyncflowctl serve bank -- scripts/bank.sh
#
# Reads one invocation as JSON on stdin ({"method", "args", "vow"}),
# answers on stdout (exit 0: fulfils the result vow) or fails with a
# message on stderr (non-zero: rejects it). State lives in $BANK_STATE
# (default ./bank-state.json): {"balances": {...}, "closed": [...],
# "done": {VOW: answer}}. Delivery is at least once, so the result vow id is
# the idempotency key: an invocation seen before gets the same answer.
#
# Idempotent across a crash: the new balance and the recorded answer are
# one new state file, renamed over the old one once, under a lock. Killed
# before the rename, nothing happened (the redelivery does it); after it,
# the redelivery finds the answer recorded and repeats it. Not a database:
# the rename is not fsynced (a process crash is covered, a power loss not).
#
# BANK_DIE_AT=N (for kill tests only): at the Nth of its numbered steps,
# counted across runs in $BANK_STATE.points, it kills itself with SIGKILL.
set -eu
state=${BANK_STATE:-./bank-state.json}
in=$(cat)

exec 9>>"$state.lock"
flock 9
die_at() {
	[ -n "${BANK_DIE_AT:-}" ] || return 0
	n=$(($(cat "$state.points" 2>/dev/null || echo 0) + 1))
	echo "$n" >"$state.points"
	[ "$n" -ne "$BANK_DIE_AT" ] || kill -9 $$
}
die_at 1
if [ ! -s "$state" ]; then
	echo '{"balances":{},"closed":[],"done":{}}' >"$state.tmp"
	mv "$state.tmp" "$state"
fi

# The answer and the state it leaves, in one step: {"ok": RESULT} or
# {"error": TEXT} recorded under the vow, the balance with it; null (jq
# exits 1) if the vow has its answer already.
rc=0
printf '%s' "$in" | jq -ec --slurpfile st "$state" '
    $st[0] as $s | .method as $m | (.vow | tostring) as $v |
    (.args.account | if type == "string" then . else tostring end) as $a |
    (.args.amount | if type == "string" then . else tostring end) as $t |
    ($s.balances[$a] // 0) as $bal |
    if $s.done[$v] != null then null
    else
        (if ($t | test("^[0-9]+$") | not) then
            {error: "bad amount: \($t)"}
        else ($t | tonumber) as $n |
            if $m == "withdraw" then
                if $bal < $n then
                    {error: "insufficient funds in \($a): \($bal) < \($n)"}
                else {ok: {account: $a, balance: ($bal - $n)}} end
            elif $m == "deposit" then
                if ($s.closed | index($a)) != null then
                    {error: "account \($a) is closed"}
                else {ok: {account: $a, balance: ($bal + $n)}} end
            else {error: "bank has no method \($m)"} end
        end) as $ans |
        $s | (if $ans.ok then .balances[$a] = $ans.ok.balance else . end) |
        .done[$v] = $ans
    end' >"$state.tmp" || rc=$?
case $rc in
0)
	die_at 2
	mv "$state.tmp" "$state"
	die_at 3 ;;
1) rm -f "$state.tmp" ;;
*) exit "$rc" ;;
esac

# The answer recorded: "ok JSON" or "error TEXT".
reply=$(jq -r --argjson inv "$in" '.done[$inv.vow | tostring] |
    if has("ok") then "ok \(.ok | tojson)" else "error \(.error)" end' \
    "$state")
case $reply in
"ok "*)
	printf '%s\n' "${reply#ok }"
	die_at 4
	exit 0 ;;
esac
printf '%s\n' "${reply#error }" >&2
exit 1
