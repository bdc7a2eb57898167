# Bad modules: each start fails with a message naming the module and the
# real reason (not ELF, no entry point, wrong ABI, a name registered twice,
# an init that refuses); a module that crashes in its init is recorded, and
# the next start names it; `--module x.so` is a file in the cwd.
set -eu
. tests/e2e/lib.inc
CC=${CC:-cc}

# mod NAME BODY: build $WORK/NAME.so from flow.h and the C text BODY.
mod() {
	printf '#include "asyncflow/flow.h"\n%s\n' "$2" >"$WORK/$1.c"
	$CC -Iinclude -fPIC -shared -o "$WORK/$1.so" "$WORK/$1.c" ||
		fail "cannot build $1.so"
}
INIT='int af_module_init(struct af_registry *r, unsigned abi);'
FLOW='static int f(struct af_flow *fl, const struct af_value *a,
    const struct af_value **out) { (void)fl; *out = a; return AF_OK; }'

head -c 4096 /dev/zero | tr '\0' x >"$WORK/text.so"
refused "module $WORK/text.so: cannot load it: " --module "$WORK/text.so"
grep -q "invalid ELF header" "$WORK/err" || fail "no reason: $(cat "$WORK/err")"

mod noentry "$FLOW int g(void); int g(void) { return 0; }"
refused "module $WORK/noentry.so: no af_module_init entry point" \
    --module "$WORK/noentry.so"

mod abi "AF_MODULE_ABI_DEFINE; $INIT
int af_module_init(struct af_registry *r, unsigned abi)
{ (void)r; (void)abi; return AF_OK; }"
sed -i 's/AF_MODULE_ABI_DEFINE;/const unsigned af_module_abi = 999;/' \
    "$WORK/abi.c"
$CC -Iinclude -fPIC -shared -o "$WORK/abi.so" "$WORK/abi.c"
refused "module $WORK/abi.so: built for module ABI 999, this daemon's is" \
    --module "$WORK/abi.so"

# A name the built-in module has, then one another module has.
mod dup "$FLOW $INIT
int af_module_init(struct af_registry *r, unsigned abi)
{ (void)abi; return af_register_flow(r, \"echo\", f); }"
refused "module $WORK/dup.so: af_module_init failed (EEXIST, already exists): flow \"echo\" is registered twice (first by built-in)" \
    --module "$WORK/dup.so"
mod one "$FLOW AF_MODULE_ABI_DEFINE; $INIT
int af_module_init(struct af_registry *r, unsigned abi)
{ (void)abi; return af_register_flow(r, \"one\", f); }"
cp "$WORK/one.so" "$WORK/other.so"
refused "module $WORK/other.so: af_module_init failed (EEXIST, already exists): flow \"one\" is registered twice (first by $WORK/one.so)" \
    --module "$WORK/one.so" --module "$WORK/other.so"
if grep -q "a name registered twice" "$WORK/err"; then
	fail "a guess instead of the reason: $(cat "$WORK/err")"
fi

# An init that refuses for its own reasons: its code, no guess.
mod no "$INIT
int af_module_init(struct af_registry *r, unsigned abi)
{ (void)r; (void)abi; return AF_ENOTFOUND; }"
refused "module $WORK/no.so: af_module_init refused to load (returned -30001, ENOTFOUND: not found)" \
    --module "$WORK/no.so"

# A file that is not there: the module and the reason, not a guess.
refused "module $WORK/nothere.so: No such file or directory" \
    --module "$WORK/nothere.so"

# A path with a newline would make the recorded set unreadable at the
# next start: refused, and nothing recorded.
mkdir "$WORK/a
b"
cp "$WORK/one.so" "$WORK/a
b/one.so"
refused "holds a newline" --module "$WORK/a
b/one.so"
if grep -qx "b/one.so" "$DIR/modules/set" 2>/dev/null; then
	fail "a set was recorded for a path with a newline"
fi

# A relative path without '/': a file in the current directory.
(cd "$WORK" && exec "$B/asyncflowd" -d "$DIR" --module one.so \
    >>"$WORK/daemon.log" 2>&1) &
DAEMON_PID=$!
answers() { $CTL stats >/dev/null 2>&1; }
wait_until "the daemon" answers
OUT=$(ctl start one 7 | jq -r '.outcome["@vow"]')
expect "relative module" "$(ctl vow "$OUT" --wait --timeout 10 | jq -c .value)" 7
stop_daemon

# A crash in init kills the daemon, but the record names the module and
# the next start refuses that file, saying why.
mod crash "$INIT
int af_module_init(struct af_registry *r, unsigned abi)
{ (void)r; (void)abi; return *(volatile int *)0; }"
refused "" --module "$WORK/crash.so"
refused "module $WORK/crash.so crashed the daemon in af_module_init at an earlier start (signal 11: Segmentation fault): not loading it again" \
    --module "$WORK/crash.so"
# Without it the daemon starts, and says what happened.
start_daemon --module "$WORK/one.so"
grep -q "crash.so crashed the daemon in af_module_init at an earlier start" \
    "$WORK/daemon.log" || fail "the crash is not logged"
stop_daemon
