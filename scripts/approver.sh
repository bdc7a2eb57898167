#!/bin/sh
# approver.sh: serves `approver` for the `approval` demo flow:
#
#   asyncflowctl serve approver -- scripts/approver.sh
#
# The flow sends approver.request({"resolver": R, "about": ARGS}); the
# invocation carries the secret of R (a capability the flow handed over), so
# this script settles the flow's vow directly with it — here it approves
# whenever "about" has no "deny" key — and then answers the send itself with
# null. Needs asyncflowctl on PATH (or $ASYNCFLOWCTL) and the daemon's
# socket in $ASYNCFLOW_SOCKET (or the default).
set -eu
ctl=${ASYNCFLOWCTL:-asyncflowctl}
in=$(cat)
r=$(printf '%s' "$in" | jq -r '.args.resolver["@resolver"]')
secret=$(printf '%s' "$in" | jq -r --arg r "$r" '.resolvers[$r]')
about=$(printf '%s' "$in" | jq -c '.args.about')
if [ "$(printf '%s' "$about" | jq 'type == "object" and has("deny")')" = true ]; then
	"$ctl" settle "$r" --resolver "$secret" --reject \
	    '{"@error": {"name": "Denied", "message": "not approved"}}' >/dev/null
else
	"$ctl" settle "$r" --resolver "$secret" \
	    "{\"approved\": true, \"about\": $about}" >/dev/null
fi
echo null
