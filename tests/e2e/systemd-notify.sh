# systemd's protocols without systemd: tests/sdharness plays the service
# manager. The daemon must send READY=1 to $NOTIFY_SOCKET (a path or an
# abstract '@' name) once it answers requests, STATUS= lines while it
# replays, and STOPPING=1 when SIGTERM stops it; it must serve a listening
# socket passed as fd 3 (LISTEN_PID/LISTEN_FDS) instead of binding its own,
# refuse an fd 3 that is no listening Unix socket with a clear error, and
# prefix its log lines with <N> priorities when stderr is the journal. A
# wake of many activations logs and reports its progress like the start.
set -eu
. tests/e2e/lib.inc
H=$B/tests/sdharness
[ -x "$H" ] || fail "$H not built"
mkdir -p "$DIR"

# harness_start LOG ARGS...: sdharness in the background; the daemon's pid
# goes to $WORK/daemon.pid (killed at exit), the harness's to HARNESS.
harness_start() {
	log=$1
	shift
	"$H" -p "$WORK/daemon.pid" "$@" >"$log" 2>>"$WORK/daemon.log" &
	HARNESS=$!
	wait_for_file "$WORK/daemon.pid"
}

# harness_stop: SIGTERM the daemon, and the harness must report exit 0.
harness_stop() {
	kill -TERM "$(cat "$WORK/daemon.pid")"
	wait "$HARNESS" || fail "daemon did not exit 0 on SIGTERM"
}

# --- READY=1 once it answers, STOPPING=1 on SIGTERM (a path socket)
harness_start "$WORK/n1" -n "$WORK/notify" -- "$B/asyncflowd" -d "$DIR"
wait_until "READY=1" grep -qx READY=1 "$WORK/n1"
# Ready means it answers: no retry loop here.
$CTL stats >/dev/null || fail "READY=1 sent before the daemon answers"
out=$(ctl start nap '{"ms": 3600000}')
ctl start nap '{"ms": 3600000}' >/dev/null
ctl start nap '{"ms": 3600000}' >/dev/null
harness_stop
grep -qx STOPPING=1 "$WORK/n1" || fail "no STOPPING=1: $(cat "$WORK/n1")"
[ "$(grep -nx READY=1 "$WORK/n1" | cut -d: -f1)" -lt \
    "$(grep -nx STOPPING=1 "$WORK/n1" | cut -d: -f1)" ] ||
	fail "STOPPING=1 before READY=1"

# --- an abstract name; the restart replays the three naps: STATUS= says so
harness_start "$WORK/n2" -n "@afe2e-notify-$$" -- "$B/asyncflowd" -d "$DIR"
wait_until "READY=1 (abstract)" grep -qx READY=1 "$WORK/n2"
wait_until "the replay summary" grep -q '^STATUS=.*replayed 3' "$WORK/n2"
grep -q '^STATUS=replaying 3 of 3 activations' "$WORK/n2" ||
	fail "no STATUS= line at the start of the replay: $(cat "$WORK/n2")"
# Ready once it answers: after the start's replay, which holds requests.
[ "$(grep -n '^STATUS=replayed 3' "$WORK/n2" | cut -d: -f1)" -lt \
    "$(grep -nx READY=1 "$WORK/n2" | cut -d: -f1)" ] ||
	fail "READY=1 before the replay was over: $(cat "$WORK/n2")"
grep -q 'replaying 3 of 3 activations' "$WORK/daemon.log" ||
	fail "the start does not log how many activations it replays"
grep -q 'replayed 3 activations (0 failed' "$WORK/daemon.log" ||
	fail "no replay summary in the log"
harness_stop
grep -qx STOPPING=1 "$WORK/n2" || fail "no STOPPING=1 (abstract)"

# --- socket activation: the daemon serves the socket it is given
LSOCK=$WORK/activated.sock
harness_start "$WORK/n3" -n "$WORK/notify" -l "listen:$LSOCK" -- \
    "$B/asyncflowd" -d "$DIR"
wait_until "READY=1 (activated)" grep -qx READY=1 "$WORK/n3"
out=$("$B/asyncflowctl" -s "$LSOCK" start echo '{"via": "fd 3"}') ||
	fail "start through the passed socket"
vow=$(echo "$out" | jq -r '.outcome["@vow"]')
out=$("$B/asyncflowctl" -s "$LSOCK" vow "$vow" --wait) ||
	fail "vow through the passed socket"
expect "echo through fd 3" "$(echo "$out" | jq -c .value)" '{"via":"fd 3"}'
[ ! -e "$SOCK" ] || fail "bound $SOCK although a socket was passed"
harness_stop
[ -S "$LSOCK" ] || fail "the daemon removed the socket it was given"

# --- fd 3 that is no listening Unix socket: a clear error, exit 1
bad() {
	kind=$1
	want=$2
	rc=0
	"$H" -l "$kind:$WORK/bad.$kind" -- "$B/asyncflowd" -d "$DIR" \
	    >/dev/null 2>"$WORK/bad.err" || rc=$?
	expect "exit code with a $kind as fd 3" "$rc" 1
	grep -q "$want" "$WORK/bad.err" ||
		fail "$kind as fd 3: want '$want', got: $(cat "$WORK/bad.err")"
}
bad file "LISTEN_FDS: fd 3 is not a socket"
bad bound "LISTEN_FDS: fd 3 is a socket that is not listening"

# --- journald: <N> priorities when stderr is the journal's stream
: >"$WORK/journal.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$WORK/journal.log")
export JOURNAL_STREAM
harness_start "$WORK/n4" -n "$WORK/notify" -- sh -c \
    "exec \"$B/asyncflowd\" -d \"$DIR\" 2>>\"$WORK/journal.log\""
unset JOURNAL_STREAM
wait_until "READY=1 (journal)" grep -qx READY=1 "$WORK/n4"
harness_stop
grep -q '^<6>.*asyncflowd info: serving' "$WORK/journal.log" ||
	fail "no <6> prefix: $(head -n 3 "$WORK/journal.log")"
grep -v '^<[0-7]>' "$WORK/journal.log" && fail "a line without a priority"
# ...and none when stderr is something else.
grep -q '^<' "$WORK/daemon.log" && fail "a priority prefix off the journal"

# --- a wake of many logs the same progress and summary, and STATUS= says it
rm -rf "$DIR"
start_daemon --module "$B/modules/example-v1.so"
mkvow
for i in 1 2 3; do
	ctl start order "{\"approval\":{\"@vow\":$VOW}}" >/dev/null
done
stop_daemon
# v2 diverges (a restart with it fails the upgrade check: forced): the
# start's replay leaves the three Failed...
harness_start "$WORK/n5" -n "$WORK/notify" -- "$B/asyncflowd" -d "$DIR" \
    --force-upgrade --module "$B/modules/example-v2.so"
wait_until "READY=1 (v2)" grep -qx READY=1 "$WORK/n5"
summary='^STATUS=replayed 3 activations (3 failed'
wait_until "the start's summary" grep -q "$summary" "$WORK/n5"
# ...and so does a wake of every Failed one, which reports the same way.
ctl wake >/dev/null
twice() { [ "$(grep -c "$summary" "$WORK/n5")" -eq 2 ]; }
wait_until "the wake's summary" twice
harness_stop
[ "$(grep -c 'replayed 3 activations (3 failed' "$WORK/daemon.log")" -eq 2 ] ||
	fail "the wake's summary is not logged"
echo "systemd-notify: ok"
