# The data directory is trusted only when nobody else controls it: a
# directory or a file in it that is group- or world-writable or owned by
# another uid, or a path through a symlink another uid planted, makes the
# daemon refuse to start (root included) with a message naming the path
# and the reason. Each refusal is followed by a start that is accepted.
set -eu
. tests/e2e/lib.inc
[ "$(id -u)" -eq 0 ] || skip "needs root to make files of another uid"
command -v setpriv >/dev/null || skip "no setpriv"

# refuses WHAT PATTERN ARGS...: asyncflowd ARGS exits non-zero (a positive
# event, waited for) and its log says PATTERN; if it serves instead, fail.
refuses() {
	what=$1
	pattern=$2
	shift 2
	: >"$WORK/refused.log"
	"$B/asyncflowd" "$@" -s "$SOCK" >"$WORK/refused.log" 2>&1 &
	pid=$!
	echo "$pid" >"$WORK/refused.pid"
	i=0
	while kill -0 "$pid" 2>/dev/null; do
		if $CTL stats >/dev/null 2>&1; then
			kill_pidfile "$WORK/refused.pid"
			wait "$pid" 2>/dev/null || true
			fail "$what: the daemon started"
		fi
		i=$((i + 1))
		[ $i -gt 400 ] && fail "$what: the daemon neither exited nor served"
		sleep 0.05
	done
	rm -f "$WORK/refused.pid"
	if wait "$pid"; then
		fail "$what: the daemon exited 0"
	fi
	grep -qF "$pattern" "$WORK/refused.log" ||
		fail "$what: no '$pattern' in: $(cat "$WORK/refused.log")"
}

SOCK=$WORK/d.sock
CTL="$B/asyncflowctl -s $SOCK"

# A group- or world-writable data directory.
mkdir -m 0700 "$DIR"
chmod 0770 "$DIR"
refuses "group-writable" \
    "data directory $DIR is writable by its group (mode 0770)" -d "$DIR"
chmod 0703 "$DIR"
refuses "world-writable" \
    "data directory $DIR is writable by others (mode 0703)" -d "$DIR"
chmod 0700 "$DIR"
start_daemon -s "$SOCK"
ctl start echo '{"n":1}' >/dev/null
stop_daemon

# A data directory of another uid, even for root.
chown 65534 "$DIR"
refuses "other owner" \
    "data directory $DIR is owned by uid 65534, not by this daemon's uid 0" \
    -d "$DIR"
chown 0 "$DIR"

# Its files: another uid's, writable by others, or a symlink.
chown 65534 "$DIR/data.mdb"
refuses "data.mdb of another uid" \
    "data directory $DIR: data.mdb is owned by uid 65534" -d "$DIR"
chown 0 "$DIR/data.mdb"
chmod 0666 "$DIR/lock.mdb"
refuses "lock.mdb writable by others" \
    "data directory $DIR: lock.mdb is writable by its group and others" \
    -d "$DIR"
chmod 0600 "$DIR/lock.mdb"
mv "$DIR/data.mdb" "$WORK/data.mdb"
ln -s "$WORK/data.mdb" "$DIR/data.mdb"
refuses "data.mdb symlink" \
    "data directory $DIR: data.mdb is a symlink: refusing to follow it" \
    -d "$DIR"
rm "$DIR/data.mdb"
mv "$WORK/data.mdb" "$DIR/data.mdb"

# A path through a symlink that another uid planted, to our own directory,
# in a directory where everyone may create names (as /tmp).
chmod 0711 "$WORK"
mkdir -m 1777 "$WORK/theirs"
chmod 1777 "$WORK/theirs"
setpriv --reuid=65534 --regid=65534 --clear-groups \
    ln -s "$DIR" "$WORK/theirs/data"
expect "symlink owner" "$(stat -c %u "$WORK/theirs/data")" 65534
refuses "symlink of another uid" \
    "data directory $WORK/theirs/data/: $WORK/theirs/data is a symlink owned by uid 65534" \
    -d "$WORK/theirs/data/"
# ... and through a symlink of our own to a directory of ours: accepted.
ln -s "$DIR" "$WORK/ours"
start_daemon -d "$WORK/ours" -s "$SOCK"
ctl start echo '{"n":2}' >/dev/null
expect "activations kept" "$(ctl ls | jq length)" 2
stop_daemon

# A directory on the way that someone else can write to, or that another
# uid owns, lets them rename the data directory away and put theirs in its
# place after the checks: refused. World-writable with the sticky bit (as
# /tmp) is fine, since only an entry's owner may rename it there.
mkdir -m 0777 "$WORK/open"
chmod 0777 "$WORK/open"
mkdir -m 0700 "$WORK/open/d"
refuses "parent writable by others" \
    "data directory $WORK/open/d: $WORK/open is writable by its group and others (mode 0777) without the sticky bit" \
    -d "$WORK/open/d"
chmod 1777 "$WORK/open"
start_daemon -d "$WORK/open/d" -s "$SOCK"
ctl start echo '{"n":3}' >/dev/null
stop_daemon
mkdir -m 0755 "$WORK/alien"
mkdir -m 0700 "$WORK/alien/d"
chown 65534 "$WORK/alien"
refuses "parent of another uid" \
    "data directory $WORK/alien/d: $WORK/alien is owned by uid 65534, neither this daemon's uid 0 nor root" \
    -d "$WORK/alien/d"
chown 0 "$WORK/alien"
start_daemon -d "$WORK/alien/d" -s "$SOCK"
stop_daemon

# The modules the data directory keeps are code it runs: modules/ and its
# files are checked like the others.
start_daemon -s "$SOCK" --module "$B/modules/example.so"
stop_daemon
chmod 0770 "$DIR/modules"
refuses "modules/ writable by its group" \
    "data directory $DIR: modules is writable by its group" -d "$DIR"
chmod 0700 "$DIR/modules"
so=$(ls "$DIR/modules" | grep '\.so$' | head -n 1)
chown 65534 "$DIR/modules/$so"
refuses "a module copy of another uid" \
    "data directory $DIR: modules/$so is owned by uid 65534" -d "$DIR"
chown 0 "$DIR/modules/$so"
chmod 0666 "$DIR/modules/set"
refuses "modules/set writable by others" \
    "data directory $DIR: modules/set is writable by its group and others" \
    -d "$DIR"
chmod 0600 "$DIR/modules/set"
start_daemon -s "$SOCK"
stop_daemon
echo "trust-dir: ok"
