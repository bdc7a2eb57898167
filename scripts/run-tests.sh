#!/bin/sh
# Runs every Check test binary given and the end-to-end scripts in
# tests/e2e/ (if any), a few at a time, and prints one closing line
# "N passed, N failed, N skipped". Exit status is non-zero if anything
# failed. It is a runner only: what a test checks is in the test.
#
# Usage: run-tests.sh BUILD_DIR TEST_BIN...
#   TEST_JOBS=N   how many tests run at once (default 3; 1 = one by one;
#                 default 1 in a sanitizer build, build/asan: its processes
#                 are several times heavier, and a few Check tests still
#                 wait for a fixed time, e.g. check_client's fake daemon
#                 gives up on its listening socket after 10 s)
#
# Check's per-test timeouts are hang guards, not assertions (a test that
# is about time checks the clock itself): with N tests sharing the CPUs
# each gets a share, so they are scaled by N (CK_TIMEOUT_MULTIPLIER, unless
# set already).
#
# A Check binary counts its checks; an e2e script counts once: exit 0 is
# a pass, 77 a skip (it cannot run here: counted apart, never as a pass),
# anything else a failure. The scripts are independent (each has its own
# temporary directory and socket), so they run side by side; each one's
# output is kept and printed whole, in a fixed order (the binaries, then
# the scripts by name), with its verdict and time, whatever order they
# finish in. A script whose header has the line "# run-tests: start early"
# (a long one) is started first, so that it does not finish last alone.
set -u
b=$1; shift
case $b in
*asan*) jobs=${TEST_JOBS:-1} ;;
*) jobs=${TEST_JOBS:-3} ;;
esac
CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-$jobs}
export CK_TIMEOUT_MULTIPLIER
tmp=$(mktemp -d "${TMPDIR:-/tmp}/afrun.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# The jobs, numbered in print order: job_K is a binary or a script.
n=0
for t in "$@"; do
	n=$((n + 1)); eval "job_$n=\$t"
done
for s in tests/e2e/*.sh; do
	[ -e "$s" ] || continue
	n=$((n + 1)); eval "job_$n=\$s"
done
# The order they start in: the early scripts, then the rest.
order=""
k=1
while [ $k -le $n ]; do
	eval "t=\$job_$k"
	case $t in
	*.sh) grep -q '^# run-tests: start early' "$t" && order="$order $k" ;;
	esac
	k=$((k + 1))
done
k=1
while [ $k -le $n ]; do
	case " $order " in *" $k "*) ;; *) order="$order $k" ;; esac
	k=$((k + 1))
done

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# run_job K: run job K, its output to $tmp/K.out, then "RC MS" to $tmp/K.rc
# (written last, and whole: its existence means the job is over).
run_job() {
	eval "t=\$job_$1"
	s=$(now_ms)
	case $t in
	*.sh) B="$b" sh "$t" >"$tmp/$1.out" 2>&1 </dev/null ;;
	*) "$t" >"$tmp/$1.out" 2>&1 </dev/null ;;
	esac
	rc=$?
	echo "$rc $(($(now_ms) - s))" >"$tmp/$1.rc.new"
	mv "$tmp/$1.rc.new" "$tmp/$1.rc"
}

passed=0; failed=0; skipped=0; bad=""; skips=""

# report K: print job K's output and verdict, and count it.
report() {
	eval "t=\$job_$1"
	read -r rc ms <"$tmp/$1.rc"
	secs=$((ms / 1000)).$((ms % 1000 / 100))
	case $t in
	*.sh)
		echo "e2e: $t"
		cat "$tmp/$1.out"
		case $rc in
		0) passed=$((passed + 1)); v=passed ;;
		77) skipped=$((skipped + 1)); skips="$skips $t"; v=skipped ;;
		*) failed=$((failed + 1)); bad="$bad $t"; v="FAILED (exit $rc)" ;;
		esac
		echo "e2e: $t: $v, $secs s"
		return
		;;
	esac
	cat "$tmp/$1.out"
	line=$(grep -E '^[0-9]+%: Checks: ' "$tmp/$1.out" | tail -n 1)
	if [ -z "$line" ]; then
		failed=$((failed + 1)); bad="$bad $t(no summary, rc=$rc)"
		echo "check: $t: FAILED (no summary, exit $rc), $secs s"
		return
	fi
	nc=$(printf '%s' "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
	nf=$(printf '%s' "$line" |
	    sed -E 's/.*Failures: ([0-9]+), Errors: ([0-9]+).*/\1 + \2/')
	nf=$(($nf))
	passed=$((passed + nc - nf)); failed=$((failed + nf))
	if [ "$rc" -ne 0 ] && [ "$nf" -eq 0 ]; then
		failed=$((failed + 1)); bad="$bad $t(rc=$rc)"
	fi
	echo "check: $t: $((nc - nf)) of $nc passed (exit $rc), $secs s"
}

running=0
next=1		# next job to print
set -- $order
while [ $next -le $n ]; do
	while [ $running -lt "$jobs" ] && [ $# -gt 0 ]; do
		run_job "$1" &
		eval "started_$1=1"
		running=$((running + 1))
		shift
	done
	# Jobs over since the last look free their slots.
	k=1
	while [ $k -le $n ]; do
		eval "st=\${started_$k:-0}"
		if [ "$st" = 1 ] && [ -e "$tmp/$k.rc" ]; then
			eval "started_$k=2"
			running=$((running - 1))
		fi
		k=$((k + 1))
	done
	while [ $next -le $n ] && [ -e "$tmp/$next.rc" ]; do
		report $next
		next=$((next + 1))
	done
	[ $next -le $n ] && sleep 0.1
done
wait
[ -n "$skips" ] && echo "skipped:$skips"
[ -n "$bad" ] && echo "failed:$bad"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
