# fault-stats.sh: while the disk under the data file fails, `stats` says so
# and writing requests get the error; once it works again the daemon goes
# on by itself, and says so too. tests/faultshim.so (LD_PRELOAD) fails
# every write or sync of the data file while a file ($WORK/hold) exists:
# with EIO (an I/O error: ESTORE), with ENOSPC (a full disk: EFULL, named
# "disk full"), and with EIO on the meta page writes only (each one puts
# LMDB in MDB_PANIC; the daemon reopens the store, and while the disk
# still fails, the fault stays reported). Every acknowledged start is Done
# afterwards, and after a restart without the shim.
set -eu
. tests/e2e/lib.inc
SHIM=$B/tests/faultshim.so
[ -f "$SHIM" ] || skip "no $SHIM"
if ldd "$B/asyncflowd" | grep -q libasan; then
	skip "sanitizer build: the shim cannot be preloaded before ASan"
fi
HOLD=$WORK/hold

up() {
	$CTL stats >/dev/null 2>&1
}

fault_is() {
	[ "$($CTL stats | jq -r .store_fault)" = "$1" ]
}

fault_has() {
	$CTL stats | jq -r .store_fault | grep -q "$1"
}

# phase ERRNO OPS CODE TEXT
phase() {
	env LD_PRELOAD="$SHIM" AFSHIM_HOLD="$HOLD" AFSHIM_ERRNO="$1" \
	    AFSHIM_OPS="$2" "$B/asyncflowd" -d "$DIR" >>"$WORK/daemon.log" 2>&1 &
	DAEMON_PID=$!
	wait_until "the daemon" up
	before=$(ctl start echo '"before"' | jq -r .activation)
	expect "store_fault before" "$($CTL stats | jq -r .store_fault)" ""
	touch "$HOLD"
	if $CTL start echo '"during"' >"$WORK/out" 2>"$WORK/err"; then
		fail "$1 $2: a start was acknowledged while the disk failed"
	fi
	grep -q "$3" "$WORK/err" || fail "$1 $2: start: $(cat "$WORK/err")"
	# Reported for as long as it lasts: stats still answers.
	fault_has "$4" || fail "$1 $2: stats: $($CTL stats)"
	fault_has "$4" || fail "$1 $2: stats: $($CTL stats)"
	rm -f "$HOLD"
	wait_until "the store fault to clear" fault_is ""
	after=$(ctl start echo '"after"' | jq -r .activation)
	expect "before ($1 $2)" "$(state_of "$before")" Done
	expect "after ($1 $2)" "$(state_of "$after")" Done
	echo "$before $after" >>"$WORK/acked"
	stop_daemon
}

# batch_phase: under --durability batch a commit is acknowledged before
# its sync. A sync that fails may have lost what it was to make durable
# (and a later one can succeed without writing it: Linux drops the dirty
# pages a failed fsync reported), so the store is broken from then on:
# reported, reopened and rebuilt from what the file holds, like MDB_PANIC.
batch_phase() {
	env LD_PRELOAD="$SHIM" AFSHIM_HOLD="$HOLD" AFSHIM_ERRNO=EIO \
	    AFSHIM_OPS=sync "$B/asyncflowd" -d "$DIR" --durability batch \
	    >>"$WORK/daemon.log" 2>&1 &
	DAEMON_PID=$!
	wait_until "the daemon" up
	before=$(ctl start echo '"before"' | jq -r .activation)
	expect "store_fault before (batch)" "$($CTL stats | jq -r .store_fault)" ""
	touch "$HOLD"
	# Written, and acknowledged or not depending on when the sync runs.
	$CTL start echo '"during"' >/dev/null 2>&1 || true
	wait_until "the failed sync to be reported" fault_has "Input/output error"
	rm -f "$HOLD"
	wait_until "the store fault to clear (batch)" fault_is ""
	after=$(ctl start echo '"after"' | jq -r .activation)
	expect "before (batch)" "$(state_of "$before")" Done
	expect "after (batch)" "$(state_of "$after")" Done
	echo "$before $after" >>"$WORK/acked"
	stop_daemon
}

phase EIO any ESTORE "Input/output error"
phase ENOSPC any EFULL "disk full"
phase EIO meta ESTORE "MDB_PANIC"
batch_phase
grep -q "reopening it" "$WORK/daemon.log" || fail "no reopening logged"
start_daemon
for a in $(cat "$WORK/acked"); do
	expect "activation $a" "$(state_of "$a")" Done
done
expect failures "$(ctl failures | jq -c .)" "[]"
stop_daemon
echo "fault-stats: reported while failing, cleared when the disk works"
