# The socket: mode 0600 and only our uid by default; with --socket-group,
# mode 0660 and peers of that group too; others are refused.
set -eu
. tests/e2e/lib.inc
command -v setpriv >/dev/null || fail "no setpriv"
[ "$(id -u)" -eq 0 ] || skip "needs root to act as another uid"
start_daemon
expect "mode" "$(stat -c %a "$SOCK")" 600
stop_daemon
# A socket another uid can reach through the directories.
chmod 0755 "$WORK"
SOCK=$WORK/open.sock
CTL="$B/asyncflowctl -s $SOCK"
start_daemon -s "$SOCK" --socket-group nogroup
expect "group mode" "$(stat -c %a "$SOCK")" 660
expect "group" "$(stat -c %G "$SOCK")" nogroup
chmod 0755 "$B" 2>/dev/null || true
as_nobody() {
	setpriv --reuid=nobody --regid="$1" --clear-groups "$B/asyncflowctl" \
	    -s "$SOCK" stats >/dev/null 2>&1
}
as_nobody nogroup || fail "a peer of the socket's group was refused"
if as_nobody daemon; then
	fail "a peer of another uid and group was accepted"
fi
# Past the file mode, the daemon's own peer check still refuses strangers.
chmod 0666 "$SOCK"
if as_nobody daemon; then
	fail "the peer credential check let another uid in"
fi
grep -q "refused a connection from uid" "$WORK/daemon.log" ||
	fail "no log line for the refused peer"
stop_daemon
