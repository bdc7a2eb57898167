# af_patched (issue 9, item 5) through a real daemon and module: `ship`
# v1 has activations in flight when v2 adds a step behind
# af_patched(f, "label") right after its first call. Under v2, one whose
# journal goes on past that point (approved, waiting for delivery)
# replays on the false path, with no divergence, and finishes without the
# step; one whose journal ends there (waiting for approval) is live at
# that point and takes the step, as new ones do: they journal the marker.
# A journal with the marker replayed by v1 code is Failed, the diagnostic
# naming the marker; back on v2 it goes on. The module is
# tests/modules/patched.c, built here in both versions.
set -eu
. tests/e2e/lib.inc
CC=${CC:-cc}
for v in 1 2; do
	$CC -shared -fPIC -Iinclude -DPATCHED_VERSION=$v \
	    -o "$WORK/patched-v$v.so" tests/modules/patched.c ||
		fail "building the module, version $v"
done
# ship: start one with two new vows; sets ACT, OUT, and A_VOW/A_RES
# (approval), D_VOW/D_RES (delivered).
ship() {
	mkvow
	A_VOW=$VOW A_RES=$RES
	mkvow
	D_VOW=$VOW D_RES=$RES
	out=$(ctl start ship \
	    "{\"approval\":{\"@vow\":$A_VOW},\"delivered\":{\"@vow\":$D_VOW}}")
	ACT=$(echo "$out" | jq -r .activation)
	OUT=$(echo "$out" | jq -r '.outcome["@vow"]')
}
kinds() {
	ctl journal "$1" | jq -c '[.[] | .id // .kind]'
}
start_daemon --module "$WORK/patched-v1.so"
ship
OLD=$ACT OLDO=$OUT OLD_D=$D_VOW OLD_DR=$D_RES
ctl settle "$A_VOW" --resolver "$A_RES" '"ok"' >/dev/null
ship
WAITING=$ACT WAITINGO=$OUT WA=$A_VOW WAR=$A_RES WD=$D_VOW WDR=$D_RES
ctl mkvow >/dev/null # a later pass: the settle's delivery is committed
expect "v1 journal" "$(kinds "$OLD")" \
    '["checkCall","doReturn","doFulfill","checkCall","doReturn"]'
expect "v1 waiting journal" "$(kinds "$WAITING")" '["checkCall","doReturn"]'
stop_daemon

start_daemon --module "$WORK/patched-v2.so"
expect "old under v2" "$(state_of "$OLD")" Running
expect "old journal under v2" "$(kinds "$OLD")" \
    '["checkCall","doReturn","doFulfill","checkCall","doReturn"]'
expect "waiting under v2" "$(state_of "$WAITING")" Running
expect "waiting took the step" "$(kinds "$WAITING")" \
    '["checkCall","doReturn","label","checkCall","doReturn"]'
ship
NEW=$ACT NEWO=$OUT NA=$A_VOW NAR=$A_RES ND=$D_VOW NDR=$D_RES
expect "v2 journal" "$(kinds "$NEW")" \
    '["checkCall","doReturn","label","checkCall","doReturn"]'
expect "marker" "$(ctl journal "$NEW" | jq -c '.[2] | [.kind, .id]')" \
    '["patched","label"]'
stop_daemon

# Back to v1 is an upgrade that fails the check (the marker journals):
# refused, naming the marker, unless forced.
refused "expected patched(label)" --module "$WORK/patched-v1.so"
start_daemon --force-upgrade --module "$WORK/patched-v1.so"
expect "new under v1" "$(state_of "$NEW")" Failed
ctl show "$NEW" | jq -r .failure |
    grep -q "journal index 2: expected patched(label)" ||
	fail "the diagnostic does not name the marker: $(ctl show "$NEW")"
expect "old under v1" "$(state_of "$OLD")" Running
stop_daemon

start_daemon --module "$WORK/patched-v2.so"
expect "new back on v2" "$(state_of "$NEW")" Running
ctl settle "$OLD_D" --resolver "$OLD_DR" '"d1"' >/dev/null
ctl settle "$WA" --resolver "$WAR" '"ok"' >/dev/null
ctl settle "$WD" --resolver "$WDR" '"d2"' >/dev/null
ctl settle "$NA" --resolver "$NAR" '"ok"' >/dev/null
ctl settle "$ND" --resolver "$NDR" '"d3"' >/dev/null
expect "old outcome" "$(ctl vow "$OLDO" --wait --timeout 10 | jq -c .value)" \
    '{"approval":"ok","delivered":"d1","patched":false}'
expect "waiting outcome" \
    "$(ctl vow "$WAITINGO" --wait --timeout 10 | jq -c .value)" \
    '{"approval":"ok","delivered":"d2","patched":true}'
expect "new outcome" "$(ctl vow "$NEWO" --wait --timeout 10 | jq -c .value)" \
    '{"approval":"ok","delivered":"d3","patched":true}'
for a in "$OLD" "$WAITING" "$NEW"; do
	expect "$a Done" "$(state_of "$a")" Done
done
stop_daemon
