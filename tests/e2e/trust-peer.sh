# The client trusts a socket only when a daemon of its own uid or root
# serves it: a socket served by another uid is refused before anything is
# sent (it could harvest resolver secrets), with a message naming the
# socket and the uid, unless asyncflowctl --trust-uid names that uid.
set -eu
. tests/e2e/lib.inc
[ "$(id -u)" -eq 0 ] || skip "needs root to run as other uids"
command -v setpriv >/dev/null || skip "no setpriv"

# The daemon runs as nobody (65534) in a directory of its own; its socket
# admits the group nogroup. The client runs as uid 12345 in that group.
chmod 0711 "$WORK"
chmod 0755 "$B" 2>/dev/null || true
mkdir -m 0711 "$WORK/nd"
chown 65534:65534 "$WORK/nd"
SOCK=$WORK/nd/s.sock
setpriv --reuid=65534 --regid=65534 --clear-groups "$B/asyncflowd" \
    -d "$WORK/nd/data" -s "$SOCK" --socket-group nogroup \
    >>"$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!
as_client() {
	setpriv --reuid=12345 --regid=65534 --clear-groups \
	    "$B/asyncflowctl" -s "$SOCK" "$@"
}
# The positive check first: told to trust uid 65534, the client talks.
wait_until "the daemon of uid 65534" as_client --trust-uid 65534 stats \
    >/dev/null 2>&1
expect "connections of the trusted client" \
    "$(as_client --trust-uid 65534 stats | jq -r .connections)" 1

# Untold, the client of another uid refuses it.
if as_client stats >"$WORK/out" 2>"$WORK/err"; then
	fail "a client of uid 12345 talked to a daemon of uid 65534"
fi
grep -qF "socket $SOCK is served by uid 65534, not you (uid 12345) or root" \
    "$WORK/err" || fail "no clear refusal: $(cat "$WORK/err")"
expect "stdout of the refusal" "$(cat "$WORK/out")" ""
# So does root: root trusts root's daemons and its own, not everyone's.
if $B/asyncflowctl -s "$SOCK" stats >"$WORK/out" 2>"$WORK/err"; then
	fail "root talked to a daemon of uid 65534"
fi
grep -qF "socket $SOCK is served by uid 65534, not you (uid 0) or root" \
    "$WORK/err" || fail "no clear refusal for root: $(cat "$WORK/err")"
stop_daemon
