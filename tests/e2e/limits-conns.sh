# --max-connections N: the N+1th connection gets a clear error reply
# ("too many connections ... --max-connections") and is closed; once some
# close, connections are accepted again. A connection that has begun a
# frame and stalls is closed after --idle-timeout, with an error reply.
set -eu
. tests/e2e/lib.inc
RF=$B/tests/rawframe
[ -x "$RF" ] || skip "no rawframe"
start_daemon --max-connections 5 --idle-timeout 1
# The 5 allowed, held open (the start-up probe closed before they
# connected: the daemon sees its EOF first). They wait in the listen
# backlog ahead of asyncflowctl's, which is the 6th.
"$RF" "$SOCK" hold 5 >"$WORK/hold.out" 2>&1 &
echo $! >"$WORK/hold.pid"
wait_until "the holder's connections" grep -q "held=5" "$WORK/hold.out"
if $CTL stats >"$WORK/out" 2>"$WORK/err"; then
	fail "a 6th connection was served"
fi
grep -q "too many connections: the daemon serves at most 5 (--max-connections)" \
    "$WORK/err" || fail "no clear refusal: $(cat "$WORK/err")"
grep -q -- "--max-connections 5 reached" "$WORK/daemon.log" ||
	fail "no log line for the cap"
kill_pidfile "$WORK/hold.pid"
wait_until "the daemon to serve again" $CTL stats >/dev/null 2>&1

# Half a frame: the daemon closes the connection (EOF is the event
# rawframe waits for) and says why.
out=$("$RF" "$SOCK" half)
case $out in
"closed=1 "*"incomplete frame for 1 s (--idle-timeout)"*) ;;
*) fail "half a frame: $out" ;;
esac
grep -q "a frame has been incomplete for 1 s" "$WORK/daemon.log" ||
	fail "no log line for the stalled frame"
ctl stats >/dev/null
stop_daemon
