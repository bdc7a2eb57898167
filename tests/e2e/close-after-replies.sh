# A connection closed for a bad frame still gets the replies of the
# requests it sent before that frame: the daemon closes it once they are
# written, not as soon as its error reply is. One write of a hello, N
# mkvows and a frame that is no Request: N + 2 replies (the hello's, the
# mkvows', the error), then the close. With 100 mkvows, more than one turn
# takes (FAIR_FRAMES_PER_TURN): the rest are read in a later turn, and
# their replies too come before the close.
set -eu
. tests/e2e/lib.inc
RF=$B/tests/rawframe
[ -x "$RF" ] || skip "no rawframe"
start_daemon
expect "1 mkvow" "$("$RF" "$SOCK" closeafter 1)" "replies=3 vows=1 closed=1"
expect "vow 1" "$(ctl vow 1 | jq -r .state)" pending
expect "100 mkvows" "$("$RF" "$SOCK" closeafter 100)" \
    "replies=102 vows=100 closed=1"
expect "vow 101" "$(ctl vow 101 | jq -r .state)" pending
stop_daemon
echo "close-after-replies: ok"
