# The daemon under valgrind memcheck through a session of every kind of
# request, stopped with SIGTERM: no invalid access and nothing lost. (Under
# make asan this is LeakSanitizer's job at every daemon exit instead.)
set -eu
. tests/e2e/lib.inc
case $B in *asan*) skip "the ASan build" ;; esac
command -v valgrind >/dev/null || fail "no valgrind"
valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --error-exitcode=9 --log-file="$WORK/vg.log" \
    "$B/asyncflowd" -d "$DIR" --module "$B/modules/example-v1.so" \
    >>"$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!
i=0
while ! $CTL stats >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -gt 600 ] && fail "daemon under valgrind did not start"
	sleep 0.05
done
mkvow
a=$(ctl start gather "[{\"@vow\":$VOW}, 3]" | jq -r .activation)
ctl start echo '{"k":[1,2.5,"s",{"@bytes":"AAE="},null,true]}' >/dev/null
nap=$(ctl start nap '{"ms":50}' | jq -r '.outcome["@vow"]')
ctl start transfer '{"from":"a","to":"b","amount":1}' >/dev/null
ctl start order "{\"approval\":{\"@vow\":$VOW}}" --key k >/dev/null
ctl start order "{\"approval\":{\"@vow\":$VOW}}" --key k >/dev/null
$CTL start nope >/dev/null 2>&1 || true
ctl settle "$VOW" --resolver "$RES" '"x"' >/dev/null
ctl ls >/dev/null
ctl show "$a" >/dev/null
ctl journal "$a" >/dev/null
ctl failures >/dev/null
ctl wake >/dev/null
ctl stats >/dev/null
"$B/tests/rawframe" "$SOCK" garbage >/dev/null
"$B/tests/rawframe" "$SOCK" truncated >/dev/null
"$B/tests/rawframe" "$SOCK" deep >/dev/null
# The timer has fired (its path ran under valgrind too), and a round trip
# after that: the daemon is idle when SIGTERM comes.
ctl vow "$nap" --wait --timeout 60 >/dev/null
ctl stats >/dev/null
kill -TERM "$DAEMON_PID"
rc=0
wait "$DAEMON_PID" || rc=$?
DAEMON_PID=
if [ $rc -ne 0 ] || [ -s "$WORK/vg.log" ]; then
	cat "$WORK/vg.log" >&2
	fail "valgrind: exit $rc"
fi
echo "valgrind-daemon: clean"
