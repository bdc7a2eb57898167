# The README's demo story, asserted: gather over three vows across SIGKILL.
set -eu
sh scripts/demo.sh "${B:-build}" >/dev/null
