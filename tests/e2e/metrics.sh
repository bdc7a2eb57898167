# --metrics ADDR:PORT: /metrics is valid Prometheus text exposition (every
# line a comment or `name{labels} value`, each family's HELP and TYPE before
# its samples), its counters move with the work done, per-object gauges
# follow the outbox and the servers, `stats` has the map's use and size,
# /healthz is 200 while the store takes writes and 503
# with the reason when it does not (check_metrics.c). A failed commit is
# counted. A port in use or an address that does
# not parse is refused at start with a clear error.
set -eu
. tests/e2e/lib.inc

# http_get PATH: the body to $WORK/body, the status code on stdout.
http_get() {
	if command -v curl >/dev/null 2>&1; then
		curl -s -o "$WORK/body" -w '%{http_code}' "http://$ADDR$1"
	else
		command -v bash >/dev/null 2>&1 || skip "neither curl nor bash"
		bash -c 'exec 3<>"/dev/tcp/${1%:*}/${1##*:}" &&
		    printf "GET %s HTTP/1.0\r\nHost: x\r\n\r\n" "$2" >&3 &&
		    cat <&3' sh "$ADDR" "$1" | tr -d '\r' >"$WORK/resp"
		sed '1,/^$/d' "$WORK/resp" >"$WORK/body"
		sed -n '1s/^HTTP\/1\.[01] \([0-9]*\).*/\1/p' "$WORK/resp"
	fi
}

# scrape: /metrics to $WORK/m, checked line by line.
scrape() {
	expect "GET /metrics" "$(http_get /metrics)" 200
	cp "$WORK/body" "$WORK/m"
	awk '
	function fail(why) { print "line " NR ": " why ": " $0; bad = 1 }
	function family(n) {
		if (n in type) return n
		if (n ~ /_(bucket|sum|count)$/) {
			sub(/_(bucket|sum|count)$/, "", n)
			if (type[n] == "histogram") return n
		}
		return ""
	}
	/^# HELP / {
		if ($3 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*$/) fail("bad HELP name")
		else if ($3 in help) fail("second HELP")
		else if (NF < 4) fail("empty HELP")
		help[$3] = 1
		next
	}
	/^# TYPE / {
		if (NF != 4 || $4 !~ /^(counter|gauge|histogram|summary|untyped)$/)
			fail("bad TYPE")
		else if ($3 in type) fail("second TYPE")
		else if (!($3 in help)) fail("TYPE without HELP")
		type[$3] = $4
		next
	}
	/^#/ { next }
	{
		line = $0
		if (!match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*/)) {
			fail("no metric name"); next
		}
		name = substr(line, 1, RLENGTH)
		rest = substr(line, RLENGTH + 1)
		if (substr(rest, 1, 1) == "{") {
			lab = "^[{]([a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\\n]|\\\\[\\\\\"n])*\"(,|[}]))+"
			if (!match(rest, lab)) { fail("bad labels"); next }
			rest = substr(rest, RLENGTH + 1)
		}
		if (rest !~ /^ (-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|NaN|[-+]Inf)( -?[0-9]+)?$/) {
			fail("bad value"); next
		}
		f = family(name)
		if (f == "") { fail("sample before its TYPE"); next }
		if (type[f] == "counter" && name !~ /_total$/)
			fail("counter not named _total")
		n++
	}
	END { if (n == 0) { print "no samples"; bad = 1 } exit bad }
	' "$WORK/m" >"$WORK/check" || fail "invalid exposition: $(head -n 5 "$WORK/check")"
}

# metric 'NAME{LABELS}': its value in the last scrape.
metric() {
	v=$(awk -v k="$1" '$1 == k { print $2 }' "$WORK/m")
	[ -n "$v" ] || fail "no sample $1"
	echo "$v"
}

# start_metrics [ARGS...]: the daemon with --metrics on a free port; ADDR.
start_metrics() {
	: >"$WORK/daemon.log"
	start_daemon --metrics 127.0.0.1:0 "$@"
	ADDR=$(sed -n 's|.*metrics: http://\([0-9.:]*\)/metrics.*|\1|p' \
	    "$WORK/daemon.log" | tail -n 1)
	[ -n "$ADDR" ] || fail "the daemon does not log its metrics address"
}

start_metrics
scrape
for m in asyncflow_starts_total asyncflow_settles_total \
    asyncflow_commits_total asyncflow_passes_total \
    asyncflow_commit_duration_seconds_count asyncflow_pass_events_count \
    asyncflow_replays_total asyncflow_replayed_entries_total \
    asyncflow_activations_resident asyncflow_activations_sleeping \
    asyncflow_timers_pending asyncflow_connections \
    asyncflow_map_used_bytes asyncflow_map_size_bytes \
    asyncflow_uptime_seconds 'asyncflow_activations{state="Running"}' \
    'asyncflow_activations{state="Done"}'; do
	metric "$m" >/dev/null
