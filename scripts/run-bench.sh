#!/bin/sh
# Runs every benchmark binary in BUILD_DIR/bench and prints their
# `bench NAME VALUE UNIT` lines, then the ratios to the reference
# implementation's figures (asyncflow-semantics.md §10: about 1,800
# entries/s live and 850 entries/s replaying on this kind of machine).
# The first line says where and when the figures were taken:
#   bench-env cpu="MODEL" cores=N date=YYYY-MM-DDTHH:MMZ kernel=K load1=L
# (load1: the 1-minute load average as the run began; figures taken on a
# busy machine are not comparable with a quiet one's).
# Usage: run-bench.sh BUILD_DIR
set -eu
b=$1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo 2>/dev/null |
    head -n 1)
[ -n "$cpu" ] || cpu=$(LC_ALL=C lscpu 2>/dev/null |
    sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)
[ -n "$cpu" ] || cpu=unknown
printf 'bench-env cpu="%s" cores=%s date=%s kernel=%s load1=%s\n' \
    "$(printf '%s' "$cpu" | tr -d '"')" "$(nproc)" \
    "$(date -u +%Y-%m-%dT%H:%MZ)" "$(uname -r)" \
    "$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo unknown)"
for x in "$b"/bench/bench_*; do
	[ -x "$x" ] || continue
	case $x in
	*/bench_scale) continue ;; # make bench-scale: minutes
	*/bench_ipc | */bench_latency | */bench_upgrade_live | */bench_exports)
		"$x" "$b" | tee -a "$out" ;;
	*) "$x" | tee -a "$out" ;;
	esac
done
awk '
$1 == "bench" && $2 == "replay_entries_per_s" { printf "ratio replay_vs_reference %.0fx (reference ~850 entries/s)\n", $3 / 850 }
$1 == "bench" && $2 == "live_crossings_per_s" { printf "ratio live_vs_reference %.0fx (reference ~1800 entries/s)\n", $3 / 1800 }
' "$out"
