# show explains what a flow is blocked on, on a real daemon, across a
# SIGKILL and restart: a flow awaiting a client's vow (gather), a
# coroutine awaiting a timer (with its due time),
# an all-set of a client's vow and a send's result, whether a server of
# the send's object is connected (none, one, none after the restart, one
# again), created and last-progress times, and the incarnation that last
# wrote the journal (which moves to 2 while "incarnation", that created
# the activation, stays 1).
set -eu
. tests/e2e/lib.inc
command -v cc >/dev/null 2>&1 || skip "no C compiler for the test module"
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# The flow: coroutine 0 waits for all of [args.v, bank.withdraw's result],
# coroutine 1 (spawned) for a timer of args.ms.
cat >"$WORK/blocker.c" <<'EOF'
#include "asyncflow/flow.h"

static void
nap(struct af_flow *f, void *arg)
{
	const struct af_value *due;

	af_await(f, arg, &due);
}

static int
blocker(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *t, *sent, *set[2];

	if (af_send(f, "bank", "withdraw", af_int(af_flow_arena(f), 1),
		&sent) != AF_OK ||
	    (t = af_sleep(f, af_get(args, "ms")->u.i)) == NULL ||
	    af_spawn(f, nap, (void *)t) != AF_OK)
		return AF_REJECTED;
	set[0] = af_get(args, "v");
	set[1] = sent;
	return af_all(f, set, 2, result);
}

int af_module_init(struct af_registry *r, unsigned abi);

int
af_module_init(struct af_registry *r, unsigned abi)
{
	if (abi != AF_MODULE_ABI)
		return AF_EINVAL;
	return af_register_flow(r, "blocker", blocker);
}
EOF
cc -shared -fPIC -Iinclude -o "$WORK/blocker.so" "$WORK/blocker.c" ||
	fail "cannot build the test module"

# A server of bank that never answers: CMD records its PID (killed at
# exit) and sleeps.
cat >"$WORK/hang.sh" <<EOF
#!/bin/sh
echo \$\$ >"$WORK/hang.pid"
exec sleep 600
EOF
chmod +x "$WORK/hang.sh"

start_daemon --module "$WORK/blocker.so"
mkvow
t0=$(now_ms)
out=$(ctl start blocker "{\"ms\": 600000, \"v\": {\"@vow\": $VOW}}")
t1=$(now_ms)
A=$(echo "$out" | jq -r .activation)
ctl show "$A" >"$WORK/s1"
# blocked_of FILE: the waits, one line per vow.
blocked_of() {
	jq -r '.blocked_on[] | .coroutine as $c | .wait as $w | .vows[] |
	    "\($c) \($w) \(.kind) \(.vow["@vow"]) \(.settled)" +
	    (if .kind == "send" then " \(.object).\(.method) \(.server_connected)"
	     else "" end)' "$1"
}
SENT=$(jq -r '.invocations[0].vow["@vow"]' "$WORK/s1")
TIMER=$(jq -r '.blocked_on[] | select(.coroutine == 1) | .vows[0].vow["@vow"]' "$WORK/s1")
expect "blocked on, no server" "$(blocked_of "$WORK/s1")" "0 all vow $VOW false
0 all send $SENT false bank.withdraw false
1 await timer $TIMER false"
# The timer's due time: 600 s after the start, in ms and as ISO 8601 UTC.
due=$(jq -r '.blocked_on[1].vows[0].due_ms' "$WORK/s1")
[ "$due" -ge $((t0 + 600000)) ] && [ "$due" -le $((t1 + 600000)) ] ||
	fail "due_ms $due not 600 s after the start ($t0..$t1)"
expect "due as ISO 8601" "$(jq -r '.blocked_on[1].vows[0].due' "$WORK/s1")" \
	"$(date -u -d "@$((due / 1000))" +%Y-%m-%dT%H:%M:%S).$(printf %03d $((due % 1000)))Z"
created=$(jq -r .created_ms "$WORK/s1")
[ "$created" -ge "$t0" ] && [ "$created" -le "$t1" ] ||
	fail "created_ms $created not within the start ($t0..$t1)"
expect "created ISO" "$(jq -r .created "$WORK/s1" | cut -c1-19)" \
	"$(date -u -d "@$((created / 1000))" +%Y-%m-%dT%H:%M:%S)"
progress=$(jq -r .last_progress_ms "$WORK/s1")
[ "$progress" -ge "$created" ] || fail "last progress before creation"
expect "incarnations" "$(jq -c '[.incarnation, .last_incarnation]' "$WORK/s1")" "[1,1]"

