#!/usr/bin/env bash
# Builds kubeadm at the k8s.io/kubernetes version go.mod requires into
# .cache/bin/kubeadm, for the kubeadm init --dry-run test of pkg/kubeadm.
# It is built in a throwaway module: kubeadm needs k8s.io/cri-client at its
# own version, which does not build against the cri-api containerd 2.4
# pulls into our go.mod. Idempotent: skipped when the binary is up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

kube_ver=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
minor=${kube_ver#v1.}
minor=${minor%%.*}
dir=.cache/kubeadm-build
bin=.cache/bin/kubeadm
stamp=$dir/.version
if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$kube_ver" ]; then
	exit 0
fi
mkdir -p "$dir" .cache/bin
{
	echo "module eksdkata.test/kubeadm"
	echo
	echo "go 1.26"
	echo
	echo "require k8s.io/kubernetes $kube_ver"
	echo
	./scripts/kube-staging-replaces.sh "$kube_ver"
} >"$dir/go.mod"
printf '//go:build tools\n\npackage tools\n\nimport _ "k8s.io/kubernetes/cmd/kubeadm"\n' >"$dir/tools.go"
(
	cd "$dir"
	GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 go build -trimpath \
		-ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$kube_ver -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor" \
		-o ../bin/kubeadm.tmp k8s.io/kubernetes/cmd/kubeadm
)
mv -f .cache/bin/kubeadm.tmp "$bin"
echo "$kube_ver" >"$stamp"
