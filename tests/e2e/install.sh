# make install into a staging directory (DESTDIR), then use only what was
# installed, as a user of the package would: a client program compiled with
# nothing but `pkg-config --cflags --libs asyncflow` (shared library) and
# one linked with the static library, a flow module compiled against the
# installed <asyncflow/flow.h>; the installed asyncflowd runs that module,
# driven by the compiled client and the installed asyncflowctl. Also: the
# soname and its links, headers that include nothing outside the installed
# tree, the systemd units and bash completion installed when dist/ has
# them, another PREFIX, and make uninstall leaving no file behind.
# Not here: the man pages' contents (manpages.sh).
set -eu
MAKE_B=${B:-build}	# as make was given it (lib.inc makes B absolute)
. tests/e2e/lib.inc

command -v pkg-config >/dev/null 2>&1 || skip "pkg-config not installed"
command -v readelf >/dev/null 2>&1 || skip "readelf not installed"
CC=${CC:-cc}

# make_in DEST PREFIX TARGET: run the tree's make for TARGET, outside the
# make that runs the tests (its jobserver and command-line variables).
make_in() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory \
	    B="$MAKE_B" DESTDIR="$1" PREFIX="$2" "$3" >"$WORK/make.log" 2>&1 ||
		{ cat "$WORK/make.log" >&2; fail "make $3 DESTDIR=$1 PREFIX=$2"; }
}

# files_under DIR: every file and symbolic link under DIR, sorted.
files_under() {
	(cd "$1" && find . \( -type f -o -type l \) | sort)
}

version=$(sed -n 's/^#define AF_VERSION "\(.*\)"$/\1/p' \
    include/asyncflow/version.h)
major=${version%%.*}

# ---- make install DESTDIR=... PREFIX=/usr/local --------------------------
DEST=$WORK/dest
P=$DEST/usr/local
make_in "$DEST" /usr/local install
want="./usr/local/bin/asyncflowctl
./usr/local/include/asyncflow.h
./usr/local/include/asyncflow/asyncflow.pb-c.h
./usr/local/include/asyncflow/errors.h
./usr/local/include/asyncflow/flow.h
./usr/local/include/asyncflow/protocol.h
./usr/local/include/asyncflow/version.h
./usr/local/lib/libasyncflow.a
./usr/local/lib/libasyncflow.so
./usr/local/lib/libasyncflow.so.$major
./usr/local/lib/libasyncflow.so.$version
./usr/local/lib/pkgconfig/asyncflow.pc
./usr/local/sbin/asyncflowd
./usr/local/share/man/man1/asyncflowctl.1
./usr/local/share/man/man3/asyncflow-flow.3
./usr/local/share/man/man8/asyncflowd.8"
for u in asyncflowd.service asyncflowd.socket; do
	[ -e "dist/$u" ] && want="$want
./usr/local/lib/systemd/system/$u"
done
[ -e dist/asyncflowctl.bash ] && want="$want
./usr/local/share/bash-completion/completions/asyncflowctl"
want=$(echo "$want" | sort)
got=$(files_under "$DEST")
[ "$got" = "$want" ] || {
	echo "$got" >"$WORK/got"
	echo "$want" >"$WORK/want"
	diff "$WORK/want" "$WORK/got" >&2 || true
	fail "make install did not install exactly the expected files"
}
for f in sbin/asyncflowd bin/asyncflowctl; do
	[ -x "$P/$f" ] || fail "$f is not executable"
done
expect "libasyncflow.so.$major" "$(readlink "$P/lib/libasyncflow.so.$major")" \
    "libasyncflow.so.$version"
expect "libasyncflow.so" "$(readlink "$P/lib/libasyncflow.so")" \
    "libasyncflow.so.$major"
readelf -d "$P/lib/libasyncflow.so.$version" |
    grep -q "SONAME.*\[libasyncflow.so.$major\]" ||
	fail "libasyncflow.so.$version has no soname libasyncflow.so.$major"
