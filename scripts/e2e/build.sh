#!/usr/bin/env bash
# Builds the EKS-D 1-36-7 node binaries for the e2e bundle from the Go module
# proxy, each in a throwaway module under .cache/e2e/build (never the main
# module: its cri-api pin breaks k8s.io/cri-client):
#   kube-V/  k8s.io/kubernetes v1.36.3 with a replace for every staging module
#            (generated from kubernetes' own go.mod), stamped v1.36.2-eks-1-36-7:
#            kubeadm kubelet kubectl kube-apiserver kube-controller-manager
#            kube-scheduler kube-proxy
#   etcd-V/  go.etcd.io/etcd/server/v3 (the etcd binary)
#   coredns-V/ github.com/coredns/coredns
#   containerd-V/ github.com/containerd/containerd/v2: containerd,
#            containerd-shim-runc-v2 and ctr (the bundle's containerd-static
#            tarball)
#   runc-V/  github.com/opencontainers/runc: runc, static with seccomp (cgo,
#            libseccomp-dev; installed here with apt when missing)
#   cni-plugins-V/ github.com/containernetworking/plugins: the CNI plugins
#            of the bundle's cni-plugins tarball, into OUTDIR/cni
#   pause    scripts/e2e/pause of the main module (a few lines of Go)
# into OUTDIR (.cache/e2e/bin). Idempotent: a stamp file per group of
# binaries in OUTDIR names what it was built from; a group is rebuilt only
# when that changes. Each module directory is named by its version, so
# bundles of two releases (make e2e-upgrade) share the Go caches and do not
# rebuild each other's binaries.
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
# What the bundle's release manifest lists beside EKS-D's own components
# (containerd and runc are not EKS-D's; cni-plugins is): Kubernetes 1.36
# wants containerd 2.2+.
CONTAINERD_VERSION=${CONTAINERD_VERSION:-v2.4.2}
RUNC_VERSION=${RUNC_VERSION:-v1.5.3}
CNI_PLUGINS_VERSION=${CNI_PLUGINS_VERSION:-v1.10.0}

out=$(realpath -m "${1:-$repo/.cache/e2e/bin}")
build=$repo/.cache/e2e/build
mkdir -p "$out" "$build"
export CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false"
NICE=(nice -n 10)

log() { printf 'e2e build: %s\n' "$*" >&2; }

# fresh STAMPFILE STAMP BIN...: true when every BIN exists in $out and
# STAMPFILE says STAMP.
fresh() {
	local stamp=$1 want=$2 b
	shift 2
	[ "$(cat "$stamp" 2>/dev/null)" = "$want" ] || return 1
	for b in "$@"; do [ -x "$out/$b" ] || return 1; done
}

# module DIR NAME REQUIRE...: writes DIR/go.mod (module NAME, the
# requires); go build resolves the rest.
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

# tools DIR PKG...: DIR/tools.go importing each PKG, so that go.mod keeps
# what they need.
tools() {
	local dir=$1
	shift
	{
		printf '//go:build tools\n\npackage tools\n\nimport (\n'
		printf '\t_ "%s"\n' "$@"
		printf ')\n'
	} >"$dir/tools.go"
}

