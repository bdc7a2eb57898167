# fault-sweep.sh: storage faults under a real daemon. tests/faultshim.so
# (LD_PRELOAD) fails the Nth write or sync of LMDB's data file, with EIO or
# with ENOSPC, while a scripted workload runs on a new data directory:
# starts (one with a key), a vow made and settled, a durable timer (nap),
# a call to an object a client serves (transfer to `bank`). Every request
# is retried until it is acknowledged, and what was acknowledged is
# recorded. After each fault the daemon must either recover by itself (the
# workload goes on) or exit non-zero with an error line naming the store
# (it does that only at start-up). Then a daemon without the shim starts
# on the same directory, every acknowledged operation is there, every
# activation is readable and finishes (none Failed), and LMDB reads the
# whole file back (mdb_dump -a).
#
# N: a clean run counts the calls the workload makes (about 60), and the
# meta page writes among them (about 13: one per commit). Building a new
# directory is calls 1-5 (its meta pages, a commit: pages, sync, meta
# page; a sync), the daemon's first commit 6-8. EIO: N = 1, 2, 4, 6, 8
# (where a torn write used to leave a directory that never opened again)
# and 3 values spread evenly over the rest; ENOSPC: 1, 8 and the same 3.
# Then, for both, the meta page writes only, at 3 values spread past
# start-up (each one puts LMDB in MDB_PANIC, the fault the daemon used to
# never leave); and for ENOSPC torn writes (half written, then the error)
# at 1 (a new file's meta pages) and 4 (the first commit's). The two
# errnos run side by side, 11-12 runs each, about 1 s each on an idle
# machine. FAULT_SWEEP_NS and FAULT_SWEEP_METAS="..." rerun chosen cases.
# The bank server (`asyncflowctl serve`) exits when its answer meets the
# fault (its own rule: the daemon hands the invocation out again), so the
# test restarts it as a supervisor would.
# run-tests: start early
set -eu
if [ -z "${FAULT_ERRNO:-}" ]; then
	out=$(mktemp -d "${TMPDIR:-/tmp}/affault.XXXXXX")
	trap 'rm -rf "$out"' EXIT
	for e in EIO ENOSPC; do
		FAULT_ERRNO=$e sh "$0" >"$out/$e" 2>&1 &
		echo $! >"$out/$e.pid"
	done
	# Both skipped: skipped (77); any other failure: failed.
	rc=77
	for e in EIO ENOSPC; do
		erc=0
		wait "$(cat "$out/$e.pid")" || erc=$?
		cat "$out/$e"
		case $erc in
		0) [ "$rc" = 77 ] && rc=0 ;;
		77) ;;
		*) rc=1 ;;
		esac
	done
	exit $rc
fi
. tests/e2e/lib.inc
SHIM=$B/tests/faultshim.so
[ -f "$SHIM" ] || skip "no $SHIM"
if ldd "$B/asyncflowd" | grep -q libasan; then
	skip "sanitizer build: the shim cannot be preloaded before ASan"
fi
command -v jq >/dev/null || skip "no jq"

BANK=$WORK/bank.sh
cat >"$BANK" <<'EOF'
#!/bin/sh
cat >/dev/null
echo true
EOF
chmod +x "$BANK"
SERVES=0

# try CMD...: run asyncflowctl until it answers (a request that met the
# fault gets its error and is retried, as a client would); its output in
# $OUT. Fails the test if the daemon is alive but never accepts it; returns
# 1 if the daemon has exited.
try() {
	i=0
	while :; do
		if OUT=$($CTL "$@" 2>"$WORK/try.err"); then
			return 0
		fi
		kill -0 "$DAEMON_PID" 2>/dev/null || return 1
		i=$((i + 1))
		[ $i -gt 200 ] && fail "daemon up but '$*' never succeeded: \
$(cat "$WORK/try.err")"
		sleep 0.05
	done
}

# The daemon under the shim; sets DAEMON_PID. Returns 1 if it exited
# before answering (a fault at start-up).
start_faulty() {
	env LD_PRELOAD="$SHIM" AFSHIM_N="$1" AFSHIM_ERRNO="$2" \
	    AFSHIM_TORN="$3" AFSHIM_OPS="$4" AFSHIM_LOG="$WORK/shim.log" \
	    "$B/asyncflowd" -d "$DIR" >>"$WORK/daemon.log" 2>&1 &
	DAEMON_PID=$!
	i=0
	while ! $CTL stats >/dev/null 2>&1; do
		kill -0 "$DAEMON_PID" 2>/dev/null || return 1
		i=$((i + 1))
		[ $i -gt 400 ] && fail "daemon did not start"
		sleep 0.05
	done
	return 0
}

# field NAME: the number after "NAME": in $OUT (no jq: fewer processes).
field() {
	v=${OUT#*\"$1\":}
	v=${v%%[,\}]*}
	echo "$v" | tr -d '"'
}

# workload: every step retried until acknowledged, recorded in $WORK/acks.
# Returns 1 if the daemon exited.
workload() {
	try start echo '{"i":1}' --key k1 || return 1
	echo "start $(field activation) echo" >>"$WORK/acks"
	try mkvow || return 1
	vow=$(field vow)
	res=$(field resolver)
	echo "vow $vow" >>"$WORK/acks"
	try start gather "[{\"@vow\":$vow}]" || return 1
	echo "start $(field activation) gather" >>"$WORK/acks"
	try settle "$vow" --resolver "$res" 7 || return 1
	echo "settled $vow" >>"$WORK/acks"
	try start nap '{"ms":20}' || return 1
	echo "start $(field activation) nap" >>"$WORK/acks"
	try start transfer '{"from":"a","to":"b","amount":5}' || return 1
	echo "start $(field activation) transfer" >>"$WORK/acks"
	try start echo '{"i":2}' || return 1
	echo "start $(field activation) echo" >>"$WORK/acks"
	# The timer and the served calls, through to the end.
	all_done_or_dead
}

