#!/usr/bin/env bash
# Stands in for a CNI between the e2e nodes, whose bridges are node-local:
# reads "ADDRESS POD_CIDR" lines (one per node, as `kubectl get nodes`
# gives them) and routes each node's pod CIDR through its address in every
# other node's network namespace, then makes each node answer ARP on its
# bridge (cni0) for the pods it routes: eksd-kata's single-node bridge gives
# its pods the whole cluster pod CIDR as their link, so they ask for the
# other node's pods by ARP.
# Usage: kubectl get nodes -o jsonpath=... | scripts/e2e/pod-routes.sh NETNS...
set -euo pipefail
while read -r addr cidr; do
	[ -n "$cidr" ] || continue
	for ns in "$@"; do
		own=$(ip -n "$ns" -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)
		[ "$own" = "$addr" ] || ip -n "$ns" route replace "$cidr" via "$addr"
	done
done
for ns in "$@"; do
	nsenter --net="/run/netns/$ns" sysctl -qw net.ipv4.conf.cni0.proxy_arp=1
	printf '%s: %s\n' "$ns" "$(ip -n "$ns" route show | grep -v '^default' | grep ' via ' | tr -s ' \n' ' ')"
done