done
grep -q '^asyncflow_build_info{version="[0-9.]*",protocol="[0-9]*",journal_format="[0-9]*"} 1$' \
    "$WORK/m" || fail "no build info"
grep -q '^asyncflow_commit_duration_seconds_bucket{le="+Inf"} ' "$WORK/m" ||
	fail "no +Inf bucket"
starts0=$(metric asyncflow_starts_total)
settles0=$(metric asyncflow_settles_total)
commits0=$(metric asyncflow_commits_total)
done0=$(metric 'asyncflow_activations{state="Done"}')
expect "map size" "$(metric asyncflow_map_size_bytes)" 8589934592

# Work: five echo flows (each settles its outcome), a nap (a timer), a
# transfer whose bank is not served yet (an invocation waiting).
for i in 1 2 3 4 5; do ctl start echo "$i" >/dev/null; done
ctl start nap '{"ms": 3600000}' >/dev/null
ctl start transfer '{"from": "a", "to": "b", "amount": 1}' >/dev/null
scrape
expect "starts" "$(metric asyncflow_starts_total)" $((starts0 + 7))
[ "$(metric asyncflow_settles_total)" -ge $((settles0 + 5)) ] ||
	fail "settles did not move by 5"
[ "$(metric asyncflow_commits_total)" -gt "$commits0" ] ||
	fail "commits did not move"
expect "Done" "$(metric 'asyncflow_activations{state="Done"}')" \
    $((done0 + 5))
expect "Running" "$(metric 'asyncflow_activations{state="Running"}')" 2
expect "timers" "$(metric asyncflow_timers_pending)" 1
expect "bank pending" "$(metric 'asyncflow_invocations_pending{object="bank"}')" 1
expect "bank servers" "$(metric 'asyncflow_servers_connected{object="bank"}')" 0
[ "$(metric asyncflow_connections)" -ge 0 ] || fail "connections"

# A client's settlement counts too.
settles1=$(metric asyncflow_settles_total)
mkvow
ctl settle "$VOW" --resolver "$RES" '"done"' >/dev/null
scrape
expect "settles after one settle" "$(metric asyncflow_settles_total)" \
    $((settles1 + 1))
[ "$(metric asyncflow_map_used_bytes)" -gt 0 ] || fail "map used is 0"
# The pass sizes add up to the events taken.
expect "pass size sum" "$(metric asyncflow_pass_events_sum)" \
    "$(metric asyncflow_events_total)"
[ "$(metric asyncflow_events_total)" -ge 7 ] || fail "events did not move"

# A server for bank: it answers, the invocation leaves the outbox.
serve bank sh -c 'cat >/dev/null; echo true'
wait_until "bank served" served 1
bank_done() {
	scrape
	[ "$(metric 'asyncflow_invocations_pending{object="bank"}')" = 0 ]
}
wait_until "the bank's invocations answered" bank_done
expect "bank servers" "$(metric 'asyncflow_servers_connected{object="bank"}')" 1

# stats: the map's use and size, as /metrics says.
st=$(ctl stats)
expect "stats map size" "$(echo "$st" | jq .map_size_bytes)" 8589934592
[ "$(echo "$st" | jq .map_used_bytes)" -gt 0 ] || fail "stats map used is 0"

expect "GET /healthz" "$(http_get /healthz)" 200
expect "healthz body" "$(cat "$WORK/body")" ok
expect "GET /nothing" "$(http_get /nothing)" 404

# Bad input: the port just taken, an address that does not parse.
for bad in "$ADDR" nonsense 127.0.0.1:http 300.0.0.1:9100; do
	rc=0
	"$B/asyncflowd" -d "$WORK/other" --metrics "$bad" \
	    2>"$WORK/bad.err" || rc=$?
	[ "$rc" -ne 0 ] || fail "--metrics $bad started"
	grep -q -- "--metrics" "$WORK/bad.err" ||
		fail "--metrics $bad: unclear error: $(cat "$WORK/bad.err")"
done
grep -q "Address already in use" "$WORK/bad.err" 2>/dev/null ||
	"$B/asyncflowd" -d "$WORK/other" --metrics "$ADDR" 2>&1 |
	grep -q "in use" || fail "a port in use is not named as such"
stop_daemon

# A full map: the failed commit is counted. (/healthz's 503 is pinned in
# check_metrics.c with injected store faults: here a later, smaller commit
# succeeds at once, and the store does take writes again.)
rm -rf "$DIR"
start_metrics --map-size 1
mkvow
big=$(head -c 20000 /dev/zero | tr '\0' 'y')
i=0
while [ $i -lt 200 ] &&
    $CTL start gather "[{\"@vow\":$VOW},\"$big\"]" >/dev/null 2>&1; do
	i=$((i + 1))
done
[ $i -lt 200 ] || fail "the map never filled"
scrape
[ "$(metric asyncflow_commit_failures_total)" -ge 1 ] ||
	fail "the failed commit is not counted"
stop_daemon
echo "metrics: ok"
