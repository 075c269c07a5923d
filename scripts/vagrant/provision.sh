#!/usr/bin/env bash
# Runs inside the test VM as root: what the node needs before eksd-kata
# (a container runtime and kubeadm's tools), then the binary itself.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq containerd runc iptables conntrack socat ethtool ebtables curl >/dev/null
install -m 0755 /eksd-kata/eksd-kata /usr/local/bin/eksd-kata
eksd-kata version
