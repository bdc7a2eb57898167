#!/bin/sh
# demo.sh: the mission in one story (`make demo`). A fresh daemon; the
# built-in `gather` flow over three vows; one settled; the daemon killed
# with SIGKILL mid-flight; restarted; the other two settled; the outcome.
set -eu
B=${1:-build}
. tests/e2e/lib.inc

say() { printf '\n== %s\n' "$*"; }

say "start asyncflowd on a fresh data directory"
start_daemon
echo "daemon pid $DAEMON_PID, socket $SOCK"

say "make three vows (a client holds their resolvers)"
mkvow; V1=$VOW; R1=$RES
mkvow; V2=$VOW; R2=$RES
mkvow; V3=$VOW; R3=$RES
echo "vows $V1 $V2 $V3"

say "start gather over them"
out=$(ctl start gather "[{\"@vow\":$V1},{\"@vow\":$V2},{\"@vow\":$V3}]")
echo "$out"
ACT=$(echo "$out" | jq -r .activation)
OUT=$(echo "$out" | jq -r '.outcome["@vow"]')

say "settle the first: the flow moves on and waits for the second"
ctl settle "$V1" --resolver "$R1" '"apples"'
ctl journal "$ACT"

say "kill -9 the daemon"
kill9_daemon
echo "killed"

say "restart it: the activation replays from its journal"
start_daemon
ctl show "$ACT"

say "settle the other two"
ctl settle "$V2" --resolver "$R2" '"bread"'
ctl settle "$V3" --resolver "$R3" '{"cheese": 3}'

say "the outcome"
ctl vow "$OUT" --wait --timeout 10
expect outcome "$($CTL vow "$OUT" | jq -c .value)" '["apples","bread",{"cheese":3}]'
expect state "$(state_of "$ACT")" Done
stop_daemon
say "done: the flow finished across a SIGKILL"
