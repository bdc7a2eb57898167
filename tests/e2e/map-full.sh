# A full map (MDB_MAP_FULL): the requests of the failing pass get a clear
# error, nothing committed is lost or changed, the daemon keeps serving and
# comes back after a restart.
set -eu
. tests/e2e/lib.inc
start_daemon --map-size 1
mkvow
big=$(head -c 20000 /dev/zero | tr '\0' 'y')
i=0
ok=0
while [ $i -lt 200 ]; do
	if $CTL start gather "[{\"@vow\":$VOW},\"$big\"]" >"$WORK/out" 2>"$WORK/err"; then
		ok=$((ok + 1))
		cp "$WORK/out" "$WORK/last-ok"
	else
		break
	fi
	i=$((i + 1))
done
[ $i -lt 200 ] || fail "the map never filled"
grep -q "EFULL\\|full" "$WORK/err" || fail "unclear error: $(cat "$WORK/err")"
[ $ok -gt 0 ] || fail "nothing fit"
last=$(jq -r .activation "$WORK/last-ok")
kill -0 "$DAEMON_PID" || fail "daemon died"
# Still serving what it has.
expect "last committed" "$(state_of "$last")" Running
expect "first committed" "$(state_of 1)" Running
stop_daemon
start_daemon --map-size 1
expect "after restart" "$(state_of "$last")" Running
expect "count" "$(ctl ls --state Running | jq length)" "$ok"
stop_daemon
