# Bad input over the real socket: idempotent start, unknown flow, settle
# twice, wrong resolver, garbage/truncated/oversized frames.
set -eu
. tests/e2e/lib.inc
start_daemon

a=$(ctl start echo '{"x":1}' --key k1)
b=$(ctl start echo '{"x":1}' --key k1)
expect "idempotent start" "$b" "$a"
if $CTL start echo '{"x":2}' --key k1 >/dev/null 2>"$WORK/err"; then
	fail "same key with other args accepted"
fi
grep -q "idempotency" "$WORK/err" || fail "no clear error: $(cat "$WORK/err")"

if $CTL start no_such_flow >/dev/null 2>"$WORK/err"; then
	fail "unknown flow accepted"
fi
grep -q "unknown flow no_such_flow" "$WORK/err" || fail "message: $(cat "$WORK/err")"

mkvow
ctl settle "$VOW" --resolver "$RES" 1 >/dev/null
ctl settle "$VOW" --resolver "$RES" 1 >/dev/null    # identical: ok
if $CTL settle "$VOW" --resolver "$RES" 2 >/dev/null 2>&1; then
	fail "a different second settlement was accepted"
fi
mkvow
case $RES in f*) bad=0${RES#?} ;; *) bad=f${RES#?} ;; esac
if $CTL settle "$VOW" --resolver "$bad" 1 >/dev/null 2>&1; then
	fail "wrong resolver accepted"
fi
expect "still pending" "$(ctl vow "$VOW" | jq -r .state)" pending

for mode in garbage oversized truncated; do
	# Another client is connected meanwhile and must be unaffected.
	r=$("$B/tests/rawframe" "$SOCK" $mode)
	case $r in *closed=1) ;; *) fail "$mode: connection not closed: $r" ;; esac
	case $mode in truncated) ;; *)
		case $r in reply_bytes=0*) fail "$mode: no error reply" ;; esac ;;
	esac
	ctl stats >/dev/null
done
# Args that are not the canonical encoding (record keys out of order) are
# refused with a clear error; the connection stays open (closed=0: a stats
# request sent after it on the same connection was answered).
r=$("$B/tests/rawframe" "$SOCK" unsorted)
case $r in *closed=0*EDECODE*"malformed encoding"*) ;;
*) fail "non-canonical args: $r" ;; esac
expect "nothing started" "$(ctl ls | jq '[.[] | select(.flow == "echo")] | length')" 1
# The depth guard: a request nesting deeper than the daemon's protobuf
# limit (AF_MAX_DEPTH, 64 messages) is refused before the recursive decoder
# sees it, with an error reply, and the connection is closed. 31 lists in a
# start's args nest 65 deep; 100000 would overflow an unguarded decoder's
# stack.
for n in 31 100000; do
	r=$("$B/tests/rawframe" "$SOCK" deep $n)
	case $r in *closed=1*EPROTO*"frame does not decode"*) ;;
	*) fail "deep $n: $r" ;; esac
	kill -0 "$DAEMON_PID" || fail "deep $n: the daemon died"
	ctl stats >/dev/null
done
# At the limit (30 lists: 63 deep) the frame decodes and the value (31
# levels, over AF_VALUE_MAX_DEPTH) is refused as too deep; the connection
# stays open.
r=$("$B/tests/rawframe" "$SOCK" deep 30)
case $r in *closed=0*ELIMIT*"too deep"*) ;;
*) fail "deep 30: $r" ;; esac
expect "nothing started" "$(ctl ls | jq '[.[] | select(.flow == "echo")] | length')" 1
# A client of another protocol version is told both versions.
r=$("$B/tests/rawframe" "$SOCK" badversion)
case $r in *closed=1*"client speaks 99, asyncflowd speaks 2"*) ;;
*) fail "version mismatch: $r" ;; esac
kill -0 "$DAEMON_PID" || fail "daemon died"
stop_daemon
