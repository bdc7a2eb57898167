# power-loss.sh: a simulated power loss under `full` durability loses
# nothing acknowledged. tests/faultshim.so (LD_PRELOAD, AFSHIM_UNDO) logs
# the old bytes under every write to LMDB's data file that is not yet
# durable (emptied at each successful sync) and the durable writes
# (O_DSYNC) themselves. A stream of starts and settles runs, recording what
# was acknowledged; the daemon is killed with SIGKILL in the middle of it;
# tests/powerloss turns a copy of the data file into what a power loss at
# that instant could have left on disk (every unsynced write undone); a
# daemon started on the copy must show every acknowledged operation. The
# same under `none` (which never syncs) must lose acknowledged work: that
# shows the simulation drops what a power loss drops.
set -eu
. tests/e2e/lib.inc
SHIM=$B/tests/faultshim.so
[ -f "$SHIM" ] && [ -x "$B/tests/powerloss" ] || skip "no $SHIM or powerloss"
if ldd "$B/asyncflowd" | grep -q libasan; then
	skip "sanitizer build: the shim cannot be preloaded before ASan"
fi

up() {
	$CTL stats >/dev/null 2>&1
}

acked_count() {
	grep -c . "$WORK/acked" 2>/dev/null || true
}

# trial DURABILITY: prints how many acknowledged operations the simulated
# power loss lost.
trial() {
	rm -rf "$DIR" "$WORK/undo" "$WORK/copy"
	: >"$WORK/acked"
	env LD_PRELOAD="$SHIM" AFSHIM_UNDO="$WORK/undo" "$B/asyncflowd" \
	    -d "$DIR" --durability "$1" >>"$WORK/daemon.log" 2>&1 &
	DAEMON_PID=$!
	wait_until "the daemon" up
	# The stream: a start with a key, a vow made and settled, in turn;
	# each acknowledgement recorded once the reply is in.
	(
		i=1
		while :; do
			out=$($CTL start echo "$i" --key "k$i" 2>/dev/null) ||
			    exit 0
			a=${out#*\"activation\":}
			echo "start ${a%%,*} $i" >>"$WORK/acked"
			out=$($CTL mkvow 2>/dev/null) || exit 0
			v=${out#*\"vow\":}
			v=${v%%,*}
			r=${out#*\"resolver\":\"}
			r=${r%%\"*}
			$CTL settle "$v" --resolver "$r" "$i" >/dev/null \
			    2>&1 || exit 0
			echo "settled $v $i" >>"$WORK/acked"
			i=$((i + 1))
		done
	) &
	STREAM=$!
	echo "$STREAM" >"$WORK/stream.pid"
	until [ "$(acked_count)" -ge 20 ]; do
		kill -0 "$STREAM" 2>/dev/null || fail "the stream stopped"
		sleep 0.02
	done
	# The power goes: nothing more reaches the disk.
	kill -9 "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
	wait "$STREAM" 2>/dev/null || true
	rm -f "$WORK/stream.pid"
	mkdir "$WORK/copy"
	cp "$DIR/data.mdb" "$WORK/copy/data.mdb"
	"$B/tests/powerloss" "$WORK/copy/data.mdb" "$WORK/undo" >/dev/null
	# The disk as it would be after the power loss.
	rm -rf "$DIR"
	mv "$WORK/copy" "$DIR"
	start_daemon
	lost=0
	while read -r what id value; do
		case $what in
		start)
			out=$($CTL show "$id" 2>/dev/null) || {
				lost=$((lost + 1))
				continue
			}
			expect "args of $id" "$(echo "$out" | jq -c .args)" "$value"
			;;
		settled)
			got=$($CTL vow "$id" 2>/dev/null | jq -c .value) || got=
			[ "$got" = "$value" ] || lost=$((lost + 1))
			;;
		esac
	done <"$WORK/acked"
	stop_daemon
	if command -v mdb_dump >/dev/null; then
		mdb_dump -a "$DIR" >/dev/null 2>"$WORK/dump.err" ||
		    fail "$1: mdb_dump: $(cat "$WORK/dump.err")"
	fi
	echo "$lost"
}

lost=$(trial full)
expect "acknowledged operations lost under full" "$lost" 0
echo "full: $(acked_count) acknowledged, none lost"
lost=$(trial none)
[ "$lost" -gt 0 ] ||
    fail "none: the simulated power loss lost nothing: it simulates nothing"
echo "none: $(acked_count) acknowledged, $lost lost (as documented)"
