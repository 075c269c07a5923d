#!/usr/bin/env bash
# Installs what `make test` needs on a fresh Debian machine. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pkg in containerd runc iproute2; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if [ "${#need_apt[@]}" -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "test-prereqs: need root to apt-get install ${need_apt[*]}" >&2
		exit 1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

go mod download

# containerd 2.x for the config version 3 tests of pkg/containerd: the daemon
# and its runc shim (a 2.x daemon cannot drive Debian's 1.6 shim), built at
# the version go.mod requires. `go install pkg@version` builds with
# containerd's own go.mod: our go.sum does not carry the daemon's
# dependencies and must not grow for a test tool. Tests find it at
# .cache/bin/containerd2 (or $EKSD_KATA_CONTAINERD2) and the shim beside
# its target.
ctrd_ver=$(go list -m -f '{{.Version}}' github.com/containerd/containerd/v2)
ctrd_dir=.cache/containerd2/bin
stamp=$ctrd_dir/.version
if [ ! -x "$ctrd_dir/containerd" ] || [ ! -x "$ctrd_dir/containerd-shim-runc-v2" ] ||
	[ "$(cat "$stamp" 2>/dev/null)" != "$ctrd_ver" ] || [ go.sum -nt "$ctrd_dir/containerd" ]; then
	mkdir -p "$ctrd_dir"
	gobin=$(mktemp -d)
	trap 'rm -rf "$gobin"' EXIT
	GOBIN=$gobin GOFLAGS=-buildvcs=false go install -tags "no_btrfs no_devmapper no_zfs" \
		"github.com/containerd/containerd/v2/cmd/containerd@$ctrd_ver" \
		"github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$ctrd_ver"
	mv -f "$gobin/containerd" "$gobin/containerd-shim-runc-v2" "$ctrd_dir/"
	echo "$ctrd_ver" >"$stamp"
fi
mkdir -p .cache/bin
ln -sfn ../containerd2/bin/containerd .cache/bin/containerd2

# kubeadm for the kubeadm init --dry-run test of pkg/kubeadm (see the script).
./scripts/build-kubeadm.sh

# kube-apiserver and etcd for the real API server tests of pkg/kube (see the script).
./scripts/build-apiserver.sh
