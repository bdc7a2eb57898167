# Strings with NUL bytes round trip through the daemon and asyncflowctl
# (protocol 2: Value.string_value is bytes on the wire, so no side cuts a
# string at its first NUL); names (flow, object, key) with NUL or invalid
# UTF-8 are refused with a clear error, and every error reply is UTF-8.
# The client library's side is in tests/check_client.c.
set -eu
. tests/e2e/lib.inc
start_daemon

# A string with a NUL, as args of echo: the outcome and `show` print it
# back exactly as "\u0000".
out=$(ctl start echo '"a\u0000b"')
act=$(echo "$out" | jq -r .activation)
vow=$(echo "$out" | jq -r .outcome[\"@vow\"])
v=$(ctl vow "$vow" --wait)
case $v in *'"value":"a\u0000b"'*) ;; *) fail "outcome: $v" ;; esac
expect "length" "$(echo "$v" | jq '.value | length')" 3
s=$(ctl show "$act")
case $s in *'"args":"a\u0000b"'*) ;; *) fail "show: $s" ;; esac
# Inside a record and a list, and a string that is only a NUL.
out=$(ctl start echo '{"k": ["\u0000", "x\u0000y\u0000"]}')
vow=$(echo "$out" | jq -r .outcome[\"@vow\"])
v=$(ctl vow "$vow" --wait)
case $v in *'"value":{"k":["\u0000","x\u0000y\u0000"]}'*) ;;
*) fail "nested: $v" ;; esac

# Names cannot hold a NUL: a record key (JSON cannot load it), an object
# name, an error's name: usage errors before anything is sent.
for j in '{"a\u0000b": 1}' '{"@obj": "a\u0000b"}' \
    '{"@error": {"name": "E\u0000", "message": "m"}}'; do
	if $CTL start echo "$j" >/dev/null 2>"$WORK/err"; then
		fail "accepted: $j"
	fi
	grep -q "NUL" "$WORK/err" || fail "$j: message: $(cat "$WORK/err")"
done

# Over the raw protocol (what a client other than these would send): a
# NUL or a byte that is not UTF-8 in a flow name ("echo\0junk" used to
# start echo), an idempotency key, a served object, ls's state or a record
# key is refused with EINVAL naming the field; every error message is valid
# UTF-8; the connection stays open (closed=0: the probe after them was
# answered) and nothing was started.
n=$(ctl ls | jq length)
for b in nul utf8; do
	r=$("$B/tests/rawframe" "$SOCK" badnames $b)
	case $r in "errors=5 utf8=ok "*closed=0*EINVAL*"StartFlow.flow"*) ;;
	*) fail "badnames $b: $r" ;; esac
	for f in StartFlow.idempotency_key Serve.object ListActivations.state \
	    Field.key; do
		case $r in *"$f"*) ;; *) fail "badnames $b: no $f: $r" ;; esac
	done
done
expect "nothing started" "$(ctl ls | jq length)" "$n"
kill -0 "$DAEMON_PID" || fail "daemon died"
stop_daemon
