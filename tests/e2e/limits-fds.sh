# Out of file descriptors, the daemon rests its listener and retries
# instead of spinning in accept() (which logged "Too many open files"
# ~600,000 times in 5 s): the failure is logged once for the episode, and
# the daemon serves again once descriptors are free.
set -eu
. tests/e2e/lib.inc
RF=$B/tests/rawframe
[ -x "$RF" ] || skip "no rawframe"
command -v prlimit >/dev/null || skip "no prlimit"
# 40 descriptors, and a connection cap above them: accept() hits EMFILE.
start_daemon --max-connections 1000
prlimit --pid "$DAEMON_PID" --nofile=40:40
# 60 connections that send nothing: more than the descriptors left.
"$RF" "$SOCK" hold 60 >"$WORK/hold.out" 2>&1 &
echo $! >"$WORK/hold.pid"
wait_until "the holder's connections" grep -q "held=60" "$WORK/hold.out"
wait_until "the EMFILE log line" \
    grep -q "accepting a connection failed: Too many open files" \
    "$WORK/daemon.log"
# The episode ends when the holder goes: the daemon serves again.
kill_pidfile "$WORK/hold.pid"
wait_until "the daemon to serve again" $CTL stats >/dev/null 2>&1
ctl start echo '{"after":"emfile"}' >/dev/null
expect "lines logged for the episode" \
    "$(grep -c "accepting a connection failed" "$WORK/daemon.log")" 1
if grep -q "Error from accept" "$WORK/daemon.log"; then
	fail "libevent's accept loop logged"
fi
stop_daemon
