#!/usr/bin/env bash
# Builds the EKS-D 1-36-7 node binaries for the e2e bundle from the Go module
# proxy, each in a throwaway module under .cache/e2e/build (never the main
# module: its cri-api pin breaks k8s.io/cri-client):
#   kube/    k8s.io/kubernetes v1.36.3 with a replace for every staging module
#            (generated from kubernetes' own go.mod), stamped v1.36.2-eks-1-36-7:
#            kubeadm kubelet kubectl kube-apiserver kube-controller-manager
#            kube-scheduler kube-proxy
#   etcd/    go.etcd.io/etcd/server/v3 (the etcd binary)
#   coredns/ github.com/coredns/coredns
#   containerd/ github.com/containerd/containerd/v2: containerd and
#            containerd-shim-runc-v2 for the node
#   pause    scripts/e2e/pause of the main module (a few lines of Go)
# into .cache/e2e/bin. Idempotent: a stamp file per group of binaries names
# what it was built from; a group is rebuilt only when that changes.
# Usage: scripts/e2e/build.sh [OUTDIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD

# What the bundle stands in for (EKS-D kubernetes-1-36-eks-7) and the
# module versions that build it. etcd and CoreDNS are the EKS-D versions.
KUBE_MODULE_VERSION=${KUBE_MODULE_VERSION:-v1.36.3}
KUBE_GIT_VERSION=${KUBE_GIT_VERSION:-v1.36.2-eks-1-36-7}
ETCD_VERSION=${ETCD_VERSION:-v3.6.12}
COREDNS_VERSION=${COREDNS_VERSION:-v1.14.3}
# Debian bookworm's containerd (1.6.20) is too old for Kubernetes 1.36
# (2.2+): the node gets this one instead.
CONTAINERD_VERSION=${CONTAINERD_VERSION:-v2.4.2}

out=${1:-$repo/.cache/e2e/bin}
build=$repo/.cache/e2e/build
mkdir -p "$out" "$build"
export CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false"
NICE=(nice -n 10)

log() { printf 'e2e build: %s\n' "$*" >&2; }

# fresh NAME STAMP BIN...: true when every BIN exists and the stamp matches.
fresh() {
	local stamp=$1 want=$2 b
	shift 2
	[ "$(cat "$stamp" 2>/dev/null)" = "$want" ] || return 1
	for b in "$@"; do [ -x "$out/$b" ] || return 1; done
}

# module DIR NAME REQUIRE...: writes DIR/go.mod (module NAME, the requires)
# and DIR/tools.go importing nothing; go build resolves the rest.
module() {
	local dir=$1 name=$2
	shift 2
	mkdir -p "$dir"
	{
		printf 'module %s\n\ngo 1.26\n\n' "$name"
		local r
		for r in "$@"; do printf 'require %s\n' "$r"; done
	} >"$dir/go.mod"
}

kube_bins=(kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy)
kube_stamp="kubernetes=$KUBE_MODULE_VERSION gitVersion=$KUBE_GIT_VERSION"
if ! fresh "$build/kube/.stamp" "$kube_stamp" "${kube_bins[@]}"; then
	log "kubernetes $KUBE_MODULE_VERSION as $KUBE_GIT_VERSION: ${kube_bins[*]} (several minutes cold)"
	module "$build/kube" e2e.eksd-kata.test/kube "k8s.io/kubernetes $KUBE_MODULE_VERSION"
	./scripts/kube-staging-replaces.sh "$KUBE_MODULE_VERSION" >>"$build/kube/go.mod"
	{
		printf '//go:build tools\n\npackage tools\n\nimport (\n'
		printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "${kube_bins[@]}"
		printf ')\n'
	} >"$build/kube/tools.go"
	minor=${KUBE_GIT_VERSION#v1.}
	minor=${minor%%.*}
	ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_GIT_VERSION
		-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor
		-X k8s.io/component-base/version.gitTreeState=clean
		-X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"
	pkgs=()
	for b in "${kube_bins[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
	(cd "$build/kube" && "${NICE[@]}" go build -trimpath -ldflags "$ldflags" -o "$out/" "${pkgs[@]}")
	echo "$kube_stamp" >"$build/kube/.stamp"
fi

# one_binary NAME MODULE VERSION PKG: PKG of MODULE@VERSION built as
# $out/NAME in a throwaway module of its own, unless its stamp is current.
one_binary() {
	local name=$1 mod=$2 version=$3 pkg=$4
	local stamp="$name=$version"
	fresh "$build/$name/.stamp" "$stamp" "$name" && return
	log "$name $version"
	module "$build/$name" "e2e.eksd-kata.test/$name" "$mod $version"
	printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" >"$build/$name/tools.go"
	(cd "$build/$name" && "${NICE[@]}" go build -trimpath -ldflags "-s -w" -o "$out/$name" "$pkg")
	echo "$stamp" >"$build/$name/.stamp"
}
one_binary etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" go.etcd.io/etcd/server/v3
one_binary coredns github.com/coredns/coredns "$COREDNS_VERSION" github.com/coredns/coredns

ctr_stamp="containerd=$CONTAINERD_VERSION"
if ! fresh "$build/containerd/.stamp" "$ctr_stamp" containerd containerd-shim-runc-v2; then
	log "containerd $CONTAINERD_VERSION"
	module "$build/containerd" e2e.eksd-kata.test/containerd "github.com/containerd/containerd/v2 $CONTAINERD_VERSION"
	printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "github.com/containerd/containerd/v2/cmd/containerd"\n\t_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"\n)\n' >"$build/containerd/tools.go"
	(cd "$build/containerd" && "${NICE[@]}" go build -trimpath -tags "no_btrfs no_devmapper no_zfs" \
		-ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
		-o "$out/" github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2)
	echo "$ctr_stamp" >"$build/containerd/.stamp"
fi

pause_stamp="pause=$(sha256sum scripts/e2e/pause/main.go | cut -c1-16)"
if ! fresh "$build/.pause-stamp" "$pause_stamp" pause; then
	log "pause"
	"${NICE[@]}" go build -trimpath -ldflags "-s -w" -o "$out/pause" ./scripts/e2e/pause
	echo "$pause_stamp" >"$build/.pause-stamp"
fi
