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
set -eu
state=${BANK_STATE:-./bank-state.json}
in=$(cat)
method=$(printf '%s' "$in" | jq -r .method)
acct=$(printf '%s' "$in" | jq -r .args.account)
amount=$(printf '%s' "$in" | jq -r .args.amount)
vow=$(printf '%s' "$in" | jq -r .vow)

exec 9>>"$state.lock"
flock 9
[ -s "$state" ] || echo '{"balances":{},"closed":[],"done":{}}' >"$state"

answer() {  # ok|error TEXT_OR_JSON
	tmp=$state.tmp
	jq --arg v "$vow" --arg k "$1" --argjson a "$2" \
	    '.done[$v] = {($k): $a}' "$state" >"$tmp" && mv "$tmp" "$state"
}
reply() {
	prev=$(jq -c --arg v "$vow" '.done[$v] // empty' "$state")
	if [ "$(printf '%s' "$prev" | jq -r 'has("ok")')" = true ]; then
		printf '%s' "$prev" | jq -c .ok
		exit 0
	fi
	printf '%s' "$prev" | jq -r .error >&2
	exit 1
}

[ -n "$(jq -c --arg v "$vow" '.done[$v] // empty' "$state")" ] && reply

case $amount in
''|*[!0-9]*) answer error "\"bad amount: $amount\""; reply ;;
esac
bal=$(jq --arg a "$acct" '.balances[$a] // 0' "$state")
closed=$(jq --arg a "$acct" '.closed | index($a) != null' "$state")
case $method in
withdraw)
	if [ "$bal" -lt "$amount" ]; then
		answer error "\"insufficient funds in $acct: $bal < $amount\""
	else
		jq --arg a "$acct" --argjson n "$amount" \
		    '.balances[$a] = ((.balances[$a] // 0) - $n)' "$state" \
		    >"$state.tmp" && mv "$state.tmp" "$state"
		answer ok "{\"account\":\"$acct\",\"balance\":$((bal - amount))}"
	fi ;;
deposit)
	if [ "$closed" = true ]; then
		answer error "\"account $acct is closed\""
	else
		jq --arg a "$acct" --argjson n "$amount" \
		    '.balances[$a] = ((.balances[$a] // 0) + $n)' "$state" \
		    >"$state.tmp" && mv "$state.tmp" "$state"
		answer ok "{\"account\":\"$acct\",\"balance\":$((bal + amount))}"
	fi ;;
*)
	answer error "\"bank has no method $method\"" ;;
esac
reply
