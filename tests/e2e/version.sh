# --version: both programs name the release, the protocol version and the
# journal format they speak, read from the headers the build used, and
# exit 0 without touching a data directory or a socket.
set -eu
. tests/e2e/lib.inc
hdr() {
	sed -n "s/^#define $1 \"*\([0-9.]*\)\"*\$/\1/p" "include/asyncflow/$2"
}
version=$(hdr AF_VERSION version.h)
proto=$(hdr AF_PROTOCOL_VERSION protocol.h)
format=$(hdr AF_JOURNAL_FORMAT version.h)
[ -n "$version" ] && [ -n "$proto" ] && [ -n "$format" ] ||
	fail "version numbers not found in the headers"
expect "asyncflowd --version" "$("$B/asyncflowd" -d "$DIR" --version)" \
    "asyncflowd $version (protocol $proto, journal format $format)"
expect "asyncflowctl --version" "$($CTL --version)" \
    "asyncflowctl $version (protocol $proto, journal format $format)"
[ ! -e "$DIR" ] || fail "--version created the data directory"
echo "version: ok ($version, protocol $proto, journal format $format)"
