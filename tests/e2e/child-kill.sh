# child-kill.sh: af_start_child is idempotent across a SIGKILL at the
# child's start (issue 10, items 4 and 8), with a real daemon and module
# (tests/modules/spawn.c): `spawn` awaits a vow `go`, then starts one
# `gated` child, which awaits a vow `gate`; the parent returns the child's
# outcome. Each case starts a parent (acknowledged), settles go, and
# SIGKILLs the daemon around the commit that journals the child's start:
#   1. right after the settle of go is acknowledged (the child's start is
#      in that commit or in the pass that follows it);
#   2. once the parent's `show` lists its child (the child is running);
#   3. while that commit fails (tests/faultshim.so fails every write of
#      the data file): nothing of the pass is on disk, the settle was not
#      acknowledged and is made again after the restart.
# After each restart the parent has exactly one child, the child names
# the parent, and once gate is settled the parent is Done with the
# child's outcome; the store holds one `gated` activation per case.
set -eu
. tests/e2e/lib.inc
command -v jq >/dev/null || skip "no jq"
CC=${CC:-cc}
$CC -shared -fPIC -Iinclude -o "$WORK/spawn.so" tests/modules/spawn.c ||
	fail "building the module"
SHIM=$B/tests/faultshim.so
HOLD=$WORK/hold
CASES=0

children_of() {
	ctl show "$1" | jq -c '.children // []'
}

has_child() {
	[ "$($CTL show "$1" | jq '.children // [] | length')" -ge 1 ]
}

is_done() {
	[ "$($CTL show "$1" | jq -r .state)" = Done ]
}

# begin: start a parent; sets P, PO (its outcome), GO/GORES, GATE/GATERES.
begin() {
	mkvow
	GO=$VOW GORES=$RES
	mkvow
	GATE=$VOW GATERES=$RES
	out=$(ctl start spawn "{\"go\":{\"@vow\":$GO},\"gate\":{\"@vow\":$GATE}}")
	P=$(echo "$out" | jq -r .activation)
	PO=$(echo "$out" | jq -r '.outcome["@vow"]')
}

# finish CASE: after a restart, P has exactly one child, which names P;
# settling gate ends both, and P's outcome is the child's.
finish() {
	wait_until "$1: the child of $P" has_child "$P"
	kids=$(children_of "$P")
	expect "$1: children" "$(echo "$kids" | jq length)" 1
	C=$(echo "$kids" | jq -r '.[0]')
	expect "$1: parent of $C" "$(ctl show "$C" | jq -r .parent)" "$P"
	expect "$1: child flow" "$(ctl show "$C" | jq -r .flow)" gated
	ctl settle "$GATE" --resolver "$GATERES" "$2" >/dev/null
	wait_until "$1: parent $P Done" is_done "$P"
	expect "$1: parent outcome" \
	    "$(ctl vow "$PO" | jq -c '[.state, .value]')" \
	    "[\"fulfilled\",{\"child\":{\"gated\":$2}}]"
	expect "$1: child state" "$(state_of "$C")" Done
	expect "$1: children at the end" "$(children_of "$P")" "[$C]"
	CASES=$((CASES + 1))
	expect "$1: gated activations" \
	    "$(ctl ls --flow gated | jq length)" "$CASES"
}

# 1. SIGKILL right after the settle that starts the child is acknowledged.
start_daemon --module "$WORK/spawn.so"
begin
ctl settle "$GO" --resolver "$GORES" 1 >/dev/null
kill9_daemon
start_daemon --module "$WORK/spawn.so"
finish "after the settle" 11

# 2. SIGKILL once the child is running.
begin
ctl settle "$GO" --resolver "$GORES" 2 >/dev/null
wait_until "the child of $P" has_child "$P"
expect "child running" "$(state_of "$(children_of "$P" | jq -r '.[0]')")" \
    Running
kill9_daemon
start_daemon --module "$WORK/spawn.so"
finish "child running" 22

# 3. SIGKILL while the commit holding the child's start fails.
if [ ! -f "$SHIM" ]; then
	echo "child-kill: no $SHIM, case 3 not run"
elif ldd "$B/asyncflowd" | grep -q libasan; then
	echo "child-kill: sanitizer build, case 3 not run (no preload)"
else
	stop_daemon
	env LD_PRELOAD="$SHIM" AFSHIM_HOLD="$HOLD" AFSHIM_LOG="$WORK/shim.log" \
	    "$B/asyncflowd" -d "$DIR" --module "$WORK/spawn.so" \
	    >>"$WORK/daemon.log" 2>&1 &
	DAEMON_PID=$!
	wait_until "the daemon" sh -c "$CTL stats >/dev/null 2>&1"
	begin
	touch "$HOLD"
	if $CTL settle "$GO" --resolver "$GORES" 3 >"$WORK/out" 2>&1; then
		fail "a settle was acknowledged while the disk failed"
	fi
	grep -q fault "$WORK/shim.log" || fail "no write failed"
	kill9_daemon
	rm -f "$HOLD"
	start_daemon --module "$WORK/spawn.so"
	expect "children after the failed commit" "$(children_of "$P")" "[]"
	expect "go after the failed commit" "$(ctl vow "$GO" | jq -r .state)" \
	    pending
	expect "parent after the failed commit" "$(state_of "$P")" Running
	ctl settle "$GO" --resolver "$GORES" 3 >/dev/null
	finish "failed commit" 33
fi
stop_daemon
echo "child-kill: one child per parent across SIGKILL ($CASES cases)"
