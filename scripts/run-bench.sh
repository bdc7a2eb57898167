#!/bin/sh
# Runs every benchmark binary in BUILD_DIR/bench and prints their
# `bench NAME VALUE UNIT` lines, then the ratios to the reference
# implementation's figures (asyncflow-semantics.md §10: about 1,800
# entries/s live and 850 entries/s replaying on this kind of machine).
# Usage: run-bench.sh BUILD_DIR
set -eu
b=$1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for x in "$b"/bench/bench_*; do
	[ -x "$x" ] || continue
	case $x in
	*/bench_ipc) "$x" "$b" | tee -a "$out" ;;
	*) "$x" | tee -a "$out" ;;
	esac
done
awk '
$1 == "bench" && $2 == "replay_entries_per_s" { printf "ratio replay_vs_reference %.0fx (reference ~850 entries/s)\n", $3 / 850 }
$1 == "bench" && $2 == "live_crossings_per_s" { printf "ratio live_vs_reference %.0fx (reference ~1800 entries/s)\n", $3 / 1800 }
' "$out"