# systemd units and the completion: no @DIR@ left, the daemon's path in.
for f in "$P"/lib/systemd/system/* \
    "$P"/share/bash-completion/completions/*; do
	[ -e "$f" ] || continue
	! grep -q '@[A-Z]*DIR@\|@PREFIX@' "$f" ||
		fail "$f still has an @...@ placeholder"
done

# The headers include only each other and the system's: every #include
# "..." names an installed file; no build path anywhere.
for h in "$P"/include/asyncflow.h "$P"/include/asyncflow/*.h; do
	! grep -q 'build/\|gen/' "$h" || fail "$h names a build path"
	for inc in $(sed -n 's/^# *include "\(.*\)"/\1/p' "$h"); do
		[ -e "$(dirname "$h")/$inc" ] || [ -e "$P/include/$inc" ] ||
			fail "$h includes \"$inc\", which is not installed"
	done
done

# ---- build against the installed tree only -------------------------------
export PKG_CONFIG_PATH="$P/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$DEST"
pc_flags=$(pkg-config --cflags --libs asyncflow) ||
	fail "pkg-config does not find asyncflow"
expect "pkg-config --modversion" "$(pkg-config --modversion asyncflow)" \
    "$version"
case " $pc_flags " in
*" -I$P/include "*" -L$P/lib "*"-lasyncflow "*) ;;
*) fail "pkg-config --cflags --libs asyncflow: $pc_flags" ;;
esac
# A library built with sanitizers (make asan) needs them in its users.
san=""
readelf -d "$P/lib/libasyncflow.so.$version" | grep -q 'NEEDED.*libasan' &&
	san="-fsanitize=address,undefined"

cat >"$WORK/client.c" <<'EOF'
/* A client of the installed libasyncflow:
 *   client SOCKET start      mkvow, start greet {"name": {"@vow": V}};
 *                            prints "V RESOLVER-HEX ACTIVATION OUTCOME"
 *   client SOCKET wait VOW   waits for VOW, prints its string value */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <asyncflow.h>

static void
die(const char *what, af_conn *c, int rc)
{
	fprintf(stderr, "client: %s: %s: %s\n", what, af_errname(rc),
	    c != NULL ? af_conn_errmsg(c) : "");
	exit(1);
}

int
main(int argc, char **argv)
{
	Asyncflow__Value ref = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Value args = ASYNCFLOW__VALUE__INIT;
	Asyncflow__Record rec = ASYNCFLOW__RECORD__INIT;
	Asyncflow__Field field = ASYNCFLOW__FIELD__INIT;
	Asyncflow__Field *fields[1] = { &field };
	Asyncflow__VowInfo *vi;
	uint8_t res[AF_RESOLVER_LEN];
	uint64_t vow, act, outcome;
	const char *str;
	size_t len;
	char err[256];
	af_conn *c;
	int rc, i;

	if (argc < 3)
		return 2;
	if ((rc = af_connect(argv[1], &c, err, sizeof(err))) != AF_OK) {
		fprintf(stderr, "client: connect: %s\n", err);
		return 1;
	}
	if (strncmp(af_conn_daemon(c), "asyncflowd ", 11) != 0)
		die("hello names no asyncflowd", c, AF_EPROTO);
	if (strcmp(argv[2], "start") == 0) {
		if ((rc = af_mkvow(c, &vow, res)) != AF_OK)
			die("mkvow", c, rc);
		ref.kind_case = ASYNCFLOW__VALUE__KIND_VOW_ID;
		ref.vow_id = vow;
		field.key = "name";
		field.value = &ref;
		rec.n_fields = 1;
		rec.fields = fields;
		args.kind_case = ASYNCFLOW__VALUE__KIND_RECORD_VALUE;
		args.record_value = &rec;
		rc = af_start(c, "greet", &args, NULL, &act, &outcome, NULL);
		if (rc != AF_OK)
			die("start", c, rc);
		printf("%llu ", (unsigned long long)vow);
		for (i = 0; i < AF_RESOLVER_LEN; i++)
			printf("%02x", res[i]);
		printf(" %llu %llu\n", (unsigned long long)act,
		    (unsigned long long)outcome);
	} else if (strcmp(argv[2], "wait") == 0 && argc == 4) {
		vow = strtoull(argv[3], NULL, 10);
		if ((rc = af_get_vow(c, vow, true, 20000, &vi)) != AF_OK)
			die("get_vow", c, rc);
		if (vi->value == NULL || vi->value->kind_case !=
		    ASYNCFLOW__VALUE__KIND_STRING_VALUE)
			die("the outcome is not a string", c, AF_EPROTO);
		str = af_value_string(vi->value, &len);
		printf("%.*s\n", (int)len, str);
		af_msg_free(vi);
	} else {
		return 2;
	}
	af_close(c);
	return 0;
}
EOF
cat >"$WORK/greet.c" <<'EOF'
/* A flow module built against the installed <asyncflow/flow.h>: greet
 * awaits args.name (a vow) and returns "hello, NAME". */
#include <stdio.h>

#include <asyncflow/flow.h>

static int
flow_greet(struct af_flow *f, const struct af_value *args,
    const struct af_value **result)
{
	const struct af_value *name;
	char buf[256];

	if (af_await(f, af_get(args, "name"), &name) != AF_OK ||
	    name->type != AF_STRING) {
		*result = af_error(af_flow_arena(f), "TypeError",
		    "greet takes {\"name\": a vow of a string}");
		return AF_REJECTED;
	}
	snprintf(buf, sizeof(buf), "hello, %s", name->u.s.ptr);
	*result = af_string(af_flow_arena(f), buf);
	return AF_OK;
}

