# asyncflowctl cancel (issue 10, item 5) with a real daemon: a `gather`
# waiting on two client vows and an `approval` waiting on its approver
# are cancelled; each wait returns AF_CANCELLED with the reason, which the
# built-in flows pass on, so their outcomes are rejected with it; the
# request is journaled as doCancel; after a SIGKILL the journals replay to
# the same end. A Done or unknown activation and a reason naming a
# missing vow are refused (cancelling twice while not Done:
# tests/check_engine.c).
# Not here: compensation after a cancel, Sleeping activations
# (tests/check_engine.c).
set -eu
. tests/e2e/lib.inc
start_daemon --retain-journals # Done journals are kept to be looked at
mkvow
V1=$VOW
mkvow
V2=$VOW
out=$(ctl start gather "[{\"@vow\":$V1},{\"@vow\":$V2}]")
G=$(echo "$out" | jq -r .activation)
GO=$(echo "$out" | jq -r '.outcome["@vow"]')
out=$(ctl start approval '{"order":7}')
APP=$(echo "$out" | jq -r .activation)
APPO=$(echo "$out" | jq -r '.outcome["@vow"]')
expect "gather waits" "$(state_of "$G")" Running

REASON='{"@error":{"name":"Cancelled","message":"order withdrawn"}}'
expect "answer" "$(ctl cancel "$G" --reason "$REASON" | jq -c .)" \
    "{\"cancelled\":$G}"
expect "gather outcome" "$(ctl vow "$GO" | jq -c '[.state, .value]')" \
    "[\"rejected\",$REASON]"
expect "journaled" "$(ctl journal "$G" | jq -c '.[-1] | [.kind, .reason]')" \
    "[\"doCancel\",$REASON]"

# No reason: the default error names the activation.
ctl cancel "$APP" >/dev/null
expect "approval outcome" \
    "$(ctl vow "$APPO" | jq -r '[.state, .value["@error"].name] | join(" ")')" \
    "rejected Cancelled"
ctl vow "$APPO" | jq -r '.value["@error"].message' |
    grep -q "activation $APP was cancelled" ||
	fail "the default reason does not name it: $(ctl vow "$APPO")"

# Refused: Done (ESTATE, exit 1), unknown (ENOTFOUND), a reason naming a
# vow that does not exist, a reason that is not JSON (usage, exit 2).
refuse() {
	want_rc=$1
	want=$2
	shift 2
	set +e
	$CTL "$@" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	set -e
	expect "exit of $*" "$rc" "$want_rc"
	grep -q -- "$want" "$WORK/err" || fail "$*: $(cat "$WORK/err")"
}
refuse 1 "ESTATE" cancel "$G"
refuse 1 "is Done" cancel "$APP"
refuse 1 "ENOTFOUND" cancel 999999
mkvow
out=$(ctl start gather "[{\"@vow\":$VOW}]")
G2=$(echo "$out" | jq -r .activation)
refuse 1 "names vow 987654" cancel "$G2" --reason '{"@vow":987654}'
refuse 2 "reason" cancel "$G2" --reason '{not json'
expect "still waiting" "$(state_of "$G2")" Running
# Any value a client may pass is a reason: it reaches the flow as given.
ctl cancel "$G2" --reason '"first"' >/dev/null
expect "first" "$(ctl vow "$(ctl show "$G2" | jq -r '.outcome["@vow"]')" |
    jq -c .value)" '"first"'

# After a SIGKILL the same: journals replay to the same end, nothing
# pending, cancelling a Done one is still refused.
kill9_daemon
start_daemon --retain-journals # Done journals are kept to be looked at
expect "gather after restart" "$(ctl vow "$GO" | jq -c .value)" "$REASON"
expect "state after restart" "$(state_of "$G")" Done
refuse 1 "ESTATE" cancel "$G"
ctl failures | jq -e 'length == 0' >/dev/null ||
	fail "failures after restart: $(ctl failures)"
echo "cancel: ok"
