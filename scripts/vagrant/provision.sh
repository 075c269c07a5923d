#!/usr/bin/env bash
# Runs inside the test VM as root, on the stock box: only the small tools
# kubeadm and the pod network call come from the distribution; eksd-kata
# installs containerd, runc, the CNI plugins, Kata and the EKS-D binaries.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq iptables conntrack socat ethtool ebtables curl >/dev/null
install -m 0755 /eksd-kata/eksd-kata /usr/local/bin/eksd-kata
eksd-kata version
