# The data directory keeps its code: --module copies the file into
# DIR/modules/SHA256.so and loads that copy, so `cp` over the original
# while the daemon runs, or deleting it, changes nothing; a start without
# --module loads the recorded set; a start with --module replaces it.
set -eu
. tests/e2e/lib.inc
CC=${CC:-cc}
command -v sha256sum >/dev/null || skip "no sha256sum"

# `wait` awaits args.after if given, then returns the version it was
# built as; v2 is padded so that its code is laid out differently.
cat >"$WORK/wait.c" <<'C'
#include "asyncflow/flow.h"

#ifdef PAD
static const char pad[1 << 16] = { 1 };
const char *wait_pad(void);
const char *
wait_pad(void)
{
	return pad;
}
#endif

static int
flow_wait(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *after = af_get(args, "after"), *v;

	if (after != NULL)
		af_await(f, after, &v);
	*result = af_string(af_flow_arena(f), VERSION);
	return AF_OK;
}

AF_MODULE_ABI_DEFINE;
int af_module_init(struct af_registry *r, unsigned abi);

int
af_module_init(struct af_registry *r, unsigned abi)
{
	if (abi != AF_MODULE_ABI)
		return AF_EINVAL;
	return af_register_flow(r, "wait", flow_wait);
}
C
$CC -Iinclude -fPIC -shared -DVERSION='"v1"' -o "$WORK/v1.so" "$WORK/wait.c"
$CC -Iinclude -fPIC -shared -DVERSION='"v2"' -DPAD -o "$WORK/v2.so" \
    "$WORK/wait.c"
cp "$WORK/v1.so" "$WORK/mod.so"
SUM1=$(sha256sum "$WORK/v1.so" | cut -d' ' -f1)
SUM2=$(sha256sum "$WORK/v2.so" | cut -d' ' -f1)

# result ARGS: start `wait` with ARGS, print its outcome once settled.
result() {
	out=$(ctl start wait "$1" | jq -r '.outcome["@vow"]')
	ctl vow "$out" --wait --timeout 10 | jq -r .value
}

start_daemon --module "$WORK/mod.so"
[ -f "$DIR/modules/$SUM1.so" ] || fail "no $SUM1.so in DIR/modules"
expect "copy mode" "$(stat -c %a "$DIR/modules/$SUM1.so")" 600
cmp -s "$WORK/v1.so" "$DIR/modules/$SUM1.so" || fail "the copy differs"
expect "recorded set" "$(cat "$DIR/modules/set")" "$SUM1 $WORK/mod.so"
expect "v1" "$(result null)" v1

# An activation waits; the original is overwritten in place meanwhile.
mkvow
OUT=$(ctl start wait "{\"after\":{\"@vow\":$VOW}}" | jq -r '.outcome["@vow"]')
cp "$WORK/v2.so" "$WORK/mod.so"
ctl settle "$VOW" --resolver "$RES" 1 >/dev/null
expect "after cp" "$(ctl vow "$OUT" --wait --timeout 10 | jq -r .value)" v1
expect "new flow after cp" "$(result null)" v1
stop_daemon

# No --module: the recorded set (v1), although mod.so is now v2.
start_daemon
expect "recorded set loaded" "$(result null)" v1
grep -q "loaded module $WORK/mod.so" "$WORK/daemon.log" ||
	fail "the recorded module is not named in the log"
stop_daemon
# The original deleted: still loads.
rm "$WORK/mod.so"
start_daemon
expect "original deleted" "$(result null)" v1
stop_daemon

# --module replaces the recorded set; the next bare start keeps it.
start_daemon --module "$WORK/v2.so"
expect "new set" "$(result null)" v2
stop_daemon
expect "set replaced" "$(cat "$DIR/modules/set")" "$SUM2 $WORK/v2.so"
start_daemon
expect "replaced set loaded" "$(result null)" v2
stop_daemon

# A damaged copy is refused by a bare start, and --module writes it again.
printf x >>"$DIR/modules/$SUM2.so"
refused "module $WORK/v2.so: its copy $DIR/modules/$SUM2.so is missing or does not match its SHA-256"
start_daemon --module "$WORK/v2.so"
expect "copy rewritten" "$(result null)" v2
stop_daemon
cmp -s "$WORK/v2.so" "$DIR/modules/$SUM2.so" || fail "the copy is not repaired"
