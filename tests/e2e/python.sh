# The Python client (client/python) against a real daemon: every operation
# and serving an object with a Python function (tests/python/test_client.py,
# unittest), then a client and a server living through a SIGKILL and
# restart of the daemon (restarted without the module the first one had,
# so that failures and wake see a Failed activation). Skipped when there
# is no python3 with google.protobuf (Debian: python3 python3-protobuf).
set -eu
. tests/e2e/lib.inc
PY=
for p in ${PYTHON:-} python3 /usr/bin/python3; do
	if "$p" -c 'import google.protobuf' >/dev/null 2>&1; then
		PY=$p
		break
	fi
done
[ -n "$PY" ] || skip "no python3 with google.protobuf (python3-protobuf)"
[ -f "$B/python/asyncflow/asyncflow_pb2.py" ] ||
    fail "the Python package is not built: make python B=$B"
export PYTHONPATH="$B/python" ASYNCFLOW_SOCKET="$SOCK" AF_WORK="$WORK" \
    AF_ROOT="$(pwd)"
start_daemon --module "$B/modules/example-v1.so"
"$PY" tests/python/test_client.py 2>&1 || fail "test_client.py"

# A SIGKILL in the middle: the client process holds an invocation and a
# watched vow when the daemon dies, then reconnects to the new one.
"$PY" tests/python/test_client.py restart >"$WORK/restart.log" 2>&1 &
PYPID=$!
echo "$PYPID" >"$WORK/pyclient.pid"
wait_for_file "$WORK/ready"
kill9_daemon
touch "$WORK/killed"
rm "$DIR/modules/set" # else a start without --module loads the recorded set
start_daemon # without example-v1.so: its activation becomes Failed
rc=0
wait "$PYPID" || rc=$?
rm -f "$WORK/pyclient.pid"
cat "$WORK/restart.log"
[ "$rc" -eq 0 ] || fail "the restart scenario exited $rc"
stop_daemon