kube_bins=(kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy)
kube_stamp="kubernetes=$KUBE_MODULE_VERSION gitVersion=$KUBE_GIT_VERSION"
kmod=$build/kube-$KUBE_MODULE_VERSION
if ! fresh "$out/.stamp-kube" "$kube_stamp" "${kube_bins[@]}"; then
	log "kubernetes $KUBE_MODULE_VERSION as $KUBE_GIT_VERSION: ${kube_bins[*]} (several minutes cold)"
	module "$kmod" e2e.eksd-kata.test/kube "k8s.io/kubernetes $KUBE_MODULE_VERSION"
	./scripts/kube-staging-replaces.sh "$KUBE_MODULE_VERSION" >>"$kmod/go.mod"
	pkgs=()
	for b in "${kube_bins[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
	tools "$kmod" "${pkgs[@]}"
	minor=${KUBE_GIT_VERSION#v1.}
	minor=${minor%%.*}
	ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_GIT_VERSION
		-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor
		-X k8s.io/component-base/version.gitTreeState=clean
		-X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"
	(cd "$kmod" && "${NICE[@]}" go build -trimpath -ldflags "$ldflags" -o "$out/" "${pkgs[@]}")
	echo "$kube_stamp" >"$out/.stamp-kube"
fi

# one_binary NAME MODULE VERSION PKG: PKG of MODULE@VERSION built as
# $out/NAME in a throwaway module of its own, unless its stamp is current.
one_binary() {
	local name=$1 mod=$2 version=$3 pkg=$4
	local stamp="$name=$version" dir=$build/$name-$version
	fresh "$out/.stamp-$name" "$stamp" "$name" && return
	log "$name $version"
	module "$dir" "e2e.eksd-kata.test/$name" "$mod $version"
	tools "$dir" "$pkg"
	(cd "$dir" && "${NICE[@]}" go build -trimpath -ldflags "-s -w" -o "$out/$name" "$pkg")
	echo "$stamp" >"$out/.stamp-$name"
}
one_binary etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" go.etcd.io/etcd/server/v3
one_binary coredns github.com/coredns/coredns "$COREDNS_VERSION" github.com/coredns/coredns

ctr_bins=(containerd containerd-shim-runc-v2 ctr)
ctr_stamp="containerd=$CONTAINERD_VERSION"
cmod=$build/containerd-$CONTAINERD_VERSION
if ! fresh "$out/.stamp-containerd" "$ctr_stamp" "${ctr_bins[@]}"; then
	log "containerd $CONTAINERD_VERSION: ${ctr_bins[*]}"
	module "$cmod" e2e.eksd-kata.test/containerd "github.com/containerd/containerd/v2 $CONTAINERD_VERSION"
	pkgs=()
	for b in "${ctr_bins[@]}"; do pkgs+=("github.com/containerd/containerd/v2/cmd/$b"); done
	tools "$cmod" "${pkgs[@]}"
	(cd "$cmod" && "${NICE[@]}" go build -trimpath -tags "no_btrfs no_devmapper no_zfs" \
		-ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
		-o "$out/" "${pkgs[@]}")
	echo "$ctr_stamp" >"$out/.stamp-containerd"
fi

# runc needs cgo and libseccomp: a static binary with seccomp, as runc's
# own release builds it (runc.amd64), so it runs on any host.
runc_stamp="runc=$RUNC_VERSION static seccomp"
rmod=$build/runc-$RUNC_VERSION
if ! fresh "$out/.stamp-runc" "$runc_stamp" runc; then
	log "runc $RUNC_VERSION (static, seccomp)"
	if ! [ -f /usr/lib/x86_64-linux-gnu/libseccomp.a ] || ! command -v pkg-config >/dev/null || ! command -v gcc >/dev/null; then
		[ "$(id -u)" = 0 ] || { log "runc needs gcc, pkg-config and libseccomp-dev: install them"; exit 1; }
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev pkg-config libseccomp-dev >/dev/null
	fi
	module "$rmod" e2e.eksd-kata.test/runc "github.com/opencontainers/runc $RUNC_VERSION"
	tools "$rmod" github.com/opencontainers/runc
	(cd "$rmod" && CGO_ENABLED=1 "${NICE[@]}" go build -trimpath -tags "seccomp urfave_cli_no_docs netgo osusergo" \
		-ldflags "-s -w -X main.version=${RUNC_VERSION#v} -extldflags -static" -o "$out/runc" github.com/opencontainers/runc)
	# It runs, and its seccomp is in (runc features lists the actions).
	v=$("$out/runc" --version 2>&1 || true)
	[ "${v%%$'\n'*}" = "runc version ${RUNC_VERSION#v}" ] || { log "runc --version: $v"; exit 1; }
	[[ $("$out/runc" features 2>&1 || true) == *'"seccomp"'* ]] || { log "runc features: no seccomp"; exit 1; }
	echo "$runc_stamp" >"$out/.stamp-runc"
fi

# The CNI plugins a node's pod network uses (bridge, host-local, loopback,
# portmap: eksd-kata's own bridge network) and those CNI manifests commonly
# chain; the published tarball has a few more.
cni_bins=(bandwidth bridge firewall host-device host-local loopback portmap ptp static tuning)
cni_stamp="cni-plugins=$CNI_PLUGINS_VERSION ${cni_bins[*]}"
nmod=$build/cni-plugins-$CNI_PLUGINS_VERSION
if ! fresh "$out/.stamp-cni-plugins" "$cni_stamp" "${cni_bins[@]/#/cni/}"; then
	log "cni-plugins $CNI_PLUGINS_VERSION: ${cni_bins[*]}"
	module "$nmod" e2e.eksd-kata.test/cni-plugins "github.com/containernetworking/plugins $CNI_PLUGINS_VERSION"
	pkgs=()
	for b in "${cni_bins[@]}"; do
		case $b in
		host-local | static) pkgs+=("github.com/containernetworking/plugins/plugins/ipam/$b") ;;
		bandwidth | firewall | portmap | tuning) pkgs+=("github.com/containernetworking/plugins/plugins/meta/$b") ;;
		*) pkgs+=("github.com/containernetworking/plugins/plugins/main/$b") ;;
		esac
	done
	tools "$nmod" "${pkgs[@]}"
	rm -rf "$out/cni"
	mkdir -p "$out/cni"
	(cd "$nmod" && "${NICE[@]}" go build -trimpath \
		-ldflags "-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$CNI_PLUGINS_VERSION" \
		-o "$out/cni/" "${pkgs[@]}")
	echo "$cni_stamp" >"$out/.stamp-cni-plugins"
fi

pause_stamp="pause=$(sha256sum scripts/e2e/pause/main.go | cut -c1-16)"
if ! fresh "$out/.stamp-pause" "$pause_stamp" pause; then
	log "pause"
	"${NICE[@]}" go build -trimpath -ldflags "-s -w" -o "$out/pause" ./scripts/e2e/pause
	echo "$pause_stamp" >"$out/.stamp-pause"
fi
