#!/usr/bin/env bash
# Builds kube-apiserver at the k8s.io/kubernetes version go.mod requires, and
# the etcd that version pairs with, into .cache/bin: pkg/kube's tests run a
# real API server on loopback (pkg/kube/kubetest). Built in a throwaway module
# like kubeadm (scripts/build-kubeadm.sh): every staging module needs a
# replace, and our go.sum must not grow for a test tool. Idempotent: skipped
# when both binaries are up to date. A cold build takes ~10 CPU minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

kube_ver=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
dir=.cache/apiserver-build
stamp=$dir/.version
if [ -x .cache/bin/kube-apiserver ] && [ -x .cache/bin/etcd ] && [ "$(cat "$stamp" 2>/dev/null)" = "$kube_ver" ]; then
	exit 0
fi
mkdir -p "$dir" .cache/bin
{
	echo "module eksdkata.test/apiserver"
	echo
	echo "go 1.26"
	echo
	echo "require k8s.io/kubernetes $kube_ver"
	echo
	./scripts/kube-staging-replaces.sh "$kube_ver"
} >"$dir/go.mod"
# etcd comes at the version kubernetes' own go.mod requires.
printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "go.etcd.io/etcd/server/v3"\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver"\n)\n' >"$dir/tools.go"
(
	cd "$dir"
	export GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0
	go build -trimpath -ldflags "-s -w" -o ../bin/kube-apiserver.tmp k8s.io/kubernetes/cmd/kube-apiserver
	go build -trimpath -ldflags "-s -w" -o ../bin/etcd.tmp go.etcd.io/etcd/server/v3
)
mv -f .cache/bin/kube-apiserver.tmp .cache/bin/kube-apiserver
mv -f .cache/bin/etcd.tmp .cache/bin/etcd
echo "$kube_ver" >"$stamp"
