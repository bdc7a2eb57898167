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
		set -- $(cat "$WORK/vow.$i")
		$CTL settle "$1" --resolver "$2" "$i" >/dev/null 2>&1 || exit 0
		echo $i >>"$WORK/acked"
		i=$((i + 1))
	done
) &
SETTLER=$!
# Kill the daemon once part of the stream is acknowledged.
while [ "$(wc -l <"$WORK/acked" 2>/dev/null || echo 0)" -lt 5 ]; do
	sleep 0.01
done
kill9_daemon
wait $SETTLER || true
acked=$(wc -l <"$WORK/acked")
[ "$acked" -ge 5 ] || fail "only $acked settles acknowledged"
start_daemon --durability "$DURABILITY"
# Every acknowledged settle is in effect.
for i in $(cat "$WORK/acked"); do
	set -- $(cat "$WORK/vow.$i")
	expect "vow $1" "$(ctl vow "$1" | jq -c '[.state, .value]')" "[\"fulfilled\",$i]"
done
# Settle everything (identical repeats succeed), then every outcome.
i=1
while [ $i -le $N ]; do
	set -- $(cat "$WORK/vow.$i")
	ctl settle "$1" --resolver "$2" "$i" >/dev/null
	o=$(cat "$WORK/out.$i")
	expect "outcome $i" "$(ctl vow "$o" --wait --timeout 10 | jq -c .value)" "[$i]"
	i=$((i + 1))
done
echo "sigkill-settles ($DURABILITY): $acked of $N acknowledged before the kill, all in effect"
stop_daemon
