# The daemon exports to modules only the guest API (daemon/guest.map): the
# functions declared in flow.h and errors.h, and af_list (the old name of
# af_list_of). A module that defines a function named like one of the
# daemon's internals (fatal, buf_init) calls its own.
set -eu
. tests/e2e/lib.inc
command -v nm >/dev/null || skip "no nm"

# What the headers declare: every af_NAME( that is not a typedef'd type.
grep -ho '\baf_[a-z0-9_]*(' include/asyncflow/flow.h \
    include/asyncflow/errors.h | sed 's/($//' | grep -v '_fn$' |
    { cat; echo af_list; } | sort -u >"$WORK/declared"
# What the daemon defines and exports (versioned names are the libraries'
# copy-relocated data: stderr@GLIBC_..., not the daemon's own; so are the
# sanitizer runtime's unversioned __asan_* in a `make asan` build).
nm -D --defined-only "$B/asyncflowd" | awk '{ print $3 }' | grep -v @ |
    grep -Ev '^__(asan|ubsan|lsan|sanitizer)_' | sort -u >"$WORK/exported"
diff "$WORK/declared" "$WORK/exported" >"$WORK/symdiff" ||
	fail "exports differ from flow.h + errors.h (< declared, > exported):
$(cat "$WORK/symdiff")"

# A module with its own fatal and buf_init.
cat >"$WORK/own.c" <<'C'
#include "asyncflow/flow.h"

struct mybuf {
	long v[16];
};
const char *fatal(const char *why);
void buf_init(struct mybuf *b);

const char *
fatal(const char *why)
{
	(void)why;
	return "own fatal";
}

void
buf_init(struct mybuf *b)
{
	b->v[0] = 42;
}

static int
flow_own(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	struct af_arena *a = af_flow_arena(f);
	struct mybuf b = { { 0 } };
	const char *k[2] = { "fatal", "buf_init" };
	const struct af_value *v[2];

	(void)args;
	buf_init(&b);
	v[0] = af_string(a, fatal("the daemon's fatal was called"));
	v[1] = af_int(a, b.v[0]);
	*result = af_record(a, k, v, 2);
	return AF_OK;
}

int af_module_init(struct af_registry *r, unsigned abi);

int
af_module_init(struct af_registry *r, unsigned abi)
{
	if (abi != AF_MODULE_ABI)
		return AF_EINVAL;
	return af_register_flow(r, "own", flow_own);
}
C
${CC:-cc} -Iinclude -fPIC -shared -o "$WORK/own.so" "$WORK/own.c" ||
	fail "cannot build the test module"
start_daemon --module "$WORK/own.so"
OUT=$(ctl start own null | jq -r '.outcome["@vow"]')
expect "own symbols" "$(ctl vow "$OUT" --wait --timeout 10 | jq -cS .value)" \
    '{"buf_init":42,"fatal":"own fatal"}'
stop_daemon
