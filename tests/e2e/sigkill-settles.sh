# SIGKILL during a stream of settles: every acknowledged settle is in effect
# after the restart, and every activation finishes with the right outcome —
# under each durability (all three survive a process crash). Run with
# DURABILITY=full|batch|none; by default the script runs itself for each,
# the three side by side (each has its own directory and daemon), and
# prints their outputs in that order.
# run-tests: start early
set -eu
if [ -z "${DURABILITY:-}" ]; then
	out=$(mktemp -d "${TMPDIR:-/tmp}/afsigkill.XXXXXX")
	trap 'rm -rf "$out"' EXIT
	for d in full batch none; do
		DURABILITY=$d sh "$0" >"$out/$d" 2>&1 &
		echo $! >"$out/$d.pid"
	done
	rc=0
	for d in full batch none; do
		wait "$(cat "$out/$d.pid")" || rc=1
		cat "$out/$d"
	done
	exit $rc
fi
. tests/e2e/lib.inc
start_daemon --durability "$DURABILITY"
N=30
i=1
while [ $i -le $N ]; do
	mkvow
	echo "$VOW $RES" >"$WORK/vow.$i"
	out=$(ctl start gather "[{\"@vow\":$VOW}]")
	echo "$out" | jq -r '.outcome["@vow"]' >"$WORK/out.$i"
	i=$((i + 1))
done
: >"$WORK/acked"
# Settle in the background, recording what was acknowledged.
(
	i=1
	while [ $i -le $N ]; do
		read -r v r <"$WORK/vow.$i"
		$CTL settle "$v" --resolver "$r" "$i" >/dev/null 2>&1 || exit 0
		echo $i >>"$WORK/acked"
		i=$((i + 1))
	done
) &
SETTLER=$!
# Kill the daemon once part of the stream is acknowledged (polled gently:
# the poll's processes would slow the settler down on a busy machine).
while [ "$(wc -l <"$WORK/acked")" -lt 5 ]; do
	sleep 0.05
done
kill9_daemon
wait $SETTLER || true
acked=$(wc -l <"$WORK/acked")
[ "$acked" -ge 5 ] || fail "only $acked settles acknowledged"
start_daemon --durability "$DURABILITY"
# Every acknowledged settle is in effect.
while read -r i; do
	read -r v r <"$WORK/vow.$i"
	expect "vow $v" "$(ctl vow "$v" | jq -c '[.state, .value]')" "[\"fulfilled\",$i]"
done <"$WORK/acked"
# Settle everything (identical repeats succeed), then every outcome.
i=1
while [ $i -le $N ]; do
	read -r v r <"$WORK/vow.$i"
	ctl settle "$v" --resolver "$r" "$i" >/dev/null
	read -r o <"$WORK/out.$i"
	expect "outcome $i" "$(ctl vow "$o" --wait --timeout 10 | jq -c .value)" "[$i]"
	i=$((i + 1))
done
echo "sigkill-settles ($DURABILITY): $acked of $N acknowledged before the kill, all in effect"
stop_daemon