# Whether every activation there is is Done.
all_done() {
	[ "$($CTL ls 2>/dev/null |
	    jq '[.[] | select(.state != "Done")] | length')" = 0 ]
}

# Until every activation is Done (1 if the daemon exits), keeping a bank
# server up.
all_done_or_dead() {
	i=0
	until all_done; do
		kill -0 "$DAEMON_PID" 2>/dev/null || return 1
		kill -0 "$SERVER_PID" 2>/dev/null || serve_bank
		i=$((i + 1))
		[ $i -gt 400 ] && fail "activations never finished: $($CTL ls)"
		sleep 0.05
	done
}

serve_bank() {
	serve bank "$BANK"
	SERVES=$((SERVES + 1))
	wait_until "bank served" served $SERVES
}

stop_bank() {
	kill "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
}

# check: a daemon without the shim shows every acknowledged operation.
check() {
	start_daemon
	if grep -q transfer "$WORK/acks"; then
		serve_bank
	fi
	# Every activation there is reads back (ls decodes every row) and
	# finishes: none is Failed, none is stuck.
	wait_until "every activation Done" all_done
	ls=$(ctl ls)
	while read -r what id flow; do
		case $what in
		start)
			expect "flow of $id" "$(echo "$ls" |
			    jq -r ".[] | select(.activation == $id) | .flow")" \
			    "$flow"
			;;
		vow)
			ctl vow "$id" >/dev/null
			;;
		settled)
			expect "vow $id" "$(ctl vow "$id" | jq -c .value)" 7
			;;
		esac
	done <"$WORK/acks"
	expect store_fault "$(ctl stats | jq -r .store_fault)" ""
	if grep -q transfer "$WORK/acks"; then
		stop_bank
	fi
	stop_daemon
	if command -v mdb_dump >/dev/null; then
		mdb_dump -a "$DIR" >/dev/null 2>"$WORK/dump.err" ||
		    fail "mdb_dump: $(cat "$WORK/dump.err")"
	fi
}

# run N ERRNO TORN OPS
run() {
	rm -rf "$DIR" "$WORK/acks" "$WORK/shim.log"
	: >"$WORK/acks"
	: >"$WORK/daemon.log"
	alive=1
	if start_faulty "$1" "$2" "$3" "$4"; then
		serve_bank
		workload || alive=0
		stop_bank
	else
		alive=0
	fi
	fired=$(grep -c '^fault' "$WORK/shim.log" 2>/dev/null || true)
	if [ $alive = 1 ]; then
		stop_daemon
		how=recovered
	else
		rc=0
		wait "$DAEMON_PID" || rc=$?
		DAEMON_PID=
		[ $rc -ne 0 ] || fail "N=$1 $2: daemon exited 0 after a fault"
		grep -q 'asyncflowd error: .*\(store\|lmdb\)' "$WORK/daemon.log" ||
		    fail "N=$1 $2: exited $rc without a line naming the store"
		how="exited $rc"
	fi
	[ "$1" = 0 ] || [ "$fired" -ge 1 ] || fail "N=$1 $2: no fault fired"
	check
	echo "N=$1 ($4) $2${3:+ torn}: $how, $(grep -c . "$WORK/acks") acks kept"
}

# A clean run first: how many calls the workload makes, and how many of
# them are meta page writes.
run 0 "$FAULT_ERRNO" "" any
total=$(awk '$1 == "calls" { n = $2 } END { print n + 0 }' "$WORK/shim.log")
metas=$(awk '$1 == "calls" { n = $4 } END { print n + 0 }' "$WORK/shim.log")
[ "$total" -gt 16 ] && [ "$metas" -gt 6 ] ||
    fail "only $total calls ($metas meta page writes) counted"
spread=""
mspread=""
k=1
while [ $k -le 3 ]; do
	spread="$spread $((8 + k * (total - 8) / 4))"
	mspread="$mspread $((3 + k * (metas - 3) / 4))"
	k=$((k + 1))
done
if [ "$FAULT_ERRNO" = EIO ]; then
	ns="1 2 4 6 8$spread"
else
	ns="1 8$spread"
fi
ns=${FAULT_SWEEP_NS:-$ns} # to rerun chosen cases by hand
mspread=${FAULT_SWEEP_METAS:-$mspread}
for n in $ns; do
	run "$n" "$FAULT_ERRNO" "" any
done
# Past start-up, the meta page writes: each puts LMDB in MDB_PANIC.
for n in $mspread; do
	run "$n" "$FAULT_ERRNO" "" meta
done
if [ "$FAULT_ERRNO" = ENOSPC ] && [ -z "${FAULT_SWEEP_NS:-}" ]; then
	for n in 1 4; do
		run "$n" "$FAULT_ERRNO" 1 any
	done
fi
echo "fault-sweep $FAULT_ERRNO: $total calls in the workload," \
    "$metas meta page writes; N = $ns; meta N = $mspread"
