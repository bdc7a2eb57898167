# --retention and asyncflowctl purge (issue 8, item 5), on a real daemon:
# a bad duration is refused at start; with --retention 0 and with a short
# one, finished activations go with everything they left (the data
# file's row counts, from the store's own counters, back to what the
# client's own vows need); a pruned activation or vow is ENOTFOUND
# through the CLI; purge deletes a Done one now and refuses a waiting one
# (EBUSY); a SIGKILL while pruning loses nothing acknowledged, and the
# next daemon finishes the pruning.
# Not here: the engine's side in detail (tests/check_prune.c).
set -eu
. tests/e2e/lib.inc

# rows TABLE: the row count of TABLE (the daemon must be stopped).
rows() {
	"$B/tests/dbstat" "$DIR" >"$WORK/dbstat" || fail "dbstat $DIR"
	awk -v t="$1" '$1 == t { print $2 }' "$WORK/dbstat"
}
# unknown WHAT CMD...: asyncflowctl CMD fails with ENOTFOUND.
unknown() {
	what=$1
	shift
	if $CTL "$@" >"$WORK/out" 2>"$WORK/err"; then
		fail "$what: still known: $(cat "$WORK/out")"
	fi
	grep -q ENOTFOUND "$WORK/err" || fail "$what: $(cat "$WORK/err")"
}
pruned() {
	! $CTL show "$1" >/dev/null 2>&1
}

# Bad durations.
mkdir -p "$DIR"
refused "--retention must be a duration" --retention -1
refused "--retention must be a duration" --retention 7x
refused "--retention must be a duration" --retention ''
"$B/asyncflowd" --help | grep -q -- "--retention DURATION" ||
	fail "--help does not list --retention"

# --retention 0: a keyed echo, a nap (its timer), a gather of a client's
# vow, and an approval (an invocation, a resolver granted to a server).
start_daemon --retention 0 --durability none
mkvow
CV=$VOW
CR=$RES
ctl start echo '{"x":1}' --key order-1 >"$WORK/echo"
ECHO=$(jq -r .activation "$WORK/echo")
ECHOO=$(jq -r '.outcome["@vow"]' "$WORK/echo")
out=$(ctl start gather "[{\"@vow\":$CV}]")
GA=$(echo "$out" | jq -r .activation)
GO=$(echo "$out" | jq -r '.outcome["@vow"]')
out=$(ctl start nap '{"ms":1}')
NAP=$(echo "$out" | jq -r .activation)
wait_until "the echo to be pruned" pruned "$ECHO"
wait_until "the nap to be pruned" pruned "$NAP"
expect "gather waits" "$(state_of "$GA")" Running
ctl settle "$CV" --resolver "$CR" '"paid"' >/dev/null
wait_until "the gather to be pruned" pruned "$GA"
unknown "pruned activation" show "$ECHO"
unknown "pruned journal" journal "$ECHO"
unknown "pruned outcome" vow "$ECHOO"
unknown "pruned gather outcome" vow "$GO"
# The client's own vow is the client's: it stays.
expect "client vow" "$(ctl vow "$CV" | jq -r .state)" fulfilled
# The key went with its activation: it starts a new one.
out=$(ctl start echo '{"x":1}' --key order-1)
[ "$(echo "$out" | jq -r .activation)" != "$ECHO" ] ||
	fail "a pruned key answered the pruned activation: $out"
wait_until "the new echo to be pruned" pruned "$(echo "$out" | jq -r .activation)"
expect "timers" "$(ctl stats | jq .timers_pending)" 0
stop_daemon
for t in activations journal watchers outbox timers idempotency holds \
    owned finished; do
	expect "$t rows after retention 0" "$(rows "$t")" 0
done
expect "vow rows after retention 0 (the client's)" "$(rows vows)" 1

# A short retention: Done, kept, then gone (a positive event, polled).
start_daemon --retention 1s --durability none
out=$(ctl start echo '"later"' --wait)
A=$(echo "$out" | jq -r .activation)
expect "kept for now" "$(state_of "$A")" Done
wait_until "the short retention to prune it" pruned "$A"
unknown "after a short retention" show "$A"

# Purge, with the default retention (7 days).
stop_daemon
start_daemon --durability none
out=$(ctl start echo '"purge me"' --wait)
P=$(echo "$out" | jq -r .activation)
PO=$(echo "$out" | jq -r '.outcome["@vow"]')
mkvow
out=$(ctl start gather "[{\"@vow\":$VOW}]")
W=$(echo "$out" | jq -r .activation)
WO=$(echo "$out" | jq -r '.outcome["@vow"]')
if $CTL purge "$W" >"$WORK/out" 2>"$WORK/err"; then
	fail "purge of a waiting activation succeeded"
fi
grep -q EBUSY "$WORK/err" || fail "purge of a waiting one: $(cat "$WORK/err")"
expect "still waiting" "$(state_of "$W")" Running
expect "purge answer" "$(ctl purge "$P" | jq -c .)" "{\"purged\":$P}"
unknown "purged activation" show "$P"
unknown "purged outcome" vow "$PO"
unknown "purged twice" purge "$P"
if $CTL purge >"$WORK/out" 2>"$WORK/err"; then
	fail "purge without an id succeeded"
fi
grep -q "missing A" "$WORK/err" || fail "purge without A: $(cat "$WORK/err")"
ctl settle "$VOW" --resolver "$RES" 1 >/dev/null
expect "the waiting one finished" "$(ctl vow "$WO" --wait | jq -c .value)" \
    '[1]'
ctl purge "$W" >/dev/null
unknown "purged after it finished" show "$W"

# SIGKILL while pruning: many finished activations, kept (7 days), and
# three waiting ones. A daemon with --retention 0 starts pruning them; it
# is killed as soon as it answers (pruning goes a bounded number of rows
# per commit, so there may be more to do than one commit). The next one
# (default retention) still has the waiting ones, whose vows are settled
# now, with the right outcomes; the one after (--retention 0) finishes
# the pruning.
i=0
while [ $i -lt 300 ]; do
	ctl start echo "$i" --key "k$i" >/dev/null
	i=$((i + 1))
done
set --
for n in 1 2 3; do
	mkvow
	out=$(ctl start gather "[{\"@vow\":$VOW}]")
	set -- "$@" "$(echo "$out" | jq -r '"\(.activation):\(.outcome["@vow"])"'):$VOW:$RES"
done
stop_daemon
expect "finished rows before" "$(rows finished)" 300
start_daemon --retention 0 --durability none
kill9_daemon
start_daemon --durability none
for w in "$@"; do
	act=${w%%:*}
	w=${w#*:}
	outc=${w%%:*}
	w=${w#*:}
	vow=${w%%:*}
	res=${w#*:}
	expect "waiting $act after the kill" "$(state_of "$act")" Running
	ctl settle "$vow" --resolver "$res" "\"v$act\"" >/dev/null
	expect "outcome of $act" \
	    "$(ctl vow "$outc" --wait --timeout 20 | jq -c .value)" \
	    "[\"v$act\"]"
done
stop_daemon
start_daemon --retention 0 --durability none
wait_until "everything finished to be pruned" \
    sh -c "[ \"\$($CTL ls | jq length)\" = 0 ]"
stop_daemon
for t in activations journal watchers outbox timers idempotency holds \
    owned finished; do
	expect "$t rows after the kill" "$(rows "$t")" 0
done
# The client's vows: one of the first daemon, five since.
expect "vow rows after the kill" "$(rows vows)" 5
