# A connection closed for a bad frame still gets the replies of the
# requests it sent before that frame, and the error it is closed with comes
# last (a client takes it for the daemon's last word): one write of a
# hello, N mkvows and a frame that is no Request gets N + 1 replies, then
# the error (request id 0), then the close. With 100 mkvows, more than one
# turn takes (FAIR_FRAMES_PER_TURN): the rest are read in a later turn, and
# their replies too come before the error. An upgrade --check in the same
# write is answered once its checker is done, before the error.
set -eu
. tests/e2e/lib.inc
RF=$B/tests/rawframe
[ -x "$RF" ] || skip "no rawframe"
start_daemon
expect "1 mkvow" "$("$RF" "$SOCK" closeafter 1)" \
    "replies=3 vows=1 upgrade=0 last=0 closed=1"
expect "vow 1" "$(ctl vow 1 | jq -r .state)" pending
expect "100 mkvows" "$("$RF" "$SOCK" closeafter 100)" \
    "replies=102 vows=100 upgrade=0 last=0 closed=1"
expect "vow 101" "$(ctl vow 101 | jq -r .state)" pending
mod=$B/modules/example.so
case $mod in /*) ;; *) mod=$PWD/$mod ;; esac
expect "an upgrade check" "$("$RF" "$SOCK" closeafter 1 "$mod")" \
    "replies=4 vows=1 upgrade=1 last=0 closed=1"
expect "vow 102" "$(ctl vow 102 | jq -r .state)" pending
stop_daemon
echo "close-after-replies: ok"
