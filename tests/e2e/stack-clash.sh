# stack-clash.sh: a flow with a 300 KiB stack frame on a 256 KiB coroutine
# stack. Modules are built with -fstack-clash-protection, so the frame is
# probed page by page and faults in its own guard page: the culprit is
# quarantined ("crashed the daemon", signal 11), not an innocent one, and
# the coroutine whose stack is mapped right below (started after it) is
# intact and finishes after the restart (issue 9).
set -eu
. tests/e2e/lib.inc
M=$B/modules
start_daemon --module "$M/hazards.so" --stack-size 256
mkvow
V1=$VOW R1=$RES
CULPRIT=$(ctl start big-frame "{\"after\":{\"@vow\":$V1}}" | jq -r .activation)
mkvow
V2=$VOW R2=$RES
out=$(ctl start wait "{\"after\":{\"@vow\":$V2},\"value\":\"intact\"}")
VICTIM=$(echo "$out" | jq -r .activation)
VOUT=$(echo "$out" | jq -r '.outcome["@vow"]')
# Wakes the culprit, whose frame either faults (the daemon dies) or, with
# no probing, jumps the guard page and returns.
if $CTL settle "$V1" --resolver "$R1" 1 >/dev/null 2>&1; then
	fail "the 300 KiB frame did not fault: $(ctl show "$CULPRIT" | jq -c .)"
fi
# The settle was not acknowledged: the daemon died in that pass.
st=0
wait "$DAEMON_PID" 2>/dev/null || st=$?
DAEMON_PID=
[ "$st" -gt 128 ] || fail "the daemon did not die of a signal (status $st)"
start_daemon --module "$M/hazards.so" --stack-size 256
expect "culprit" "$(state_of "$CULPRIT")" Failed
ctl show "$CULPRIT" | jq -r .failure | grep -q "crashed the daemon (signal 11" ||
    fail "no crash diagnostic: $(ctl show "$CULPRIT")"
ctl settle "$V2" --resolver "$R2" 1 >/dev/null
expect "victim" "$(ctl vow "$VOUT" --wait --timeout 10 | jq -c .value)" '"intact"'
expect "victim done" "$(state_of "$VICTIM")" Done
stop_daemon