# A plain af_await of a client's vow: the built-in gather.
VOW1=$VOW
RES1=$RES
mkvow
G=$(ctl start gather "[{\"@vow\": $VOW}]" | jq -r .activation)
ctl show "$G" >"$WORK/g1"
expect "gather blocked on" "$(blocked_of "$WORK/g1")" "0 await vow $VOW false"
VOW2=$VOW
RES2=$RES
VOW=$VOW1
RES=$RES1

# A server connects: the send's line says so.
serve bank "$WORK/hang.sh"
echo "$SERVER_PID" >"$WORK/server.pid"
connected() {
	[ "$($CTL show "$A" | jq -r '.blocked_on[0].vows[1].server_connected')" = true ]
}
wait_until "the server to show as connected" connected
wait_for_file "$WORK/hang.pid"
wait_until "hang.sh to have written its PID" test -s "$WORK/hang.pid"

# SIGKILL and restart: replay rebuilds the same waits; the server's
# connection died with the daemon, so none is connected. (The server is
# busy running CMD for its invocation: it is ended here, with its CMD.)
kill9_daemon
kill_pidfile "$WORK/server.pid"
kill_pidfile "$WORK/hang.pid"
wait "$SERVER_PID" 2>/dev/null || true
start_daemon --module "$WORK/blocker.so"
ctl show "$A" >"$WORK/s2"
expect "blocked on after restart" "$(blocked_of "$WORK/s2")" "$(blocked_of "$WORK/s1")"
expect "due kept" "$(jq -r '.blocked_on[1].vows[0].due_ms' "$WORK/s2")" "$due"
expect "times kept" "$(jq -c '[.created_ms, .last_progress_ms]' "$WORK/s2")" \
	"[$created,$progress]"
expect "replay wrote nothing" "$(jq -c '[.incarnation, .last_incarnation]' "$WORK/s2")" "[1,1]"
expect "daemon incarnation" "$(ctl stats | jq .incarnation)" 2
ctl show "$G" >"$WORK/g2"
expect "gather after restart" "$(blocked_of "$WORK/g2")" "0 await vow $VOW2 false"
ctl settle "$VOW2" --resolver "$RES2" 1 >/dev/null
expect "gather done" "$(ctl vow "$(jq -r '.outcome["@vow"]' "$WORK/g2")" --wait --timeout 10 | jq -c .value)" "[1]"
expect "nothing blocks a Done flow" "$(ctl show "$G" | jq -c '.blocked_on // "none"')" '"none"'

# Incarnation 2 journals the settlement of the client's vow: the set shows
# it settled, and the journal was last written by incarnation 2.
ctl settle "$VOW" --resolver "$RES" '"ok"' >/dev/null
ctl mkvow >/dev/null # a later pass: the settlement's pass is committed
ctl show "$A" >"$WORK/s3"
expect "blocked after settle" "$(blocked_of "$WORK/s3")" "0 all vow $VOW true
0 all send $SENT false bank.withdraw false
1 await timer $TIMER false"
expect "last incarnation" "$(jq -c '[.incarnation, .last_incarnation]' "$WORK/s3")" "[1,2]"
[ "$(jq -r .last_progress_ms "$WORK/s3")" -ge "$progress" ] ||
	fail "last progress went back"
expect "journal's last writer" "$(ctl journal "$A" | jq '.[-1].incarnation')" 2

# A server again, after the restart.
serve bank "$WORK/hang.sh"
echo "$SERVER_PID" >"$WORK/server.pid"
wait_until "the server to show as connected again" connected

# The same in a table, for people.
ctl -o table show "$A" >"$WORK/t"
grep -q "^blocked on       coroutine 0: all$" "$WORK/t" || fail "table: $(cat "$WORK/t")"
grep -q "^ *- send bank.withdraw vow $SENT (a server is connected)$" "$WORK/t" ||
	fail "table: $(cat "$WORK/t")"
grep -q "^ *coroutine 1: await timer vow $TIMER due 20[0-9-]*T[0-9:.]*Z$" "$WORK/t" ||
	fail "table: $(cat "$WORK/t")"
grep -q "^incarnation      created by 1, journal last written by 2$" "$WORK/t" ||
	fail "table: $(cat "$WORK/t")"
kill_pidfile "$WORK/server.pid"
wait_for_file "$WORK/hang.pid"
wait_until "hang.sh to have written its PID" test -s "$WORK/hang.pid"
kill_pidfile "$WORK/hang.pid"
stop_daemon
