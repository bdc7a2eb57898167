# asyncflowctl for operators, on a real daemon: -o table for ls, failures,
# show, journal, stats, modules (columns and values); global options after
# the command; ls filters (--flow, --state, --limit, --after); JSON
# arguments from @FILE and stdin, and a bad @FILE (exit 2, named); the
# default format (table on a terminal, JSON otherwise, through script(1)
# when util-linux has it), the progress line on a terminal's stderr, and
# the bash completion script (dist/asyncflowctl.bash).
set -eu
. tests/e2e/lib.inc
C=$B/asyncflowctl
M=$B/modules
# cols FILE ROW: the whitespace-separated fields of line ROW (1: header).
cols() {
	sed -n "${2}p" "$1" | tr -s ' ' | sed 's/ *$//'
}

start_daemon --module "$M/example-v1.so"
mkvow
ctl start nap '{"ms": 600000}' >/dev/null                   # 1: Running
ctl start echo '"hi"' >/dev/null                            # 2: Done
ctl start transfer '{"from":"a","to":"b","amount":5}' >/dev/null # 3
ctl start order "{\"approval\":{\"@vow\":$VOW}}" >/dev/null  # 4
ctl start nap '{"ms": 600000}' >/dev/null                   # 5: Running
# 4 becomes Failed: its module is not loaded at the next start (a start
# without --module loads the recorded set: forget it).
stop_daemon
rm "$DIR/modules/set"
start_daemon

# ls: the header names the columns; each row its activation.
$C ls -s "$SOCK" -o table >"$WORK/ls" || fail "ls -o table"
expect "ls header" "$(cols "$WORK/ls" 1)" \
	"ID FLOW STATE JOURNAL CREATED LAST PROGRESS BLOCKED ON"
expect "ls rows" "$(($(wc -l <"$WORK/ls") - 1))" 5
expect "ls row 1" "$(cols "$WORK/ls" 2 | cut -d' ' -f1-4)" "1 nap Running 2"
expect "ls row 2" "$(cols "$WORK/ls" 3 | cut -d' ' -f1-4)" "2 echo Done 0"
expect "ls row 4" "$(cols "$WORK/ls" 5 | cut -d' ' -f1-3)" "4 order Failed"
sed -n 2p "$WORK/ls" | grep -q "timer vow [0-9]* due 20[0-9-]*T[0-9:.]*Z$" ||
	fail "ls row 1 blocked on: $(sed -n 2p "$WORK/ls")"
sed -n 4p "$WORK/ls" | grep -q "send bank.withdraw vow [0-9]* (no server connected)$" ||
	fail "ls row 3 blocked on: $(sed -n 4p "$WORK/ls")"
sed -n 3p "$WORK/ls" | grep -q " -$" || fail "ls: Done blocked on: $(sed -n 3p "$WORK/ls")"

# failures.
ctl failures -o table >"$WORK/f"
expect "failures header" "$(cols "$WORK/f" 1)" "ID FLOW JOURNAL LAST PROGRESS FAILURE"
expect "failures rows" "$(wc -l <"$WORK/f")" 2
expect "failures row" "$(cols "$WORK/f" 2)" \
	"4 order 2 $(ctl show 4 | jq -r .last_progress) flow order not registered"

# show.
ctl show 1 -o table >"$WORK/s"
expect "show state" "$(grep '^state ' "$WORK/s" | tr -s ' ')" "state Running"
expect "show flow" "$(grep '^flow ' "$WORK/s" | tr -s ' ')" "flow nap"
expect "show args" "$(grep '^args ' "$WORK/s" | tr -s ' ')" 'args {"ms":600000}'
expect "show created" "$(grep '^created ' "$WORK/s" | tr -s ' ')" \
	"created $(ctl show 1 | jq -r .created)"
expect "show incarnation" "$(grep '^incarnation ' "$WORK/s" | tr -s ' ')" \
	"incarnation created by 1, journal last written by 1"
grep -q "^blocked on       coroutine 0: await timer vow [0-9]* due " "$WORK/s" ||
	fail "show blocked on: $(cat "$WORK/s")"

# journal.
ctl journal 1 -o table >"$WORK/j"
expect "journal header" "$(cols "$WORK/j" 1)" "INDEX KIND INC ENTRY"
expect "journal 0" "$(cols "$WORK/j" 2)" "0 checkCall 1 timer.sleep(600000)"
expect "journal 1" "$(cols "$WORK/j" 3 | cut -d' ' -f1-4)" "1 doReturn 1 #0"

# stats and modules.
ctl stats -o table >"$WORK/st"
expect "stats header" "$(cols "$WORK/st" 1)" "COUNTER VALUE"
expect "stats durability" "$(grep '^durability ' "$WORK/st" | tr -s ' ')" "durability full"
expect "stats incarnation" "$(grep '^incarnation ' "$WORK/st" | tr -s ' ')" "incarnation 2"
expect "stats timers" "$(grep '^timers_pending ' "$WORK/st" | tr -s ' ')" \
	"timers_pending $(ctl stats | jq .timers_pending)"
ctl modules -o table >"$WORK/m"
expect "modules header" "$(cols "$WORK/m" 1)" "KIND NAME"
grep -q "^flow    nap$" "$WORK/m" || fail "modules: $(cat "$WORK/m")"
grep -q "^object  timer$" "$WORK/m" || fail "modules: $(cat "$WORK/m")"
expect "modules json" "$(ctl modules | jq -c .flows)" \
	'["approval","echo","gather","nap","shipping","shop","transfer"]'

