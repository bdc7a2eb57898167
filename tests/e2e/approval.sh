# approval across a restart: the flow hands a resolver to the approver, which
# settles the flow's vow with it directly.
set -eu
. tests/e2e/lib.inc
start_daemon
out=$(ctl start approval '{"order":7}')
ACT=$(echo "$out" | jq -r .activation)
OUT=$(echo "$out" | jq -r '.outcome["@vow"]')
kill9_daemon
start_daemon
expect "state" "$(state_of "$ACT")" Running
serve approver sh scripts/approver.sh
expect "outcome" "$(ctl vow "$OUT" --wait --timeout 20 | jq -c .value)" \
    '{"about":{"order":7},"approved":true}'
# The secret never appears in the journal or show: only {"@resolver": N}.
ctl show "$ACT" >"$WORK/show.json"
ctl journal "$ACT" >"$WORK/journal.json" 2>/dev/null || true
if grep -q '"resolver":"[0-9a-f]\{32\}"' "$WORK/show.json" "$WORK/journal.json"; then
	fail "a resolver secret is visible"
fi
kill "$SERVER_PID" 2>/dev/null || true
stop_daemon