int af_module_init(struct af_registry *r, unsigned abi);

int
af_module_init(struct af_registry *r, unsigned abi)
{
	if (abi != AF_MODULE_ABI)
		return AF_EINVAL;
	return af_register_flow(r, "greet", flow_greet);
}
EOF
strict="-std=c11 -Wall -Wextra -Werror"
# shellcheck disable=SC2086
$CC $strict $san -o "$WORK/client" "$WORK/client.c" $pc_flags \
    >"$WORK/cc.log" 2>&1 ||
	{ cat "$WORK/cc.log" >&2; fail "the client does not build with pkg-config's flags"; }
readelf -d "$WORK/client" | grep -q "NEEDED.*\[libasyncflow.so.$major\]" ||
	fail "the client is not linked with libasyncflow.so.$major"
# shellcheck disable=SC2086
$CC $strict $san -o "$WORK/client-static" "$WORK/client.c" \
    $(pkg-config --cflags asyncflow) "$P/lib/libasyncflow.a" \
    $(pkg-config --libs libprotobuf-c) >"$WORK/cc.log" 2>&1 ||
	{ cat "$WORK/cc.log" >&2; fail "the client does not link libasyncflow.a"; }
# shellcheck disable=SC2086
$CC $strict -shared -fPIC -o "$WORK/greet.so" "$WORK/greet.c" \
    $(pkg-config --cflags asyncflow) >"$WORK/cc.log" 2>&1 ||
	{ cat "$WORK/cc.log" >&2; fail "the module does not build against flow.h"; }

# ---- run the installed daemon and programs -------------------------------
CTL="$P/bin/asyncflowctl -s $SOCK"
"$P/sbin/asyncflowd" -d "$DIR" --module "$WORK/greet.so" \
    >>"$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!
answers() {
	kill -0 "$DAEMON_PID" 2>/dev/null || fail "the installed daemon exited"
	$CTL stats >/dev/null 2>&1
}
wait_until "the installed daemon" answers
client() {
	LD_LIBRARY_PATH="$P/lib" "$WORK/client" "$SOCK" "$@" ||
		fail "client $*"
}
set -- $(client start)
[ $# -eq 4 ] || fail "client start printed '$*'"
V=$1 R=$2 ACT=$3 OUT=$4
expect "the greet activation before the settle" "$(state_of "$ACT")" Running
expect "settle with the installed asyncflowctl" \
    "$(ctl settle "$V" --resolver "$R" '"world"' | jq -r .state)" fulfilled
expect "the outcome, by the shared-library client" "$(client wait "$OUT")" \
    "hello, world"
expect "the outcome, by the static client" \
    "$("$WORK/client-static" "$SOCK" wait "$OUT")" "hello, world"
expect "the outcome, by the installed asyncflowctl" \
    "$(ctl vow "$OUT" | jq -r .value)" "hello, world"
expect "the activation after" "$(state_of "$ACT")" Done
stop_daemon

# ---- make uninstall removes every file -----------------------------------
make_in "$DEST" /usr/local uninstall
left=$(files_under "$DEST")
[ -z "$left" ] || fail "make uninstall left: $left"

# ---- another PREFIX: the same files under it, and asyncflow.pc says so ---
DEST2=$WORK/dest2
make_in "$DEST2" /opt/asyncflow install
expect "files under PREFIX=/opt/asyncflow" "$(files_under "$DEST2")" \
    "$(echo "$want" | sed 's|^\./usr/local/|./opt/asyncflow/|' | sort)"
grep -qx 'prefix=/opt/asyncflow' \
    "$DEST2/opt/asyncflow/lib/pkgconfig/asyncflow.pc" ||
	fail "asyncflow.pc does not say prefix=/opt/asyncflow"
# A unit that starts the daemon starts the one installed under PREFIX.
unit=$DEST2/opt/asyncflow/lib/systemd/system/asyncflowd.service
if [ -e "$unit" ] && grep -q '^ExecStart=' "$unit"; then
	grep -q '^ExecStart=/opt/asyncflow/sbin/asyncflowd' "$unit" ||
		fail "asyncflowd.service: $(grep '^ExecStart=' "$unit")"
fi
make_in "$DEST2" /opt/asyncflow uninstall
left=$(files_under "$DEST2")
[ -z "$left" ] || fail "make uninstall (PREFIX=/opt/asyncflow) left: $left"
echo "install: ok (libasyncflow.so.$version, $(echo "$want" | wc -l) files)"
