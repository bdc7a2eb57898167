# asyncflowctl terminate (issue 9, item 7): a Running activation with a
# pending timer, and one waiting on an eventual send's result, are given
# up on: their outcome is rejected with a Terminated error, they are Done,
# the timer is cancelled, and a restart (SIGKILL) leaves them so. A Done
# activation and a --reason that is not an error are refused.
# Not here: Failed and quarantined ones (tests/check_engine.c).
set -eu
. tests/e2e/lib.inc
start_daemon
out=$(ctl start nap '{"ms":600000}')
NAP=$(echo "$out" | jq -r .activation)
NAPO=$(echo "$out" | jq -r '.outcome["@vow"]')
out=$(ctl start approval '{"order":7}')
APP=$(echo "$out" | jq -r .activation)
APPO=$(echo "$out" | jq -r '.outcome["@vow"]')
expect "timers" "$(ctl stats | jq .timers_pending)" 1
expect "running" "$(state_of "$NAP")" Running

expect "answer" "$(ctl terminate "$NAP" | jq -c .)" "{\"terminated\":$NAP}"
expect "nap state" "$(state_of "$NAP")" Done
expect "nap outcome" "$(ctl vow "$NAPO" | jq -c '[.state, .value["@error"].name]')" \
    '["rejected","Terminated"]'
ctl vow "$NAPO" | jq -r '.value["@error"].message' | grep -q "was terminated while Running" ||
	fail "the default message does not say what happened: $(ctl vow "$NAPO")"
expect "timer cancelled" "$(ctl stats | jq .timers_pending)" 0
ctl show "$NAP" | jq -r .failure | grep -q '^terminated: ' ||
	fail "show does not say it was terminated: $(ctl show "$NAP")"

ctl terminate "$APP" --reason '{"@error":{"name":"Cancel","message":"order withdrawn"}}' >/dev/null
expect "approval outcome" "$(ctl vow "$APPO" | jq -c .value)" \
    '{"@error":{"name":"Terminated","message":"order withdrawn"}}'

# Refused: Done already (an error naming it), a reason that is no error
# (a usage error), an unknown id.
if $CTL terminate "$NAP" >"$WORK/out" 2>"$WORK/err"; then
	fail "terminating a Done activation succeeded"
fi
grep -q "ESTATE" "$WORK/err" && grep -q "is Done" "$WORK/err" ||
	fail "terminate of a Done activation: $(cat "$WORK/err")"
set +e
$CTL terminate "$APP" --reason '{"message":"x"}' >"$WORK/out" 2>"$WORK/err"
rc=$?
set -e
expect "usage error" "$rc" 2
grep -q -- "--reason must be an error" "$WORK/err" || fail "$(cat "$WORK/err")"
if $CTL terminate 999999 >"$WORK/out" 2>"$WORK/err"; then
	fail "terminating an unknown activation succeeded"
fi
grep -q "ENOTFOUND" "$WORK/err" || fail "$(cat "$WORK/err")"

# The Python client's terminate, where there is a python3 with protobuf.
PY=
for p in ${PYTHON:-} python3 /usr/bin/python3; do
	if "$p" -c 'import google.protobuf' >/dev/null 2>&1; then
		PY=$p
		break
	fi
done
if [ -n "$PY" ] && [ -f "$B/python/asyncflow/asyncflow_pb2.py" ]; then
	out=$(ctl start nap '{"ms":600000}')
	PYA=$(echo "$out" | jq -r .activation)
	PYO=$(echo "$out" | jq -r '.outcome["@vow"]')
	PYTHONPATH="$B/python" ASYNCFLOW_SOCKET="$SOCK" "$PY" -c "
import sys, asyncflow
c = asyncflow.connect()
c.terminate(int(sys.argv[1]), 'from python')
try:
    c.terminate(int(sys.argv[1]))
except asyncflow.ESTATE as e:
    assert e.name == 'ESTATE', e
else:
    sys.exit('terminating a Done activation succeeded')
" "$PYA" || fail "the Python client's terminate"
	expect "python outcome" "$(ctl vow "$PYO" | jq -c .value)" \
	    '{"@error":{"name":"Terminated","message":"from python"}}'
fi

# After a crash they stay Done, and nothing of theirs runs or waits.
kill9_daemon
start_daemon
expect "nap after restart" "$(state_of "$NAP")" Done
expect "approval after restart" "$(state_of "$APP")" Done
expect "no timer after restart" "$(ctl stats | jq .timers_pending)" 0
expect "nap outcome after restart" "$(ctl vow "$NAPO" | jq -r .state)" rejected
stop_daemon