# Filters, server-side; options after the command and its arguments.
expect "--flow" "$($C ls --flow nap -s "$SOCK" | jq -c '[.[].activation]')" "[1,5]"
expect "--state" "$($C ls --state Done --socket "$SOCK" | jq -c '[.[].activation]')" "[2]"
expect "--limit" "$($C ls --limit 2 --socket="$SOCK" | jq -c '[.[].activation]')" "[1,2]"
expect "--after" "$($C ls --after 3 -s "$SOCK" | jq -c '[.[].activation]')" "[4,5]"
expect "all four" "$($C ls --flow nap --state Running --after 1 --limit 1 -s "$SOCK" |
	jq -c '[.[].activation]')" "[5]"
expect "none" "$(ctl ls --flow nosuch | jq -c .)" "[]"
# The JSON of ls is show's for each.
expect "ls = show" "$(ctl ls --after 4 --limit 1 | jq -c '.[0]')" "$(ctl show 5 | jq -c .)"

# JSON arguments: @FILE, - (stdin), and bad ones.
printf '{"x": [1, 2.5, "three"]}\n' >"$WORK/args.json"
o=$(ctl start echo "@$WORK/args.json" --wait | jq -c .value)
expect "@FILE" "$o" '{"x":[1,2.5,"three"]}'
o=$(ctl start echo - --wait <"$WORK/args.json" | jq -c '[.state, .value]')
expect "stdin" "$o" '["fulfilled",{"x":[1,2.5,"three"]}]'
r=$(ctl mkvow)
v=$(echo "$r" | jq -r .vow)
printf '"settled from a file"' >"$WORK/val.json"
ctl settle "$v" --resolver "$(echo "$r" | jq -r .resolver)" "@$WORK/val.json" >/dev/null
expect "settle @FILE" "$(ctl vow "$v" | jq -r .value)" "settled from a file"
set +e
$C -s "$SOCK" start echo "@$WORK/missing.json" >"$WORK/out" 2>"$WORK/err"
rc=$?
set -e
expect "missing @FILE exit" "$rc" 2
expect "missing @FILE stdout" "$(cat "$WORK/out")" ""
grep -q "$WORK/missing.json" "$WORK/err" || fail "not named: $(cat "$WORK/err")"
printf 'not json at all' >"$WORK/junk.json"
set +e
$C -s "$SOCK" start echo "@$WORK/junk.json" >"$WORK/out" 2>"$WORK/err"
rc=$?
set -e
expect "bad @FILE exit" "$rc" 2
grep -q "$WORK/junk.json" "$WORK/err" || fail "not named: $(cat "$WORK/err")"
expect "nothing started" "$(ctl ls | jq length)" 7

# Not a terminal: JSON, whatever the command.
ctl ls --limit 1 | jq -e '.[0].activation == 1' >/dev/null || fail "default JSON"
# A terminal: tables, and a progress line on stderr while waiting, never in
# the answer. script(1) gives the command a terminal.
if command -v script >/dev/null 2>&1; then
	TERM=dumb script -qec "$C -s $SOCK ls --limit 1" /dev/null >"$WORK/tty" ||
		fail "ls on a terminal"
	expect "terminal default" "$(tr -d '\r' <"$WORK/tty" | cols /dev/stdin 1)" \
		"ID FLOW STATE JOURNAL CREATED LAST PROGRESS BLOCKED ON"
	mkvow
	TERM=dumb script -qec "$C -s $SOCK vow $VOW --wait --timeout 0.5" \
	    /dev/null >"$WORK/tty" || true
	grep -q "waiting for vow $VOW" "$WORK/tty" ||
		fail "no progress on a terminal: $(cat "$WORK/tty")"
	# stdout to a file, stderr on the terminal: the answer is clean JSON.
	ctl settle "$VOW" --resolver "$RES" 7 >/dev/null
	TERM=dumb script -qec "$C -s $SOCK vow $VOW --wait >$WORK/ans" /dev/null \
	    >/dev/null || fail "vow --wait on a terminal"
	expect "clean answer" "$(cat "$WORK/ans")" '{"vow":'"$VOW"',"state":"fulfilled","value":7}'
fi
# Bash completion: commands, an option's values, flow names from the
# daemon (asyncflowctl modules).
if command -v bash >/dev/null 2>&1; then
	comp() {
		C=$C bash -c '. dist/asyncflowctl.bash
		COMP_WORDS=("$C" "$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_asyncflowctl; echo "${COMPREPLY[*]}"' comp "$@"
	}
	expect "complete commands" "$(comp st)" "start stats"
	expect "complete --state" "$(comp ls --state F)" "Failed"
	expect "complete flows" "$(comp -s "$SOCK" ls --flow "")" \
		"approval echo gather nap shipping shop transfer"
	expect "complete start" "$(comp start -s "$SOCK" t)" "transfer"
fi
# Without a terminal there is no progress line.
set +e
$C -s "$SOCK" vow "$(ctl mkvow | jq .vow)" --wait --timeout 0.2 >"$WORK/out" 2>"$WORK/err"
rc=$?
set -e
expect "timeout exit" "$rc" 1
grep -q "waiting for" "$WORK/err" && fail "progress without a terminal: $(cat "$WORK/err")"
stop_daemon
