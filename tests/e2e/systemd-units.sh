# dist/asyncflowd.service and dist/asyncflowd.socket: `systemd-analyze
# verify` accepts them (with ExecStart pointed at the daemon just built, as
# `make install` points it at the installed one), the service is Type=notify
# with the hardening the README promises, and both units name the same
# socket. Skipped where systemd-analyze is not installed.
set -eu
. tests/e2e/lib.inc
command -v systemd-analyze >/dev/null 2>&1 || skip "no systemd-analyze"
U=$WORK/units
mkdir -p "$U"
cp dist/asyncflowd.socket "$U/"
sed "s|/usr/local/sbin/asyncflowd|$B/asyncflowd|" dist/asyncflowd.service \
    >"$U/asyncflowd.service"
grep -q "^ExecStart=$B/asyncflowd " "$U/asyncflowd.service" ||
	fail "ExecStart does not name /usr/local/sbin/asyncflowd"
systemd-analyze verify "$U/asyncflowd.service" "$U/asyncflowd.socket" \
    >"$WORK/verify.out" 2>&1 || fail "systemd-analyze verify: $(cat "$WORK/verify.out")"
[ ! -s "$WORK/verify.out" ] || fail "systemd-analyze warns: $(cat "$WORK/verify.out")"
for want in Type=notify ProtectSystem=strict NoNewPrivileges=yes \
    StateDirectory=asyncflowd RuntimeDirectory=asyncflowd PrivateTmp=yes \
    ProtectHome=yes RestrictAddressFamilies=AF_UNIX; do
	grep -qx "$want" "$U/asyncflowd.service" || fail "service lacks $want"
done
grep -q '^ExecStart=.* -d /var/lib/asyncflowd ' "$U/asyncflowd.service" ||
	fail "ExecStart does not use the StateDirectory"
sock=$(sed -n 's/^ListenStream=//p' "$U/asyncflowd.socket")
grep -q "^ExecStart=.* -s $sock\$" "$U/asyncflowd.service" ||
	fail "the service's -s is not the socket unit's $sock"
echo "systemd-units: ok"
