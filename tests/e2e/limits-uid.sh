# What all connections of one uid buffer is bounded (--max-uid-buffer):
# connections that stall big partial frames push it over, and the one
# that does is closed with a clear error reply; the uid's others and every
# other client are served, and what the closed ones buffered is released.
set -eu
. tests/e2e/lib.inc
RF=$B/tests/rawframe
[ -x "$RF" ] || skip "no rawframe"
start_daemon --max-uid-buffer 40
# 4 connections, each all but the last byte of a 16 MiB frame: the third
# crosses 40 MiB and is closed, so is the fourth.
"$RF" "$SOCK" stall 4 16 >"$WORK/stall.out" 2>&1 &
echo $! >"$WORK/stall.pid"
wait_until "the stalls" grep -q "closed=" "$WORK/stall.out"
case $(cat "$WORK/stall.out") in
"closed=2 "*"over the limit of 41943040 (--max-uid-buffer): closing this one"*) ;;
*) fail "stalls: $(cat "$WORK/stall.out")" ;;
esac
grep -q "uid $(id -u): its [0-9]* connections buffer [0-9]* bytes, over --max-uid-buffer" \
    "$WORK/daemon.log" || fail "no log line for the uid over its bound"
# The uid's two stalled frames stay; a new small request is served.
ctl start echo '{"while":"stalled"}' >/dev/null
kill_pidfile "$WORK/stall.pid"
only_us() {
	[ "$($CTL stats | jq .connections)" = 1 ]
}
wait_until "the stalled connections to close" only_us
# Released: with the stalls gone, the uid can buffer as much again.
"$RF" "$SOCK" stall 2 16 >"$WORK/stall2.out" 2>&1 &
echo $! >"$WORK/stall.pid"
wait_until "the second stalls" grep -q "closed=" "$WORK/stall2.out"
expect "second stalls" "$(cut -d' ' -f1 "$WORK/stall2.out")" closed=0
kill_pidfile "$WORK/stall.pid"
ctl stats >/dev/null
stop_daemon
