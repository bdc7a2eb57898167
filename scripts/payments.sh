#!/bin/sh
# payments.sh: serves `payments` for the `shop` demo flow (an order):
#
#   asyncflowctl serve payments -- scripts/payments.sh
#
# charge({"order": A, "items": [...]}) answers {"charge": "ch-VOW",
# "amount": N} (10 per item); refund({"order": A, "charge": C}) answers
# {"refunded": "ch-..."}. Each answer is appended, one line "METHOD ORDER",
# to $PAYMENTS_LOG (default ./payments.log), so a demo or test can show
# what was charged and refunded. Delivery is at least once: the result
# vow id is the charge's id, so a redelivered charge names the same one.
# Not a payment system: nothing is stored but the log.
set -eu
log=${PAYMENTS_LOG:-./payments.log}
in=$(cat)
method=$(printf '%s' "$in" | jq -r .method)
order=$(printf '%s' "$in" | jq -r .args.order)
vow=$(printf '%s' "$in" | jq -r .vow)
case $method in
charge)
	n=$(printf '%s' "$in" | jq '.args.items | length')
	echo "charge $order" >>"$log"
	echo "{\"charge\": \"ch-$vow\", \"amount\": $((n * 10))}"
	;;
refund)
	c=$(printf '%s' "$in" | jq -c .args.charge.charge)
	echo "refund $order" >>"$log"
	echo "{\"refunded\": $c}"
	;;
*)
	echo "payments has no method $method" >&2
	exit 1
	;;
esac
