#!/bin/sh
# Runs every Check test binary given, then the end-to-end scripts in
# tests/e2e/ (if any), and prints one closing line "N passed, N failed".
# Exit status is non-zero if anything failed.
# Usage: run-tests.sh BUILD_DIR TEST_BIN...
set -u
b=$1; shift
passed=0; failed=0; bad=""
for t in "$@"; do
	out=$("$t" 2>&1); rc=$?
	printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: ' | tail -n 1)
	n=$(printf '%s' "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
	f=$(printf '%s' "$line" | sed -E 's/.*Failures: ([0-9]+), Errors: ([0-9]+).*/\1 \2/')
	if [ -z "$line" ]; then
		failed=$((failed + 1)); bad="$bad $t(no summary, rc=$rc)"; continue
	fi
	nf=$(( $(echo "$f" | cut -d' ' -f1) + $(echo "$f" | cut -d' ' -f2) ))
	passed=$((passed + n - nf)); failed=$((failed + nf))
	if [ "$rc" -ne 0 ] && [ "$nf" -eq 0 ]; then
		failed=$((failed + 1)); bad="$bad $t(rc=$rc)"
	fi
done
for s in tests/e2e/*.sh; do
	[ -e "$s" ] || continue
	echo "e2e: $s"
	if B="$b" sh "$s"; then passed=$((passed + 1))
	else failed=$((failed + 1)); bad="$bad $s"; fi
done
[ -n "$bad" ] && echo "failed:$bad"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
