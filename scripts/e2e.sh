#!/usr/bin/env bash
# make e2e: a real node. Builds an offline EKS-D 1-36-7 bundle from source
# (binaries; containerd, runc and the CNI plugins as their projects publish
# them; a release manifest with their sha256 and sha512; images in a
# plain-HTTP registry), boots a throwaway stock Debian bookworm node (no
# container runtime, no CNI plugins) with systemd as PID 1 in its own
# namespaces and eksd-kata's first-boot unit enabled, which runs `eksd-kata
# bootstrap` at boot: it installs containerd, runc and the CNI plugins from
# the bundle, then the rest; the script checks the result. Then a second
# node joins that cluster with `eksd-kata join`, as a worker and then as a
# control plane, and leaves again.
#
# Everything built or downloaded is cached under .cache/e2e. Each node lives
# in its own network namespace (a veth to a bridge in another namespace that
# holds only the gateway address and the bundle's registry: the nodes reach
# each other and nothing else), its own cgroup subtree, and dies with the
# script: the EXIT trap powers it off, kills what is left, unmounts and
# removes the namespaces, even on failure.
#
# Environment: E2E_PREINSTALLED=1 boots nodes whose image has Debian's
# containerd, runc and containernetworking-plugins (/opt/cni/bin a link to
# /usr/lib/cni), with the built containerd copied over Debian's 1.6 (too
# old for Kubernetes 1.36): the host an operator prepared, to compare with;
# E2E_BIN_DIR=DIR takes the node binaries (kubeadm, kubelet, kubectl,
# kube-*, etcd, coredns, pause; containerd, containerd-shim-runc-v2, ctr,
# runc, cni/*, which the bundle lists only when there) from DIR instead of
# building them;
# E2E_KEEP=1 skips reset and leaves the node running after the checks
# (the script prints how to enter it; `scripts/e2e.sh --cleanup` stops it); E2E_REGISTRY_PORT (5000);
# E2E_VERBOSE=1 runs the bootstraps with -v (each plan's and change's time);
# E2E_NO_IGZIP=1 stops the node's containerd using igzip (to measure it);
# E2E_CONTAINERD_DISABLED=1 (with E2E_PREINSTALLED=1) boots with the
# image's containerd not enabled: eksd-kata enables and starts it.
# E2E_NET_RATE=200mbit caps the registry's traffic to the node (tc tbf),
# so that pulls wait on the network as they do from public.ecr.aws;
# E2E_ONE_NODE=1 leaves out the second node; E2E_KEEP_WORKER=1 (with
# E2E_KEEP=1) ends once it has joined as a worker and leaves both running; E2E_TIMING=1 runs only the
# first bootstrap and kubeadm init alone, and reports their times (for
# scripts/bench/e2e-init.sh, which repeats it); E2E_EKSD_KATA=PATH puts
# that eksd-kata binary on the nodes instead of bin/eksd-kata.
# E2E_RELEASE=1-35-13 makes the bundle (and the nodes) that release instead
# of 1-36-7; E2E_UPGRADE_TO="1-36-7 1-36-8" also builds a bundle of each of
# those releases, serves them all, and once the second node has joined as a
# worker, upgrades the first node, then the worker, to each in turn with
# `eksd-kata upgrade` (scripts/e2e/upgrade-stage.sh); no control-plane
# join, no kubeadm baselines (make e2e-upgrade). 1-36-8 is not a published
# release: its bundle is 1-36-7's renamed, of Kubernetes v1.36.3, for a
# patch upgrade.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

E2E=$repo/.cache/e2e
NODE=$E2E/node
LOGS=$E2E/logs
NETNS=eksd-kata-e2e
GWNS=eksd-kata-e2e-gw
CGNAME=eksd-kata-e2e
NODE_NAME=e2e-node
NODE_ADDR=10.250.0.2
# A second node joins the first one's cluster, first as a worker, then as
# a control plane: it lives beside it in the same way, on the same link.
NODE2=$E2E/node2
NETNS2=eksd-kata-e2e-2
CGNAME2=eksd-kata-e2e-2
NODE2_NAME=e2e-node2
NODE2_ADDR=10.250.0.3
# The cluster's stable control-plane endpoint (spec.network.controlPlaneEndpoint),
# a name both nodes resolve to the first one, as a DNS name in front of the
# API servers would be.
CP_NAME=e2e-cp
CP_ENDPOINT=$CP_NAME:6443
# What spec.kubeadm passes through: a name for the API server's
# certificate, and the kubelet's pod limit (the cluster's, for both nodes).
EXTRA_SAN=e2e-api.example
MAX_PODS=60
GW_ADDR=10.250.0.1
REG_PORT=${E2E_REGISTRY_PORT:-5000}
# The bundle's registry is another host to the node, over plain HTTP, as an
# air-gapped site's mirror often is: eksd-kata's pulls and the kubelet's
# (verify's busybox) reach it through spec.images.insecureRegistries.
MIRROR=$GW_ADDR:$REG_PORT
MIRROR_DEBIAN=${E2E_DEBIAN_MIRROR:-}
RELEASE=${E2E_RELEASE:-1-36-7}
UPGRADE_TO=${E2E_UPGRADE_TO:-}
# Preflight checks that cannot pass on a namespaced node on this kind of
# machine; each is named with why (see eksd-kata check).
IGNORE=${E2E_IGNORE:-all}

timing=${E2E_TIMING:-}
pass_n=0 fail_n=0
node_pid="" registry_pid="" wrapper_pid="" node2_pid="" wrapper2_pid="" sampler_pid=""
t_script=$(date +%s.%N)

say() { printf '\n== %s\n' "$*"; }
pass() {
	pass_n=$((pass_n + 1))
	printf 'PASS  %s\n' "$*"
}
fail() {
	fail_n=$((fail_n + 1))
	printf 'FAIL  %s\n' "$*"
}
now() { date +%s.%N; }
# dur_s DURATION: seconds in a Go duration ("3.38s", "10ms", "1m2s") or a
# plain number of seconds.
dur_s() {
	awk -v d="$1" 'BEGIN {
		if (d ~ /^[0-9.]+$/) { printf "%.3f", d; exit }
		t = 0
		while (match(d, /^[0-9.]+(h|ms|us|µs|ns|m|s)/)) {
			tok = substr(d, 1, RLENGTH); d = substr(d, RLENGTH + 1)
			n = tok + 0; u = tok; sub(/^[0-9.]+/, "", u)
			if (u == "h") t += n * 3600; else if (u == "m") t += n * 60; else if (u == "s") t += n
			else if (u == "ms") t += n / 1000; else if (u == "ns") t += n / 1e9; else t += n / 1e6
		}
		printf "%.3f", t
	}'
}
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b-a}'; }

die() {
	printf 'e2e: STOPPED: %s\n' "$*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || die "must run as root (it boots a node in namespaces)"
# The node image: stock (eksd-kata installs the runtime and the CNI plugins)
# or prepared with Debian's (E2E_PREINSTALLED=1).
preinstalled=${E2E_PREINSTALLED:-}
if [ -n "${E2E_CONTAINERD_DISABLED:-}" ] && [ "$preinstalled" != 1 ]; then
	die "E2E_CONTAINERD_DISABLED=1 needs E2E_PREINSTALLED=1: the stock image has no containerd to leave disabled"
fi
mkdir -p "$LOGS"

# ---------------------------------------------------------------- cleanup
# cgroup_dirs [NAME]: our own cgroup in each hierarchy (v1 controllers and
# the v2 tree) with a child NAME ($CGNAME) in every one of them: a node's.
cgroup_dirs() {
	local id ctrl path mnt name=${1:-$CGNAME}
	while IFS=: read -r id ctrl path; do
		if [ -z "$ctrl" ]; then
			mnt=$(findmnt -rn -t cgroup2 -o TARGET | head -1)
		else
			mnt=$(findmnt -rn -t cgroup -o TARGET,OPTIONS | awk -v c="$ctrl" '{n=split($2,o,","); for(i=1;i<=n;i++) if(o[i]==c) {print $1; exit}}')
		fi
		[ -n "$mnt" ] && [ -d "$mnt$path" ] && printf '%s\n' "${mnt%/}${path%/}/$name"
		: "$id"
	done </proc/self/cgroup
}

# kill_cgroup DIR: SIGKILL everything in DIR and below, then remove DIR.
kill_cgroup() {
	local d=$1 i pids
	[ -d "$d" ] || return 0
	for i in 1 2 3 4 5 6 7 8 9 10; do
		pids=$(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u)
		[ -z "$pids" ] && break
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null || true
		sleep 0.3
		: "$i"
	done
	find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
}

# stop_sampler: the CPU sampler ends (the report has what it needs, or the
# run is over).
stop_sampler() {
	[ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null
	sampler_pid=""
}

cleanup() {
	local rc=$? i
	trap - EXIT INT TERM
	# Best effort from here on: every part of the cleanup runs.
	set +e +o pipefail
	# The CPU sampler goes in every case, E2E_KEEP=1 too.
	stop_sampler
	if [ "${E2E_KEEP:-}" = 1 ] && [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
		printf '\nE2E_KEEP=1: node left running, PID %s. Enter: nsenter -t %s -m -u -i -n -p -C -r -w bash\n' "$node_pid" "$node_pid"
		printf 'Stop and clean up: %s/scripts/e2e.sh --cleanup\n' "$repo"
		exit "$rc"
	fi
	stop_node "$node_pid" "$wrapper_pid" "$CGNAME" "$NODE" "$NETNS"
	stop_node "$node2_pid" "$wrapper2_pid" "$CGNAME2" "$NODE2" "$NETNS2"
	if [ -n "$registry_pid" ]; then
		kill -TERM "$registry_pid" 2>/dev/null || true
		wait "$registry_pid" 2>/dev/null || true
	fi
	ip netns del "$GWNS" 2>/dev/null || true
	rm -f "$E2E/node.pid" "$E2E/node2.pid" "$E2E/registry.pid"
	exit "$rc"
}

# stop_node PID WRAPPER CGNAME DIR NETNS: power the node off (systemd's
# RTMIN+4), kill what is left in its cgroups, unmount what is still seen
# of it here and remove its network namespace. Best effort: call it with
# set +e.
stop_node() {
	local pid=$1 wrapper=$2 cg=$3 dir=$4 ns=$5 i d
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -s RTMIN+4 "$pid" 2>/dev/null || true
		for i in $(seq 1 40); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	if [ -n "$wrapper" ]; then
		kill -KILL "$wrapper" 2>/dev/null || true
		wait "$wrapper" 2>/dev/null || true
	fi
	while read -r d; do kill_cgroup "$d"; done < <(cgroup_dirs "$cg")
	# The node's mounts live in its own mount namespace and went with it;
	# anything under DIR still visible here is unmounted too.
	findmnt -rn -o TARGET | grep -F "$dir/" | sort -r | while read -r d; do umount -l "$d" 2>/dev/null || true; done
	findmnt -rn -o TARGET | grep -qxF "$dir" && umount -l "$dir" 2>/dev/null
	ip netns del "$ns" 2>/dev/null || true
}

if [ "${1:-}" = --cleanup ]; then
	# After E2E_KEEP=1: the PIDs the kept run wrote down.
	node_pid=$(cat "$E2E/node.pid" 2>/dev/null || true)
	node2_pid=$(cat "$E2E/node2.pid" 2>/dev/null || true)
	registry_pid=$(cat "$E2E/registry.pid" 2>/dev/null || true)
	rm -f "$E2E/node.pid" "$E2E/node2.pid" "$E2E/registry.pid"
	# Only if they are still what they were (PIDs get reused); /proc names
	# them by their real paths (.cache may be a link).
	[ -n "$node_pid" ] && [ "$(readlink "/proc/$node_pid/root" 2>/dev/null)" != "$(readlink -f "$NODE")" ] && node_pid=""
	[ -n "$node2_pid" ] && [ "$(readlink "/proc/$node2_pid/root" 2>/dev/null)" != "$(readlink -f "$NODE2")" ] && node2_pid=""
	[ -n "$registry_pid" ] && [ "$(readlink "/proc/$registry_pid/exe" 2>/dev/null)" != "$(readlink -f "$E2E/tools/bundle")" ] && registry_pid=""
	trap cleanup EXIT
	exit 0
fi

# ------------------------------------------------------------------ build
say "build (cached under .cache/e2e)"
t0=$(now)
command -v debootstrap >/dev/null || {
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}
# release_bin REL: builds the node binaries of the bundle standing in for
# EKS-D release REL (the module versions that make it; etcd and CoreDNS are
# the release's own versions) and prints where they are.
release_bin() {
	local dir=$E2E/bin
	[ "$1" = 1-36-7 ] || dir=$E2E/bin-$1
	case $1 in
	1-36-7) ./scripts/e2e/build.sh "$dir" >&2 ;;
	1-35-13) KUBE_MODULE_VERSION=v1.35.4 KUBE_GIT_VERSION=v1.35.6-eks-1-35-13 ETCD_VERSION=v3.5.21 ./scripts/e2e/build.sh "$dir" >&2 ;;
	1-36-8) KUBE_MODULE_VERSION=v1.36.3 KUBE_GIT_VERSION=v1.36.3-eks-1-36-8 ./scripts/e2e/build.sh "$dir" >&2 ;;
	*) die "no bundle recipe for release $1 (scripts/e2e.sh release_bin knows 1-35-13, 1-36-7 and 1-36-8)" ;;
	esac
	echo "$dir"
}
# release_from REL: the bundle tool's flags that make REL, which eksd-kata
# does not embed, of a release it does.
release_from() {
	case $1 in
	1-36-8) echo "-from 1-36-7 -kubernetes v1.36.3" ;;
	esac
}
if [ -n "${E2E_BIN_DIR:-}" ]; then
	bin_dir=$E2E_BIN_DIR
else
	bin_dir=$(release_bin "$RELEASE")
fi
declare -A upgrade_bin_dirs=() upgrade_bundles=()
for rel in $UPGRADE_TO; do
	upgrade_bin_dirs[$rel]=$(release_bin "$rel")
done
mkdir -p "$E2E/tools"
nice -n 10 go build -trimpath -o "$E2E/tools/bundle" ./scripts/e2e/bundle
EKSD_KATA=${E2E_EKSD_KATA:-bin/eksd-kata}
[ -n "${E2E_EKSD_KATA:-}" ] || [ -x bin/eksd-kata ] || nice -n 10 make build
[ -x "$EKSD_KATA" ] || die "E2E_EKSD_KATA=$EKSD_KATA: not an executable"
t_build=$(secs "$t0" "$(now)")

# The Debian mirror apt uses here.
if [ -z "$MIRROR_DEBIAN" ]; then
	MIRROR_DEBIAN=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
	[ -n "$MIRROR_DEBIAN" ] || MIRROR_DEBIAN=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
	[ -n "$MIRROR_DEBIAN" ] || die "no Debian mirror found in /etc/apt/sources.list*; set E2E_DEBIAN_MIRROR"
fi

t0=$(now)
# The stock image has what kubeadm's preflight looks for on a host (iptables,
# conntrack, socat, ethtool, ebtables) and isal's igzip, which containerd 2.x
# gunzips layers with (as eksd-kata check advises); no container runtime
# and no CNI plugins.
packages=systemd,systemd-sysv,dbus,iproute2,kmod,iptables,conntrack,socat,ethtool,ebtables,ca-certificates,procps,isal
rootfs_key=$packages
if [ "$preinstalled" = 1 ]; then
	packages+=,containerd,runc,containernetworking-plugins
	# containerd looks for CNI plugins in /opt/cni/bin; Debian installs them
	# in /usr/lib/cni.
	rootfs_key="$packages /opt/cni/bin->/usr/lib/cni"
fi
# One cached tree per package list (and what is done to it after): a stock
# node never starts from a tree with containerd in it.
rootfs_tar=$E2E/rootfs-bookworm-$(printf '%s' "$rootfs_key" | sha256sum | cut -c1-12).tar
if [ ! -f "$rootfs_tar" ] || [ "$(cat "$rootfs_tar.packages" 2>/dev/null)" != "$rootfs_key" ]; then
	say "debootstrap bookworm from $MIRROR_DEBIAN (cold: a minute or two)"
	rm -rf "$E2E/rootfs.tmp"
	nice -n 10 debootstrap --variant=minbase --include="$packages" bookworm "$E2E/rootfs.tmp" "$MIRROR_DEBIAN" >"$LOGS/debootstrap.log" 2>&1 ||
		die "debootstrap failed: see $LOGS/debootstrap.log"
	if [ "$preinstalled" = 1 ]; then
		mkdir -p "$E2E/rootfs.tmp/opt/cni"
		ln -sfn /usr/lib/cni "$E2E/rootfs.tmp/opt/cni/bin"
	fi
	rm -rf "$E2E/rootfs.tmp/var/cache/apt/archives/"*.deb
	tar --numeric-owner -C "$E2E/rootfs.tmp" -cf "$rootfs_tar.tmp" .
	mv -f "$rootfs_tar.tmp" "$rootfs_tar"
	echo "$rootfs_key" >"$rootfs_tar.packages"
	rm -rf "$E2E/rootfs.tmp"
fi
t_rootfs=$(secs "$t0" "$(now)")

# kube-proxy runs iptables: its image gets Debian's iptables (nft and
# legacy) with the libraries they load, taken from the node's rootfs.
kube_proxy_layer() {
	local out=$1 tmp=$E2E/kube-proxy-layer.tmp f n
	rm -rf "$tmp"
	mkdir -p "$tmp"
	tar --numeric-owner -C "$tmp" -xf "$rootfs_tar" ./usr/sbin ./usr/lib/x86_64-linux-gnu ./usr/lib64 ./etc/alternatives ./bin ./sbin ./lib ./lib64
	(
		cd "$tmp"
		local -a list=(bin sbin lib lib64 usr/lib64/ld-linux-x86-64.so.2 usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 usr/lib/x86_64-linux-gnu/xtables)
		for f in usr/sbin/*tables* etc/alternatives/*tables*; do list+=("$f"); done
		local -A seen=()
		local -a todo=(usr/sbin/xtables-nft-multi usr/sbin/xtables-legacy-multi usr/lib/x86_64-linux-gnu/xtables/*.so usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2)
		while [ "${#todo[@]}" -gt 0 ]; do
			f=${todo[0]}
			todo=("${todo[@]:1}")
			for n in $(readelf -d "$f" 2>/dev/null | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
				[ -n "${seen[$n]:-}" ] && continue
				seen[$n]=1
				list+=("usr/lib/x86_64-linux-gnu/$n")
				f=$(readlink -f "usr/lib/x86_64-linux-gnu/$n")
				list+=("usr/lib/x86_64-linux-gnu/${f##*/}")
				todo+=("usr/lib/x86_64-linux-gnu/${f##*/}")
			done
		done
		# Each path once: tar stores a repeated file as a hard link to
		# itself, which containerd cannot unpack.
		mapfile -t list < <(printf '%s\n' "${list[@]}" | sort -u)
		tar --numeric-owner -cf "$out.tmp" "${list[@]}"
	)
	mv -f "$out.tmp" "$out"
	rm -rf "$tmp"
}

t0=$(now)
kp_layer=$E2E/kube-proxy-iptables.tar
if [ ! -f "$kp_layer" ] || [ "$rootfs_tar" -nt "$kp_layer" ]; then
	kube_proxy_layer "$kp_layer"
fi
# eksd-kata verify runs busybox test pods; the node cannot reach
# public.ecr.aws, so the bundle serves Debian's static busybox under the
# name verify uses by default.
VERIFY_IMAGE=$("$EKSD_KATA" verify --help 2>/dev/null | sed -n 's/.*--image string.*(default "\(.*\)")/\1/p')
VERIFY_IMAGE=${VERIFY_IMAGE:-public.ecr.aws/docker/library/busybox:1.37}
if [ ! -x "$E2E/tools/busybox" ]; then
	mkdir -p "$E2E/debs"
	(cd "$E2E/debs" && apt-get download -q busybox-static >/dev/null 2>&1) || die "apt-get download busybox-static failed"
	rm -rf "$E2E/debs/x"
	debs=("$E2E"/debs/busybox-static_*.deb)
	dpkg-deb -x "${debs[0]}" "$E2E/debs/x"
	install -m 0755 "$E2E/debs/x/bin/busybox" "$E2E/tools/busybox"
fi
bundle=$E2E/bundle
"$E2E/tools/bundle" build -bin "$bin_dir" -out "$bundle" -release "$RELEASE" -layer "kube-proxy=$kp_layer" \
	-busybox "$VERIFY_IMAGE=$E2E/tools/busybox"
serve_dirs=(-dir "$bundle")
for rel in $UPGRADE_TO; do
	upgrade_bundles[$rel]=$E2E/bundle-$rel
	# shellcheck disable=SC2046 # release_from prints flags
	"$E2E/tools/bundle" build -bin "${upgrade_bin_dirs[$rel]}" -out "${upgrade_bundles[$rel]}" -release "$rel" $(release_from "$rel") -layer "kube-proxy=$kp_layer"
	serve_dirs+=(-dir "${upgrade_bundles[$rel]}")
done
t_bundle=$(secs "$t0" "$(now)")
printf 'build %ss (binaries and tools), rootfs %ss, bundle %ss\n' "$t_build" "$t_rootfs" "$t_bundle"

# ------------------------------------------------------------ node files
say "node: fresh tree at $NODE"
trap cleanup EXIT INT TERM
# A leftover of a run killed hard: clear it first.
for ns in "$NETNS" "$NETNS2" "$GWNS"; do ip netns del "$ns" 2>/dev/null || true; done
for cg in "$CGNAME" "$CGNAME2"; do
	while read -r d; do kill_cgroup "$d"; done < <(cgroup_dirs "$cg")
done
if findmnt -rn -o TARGET | grep -qF "$NODE"; then
	die "mounts under $NODE are still there from an earlier run: unmount them first"
fi

# node_tree DIR NAME ADDR POD_SUBNET HOSTS: a fresh node file system in DIR
# (Debian bookworm, eksd-kata, the bundle's artifacts, a node config) whose
# /etc/hosts has the line HOSTS besides its own name. The artifacts
# directory holds, besides the release's own binaries, the containerd, runc
# and CNI plugin files the bundle's release lists, at its top level: where
# --artifacts-dir makes eksd-kata look for them.
node_tree() {
	local dir=$1 name=$2 addr=$3 subnet=$4 hosts=$5 allow_v1=false
	case $dir in "" | /) die "node_tree: no directory" ;; esac
	rm -rf "$dir"
	mkdir -p "$dir"
	tar --numeric-owner -C "$dir" -xf "$rootfs_tar"
	echo "$name" >"$dir/etc/hostname"
	printf '127.0.0.1 localhost\n%s %s\n%s\n' "$addr" "$name" "$hosts" >"$dir/etc/hosts"
	# Nothing answers there: the node can resolve nothing outside itself.
	printf 'nameserver %s\n' "$GW_ADDR" >"$dir/etc/resolv.conf"
	install -m 0755 "$EKSD_KATA" "$dir/usr/local/bin/eksd-kata"
	mkdir -p "$dir/opt/e2e" "$dir/etc/eksd-kata"
	cp -al "$bundle/artifacts" "$dir/opt/e2e/artifacts" 2>/dev/null || cp -a "$bundle/artifacts" "$dir/opt/e2e/artifacts"
	cp "$bundle/release.yaml" "$dir/opt/e2e/release.yaml"
	# The releases to upgrade to, as an offline site would bring them.
	local rel
	for rel in $UPGRADE_TO; do
		mkdir -p "$dir/opt/e2e/upgrade/$rel"
		cp -al "${upgrade_bundles[$rel]}/artifacts" "$dir/opt/e2e/upgrade/$rel/artifacts" 2>/dev/null ||
			cp -a "${upgrade_bundles[$rel]}/artifacts" "$dir/opt/e2e/upgrade/$rel/artifacts"
		cp "${upgrade_bundles[$rel]}/release.yaml" "$dir/opt/e2e/upgrade/$rel/release.yaml"
	done
	# Kubernetes 1.35+ refuses cgroup v1 unless told; this machine has cgroup v1.
	[ -e /sys/fs/cgroup/cgroup.controllers ] || allow_v1=true
	# The node lives in its own network namespace: kube-proxy may not set
	# nf_conntrack_max there (as with kind), so conntrackMaxPerCore: 0.
	# The stable control-plane endpoint lets the second node join as a
	# control plane (kubeadm init --upload-certs). spec.kubeadm passes a
	# certificate name and a kubelet limit through to kubeadm.
	cat >"$dir/etc/eksd-kata/config.yaml" <<EOF
apiVersion: eksd-kata.io/v1alpha1
kind: NodeConfig
spec:
  release:
    channel: "${RELEASE%-*}"
    number: ${RELEASE##*-}
    manifest: /opt/e2e/release.yaml
  node:
    name: $name
    advertiseAddress: $addr
    allowCgroupV1: $allow_v1
  network:
    conntrackMaxPerCore: 0
    controlPlaneEndpoint: $CP_ENDPOINT
  images:
    mirror: $MIRROR
    insecureRegistries: [$MIRROR]
  kubeadm:
    clusterConfiguration:
      apiServer:
        certSANs: [$EXTRA_SAN]
    kubeletConfiguration:
      maxPods: $MAX_PODS
EOF
	# E2E_PREINSTALLED=1: Debian bookworm's containerd (1.6.20) is too old for
	# Kubernetes 1.36 and eksd-kata refuses it: the node gets containerd built
	# from source, as an operator would upgrade it. Debian's unit, ctr and
	# runc stay. The stock node gets all of it from the bootstrap.
	if [ "$preinstalled" = 1 ]; then
		if [ -x "$bin_dir/containerd" ] && [ -x "$bin_dir/containerd-shim-runc-v2" ]; then
			install -m 0755 "$bin_dir/containerd" "$dir/usr/bin/containerd"
			install -m 0755 "$bin_dir/containerd-shim-runc-v2" "$dir/usr/bin/containerd-shim-runc-v2"
		else
			echo "e2e: no containerd in $bin_dir: the node keeps Debian's containerd 1.6"
		fi
	fi
	# The node has isal's igzip, which containerd 2.x gunzips layers with;
	# E2E_NO_IGZIP=1 measures without it (a drop-in for whichever
	# containerd.service the node has, Debian's or eksd-kata's).
	if [ -n "${E2E_NO_IGZIP:-}" ]; then
		mkdir -p "$dir/etc/systemd/system/containerd.service.d"
		printf '[Service]\nEnvironment=CONTAINERD_DISABLE_IGZIP=1\n' >"$dir/etc/systemd/system/containerd.service.d/e2e-no-igzip.conf"
	fi
	# E2E_PREINSTALLED=1: Debian's package enables containerd, so the boot
	# starts it with its own config and the bootstrap restarts it.
	# E2E_CONTAINERD_DISABLED=1: an image that leaves it to eksd-kata, which
	# enables and starts it once.
	if [ -n "${E2E_CONTAINERD_DISABLED:-}" ]; then
		rm -f "$dir/etc/systemd/system/multi-user.target.wants/containerd.service"
	fi
	# POD_SUBNET -: the node's pod network is eksd-kata's own (a control
	# plane given no CNI manifest), in the empty directory containerd makes
	# at its first start, here before the tree is recorded for reset's
	# check. Otherwise a node-local bridge on the CNI plugins in
	# /opt/cni/bin (the bundle's, which join installs; Debian's with
	# E2E_PREINSTALLED=1; no masquerade, no port maps: nothing leaves the
	# node), a subnet per node.
	mkdir -p "$dir/etc/cni/net.d"
	[ "$subnet" = - ] && return
	cat >"$dir/etc/cni/net.d/10-e2e-bridge.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "e2e-bridge",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$subnet"}]], "routes": [{"dst": "0.0.0.0/0"}]}}
  ]
}
EOF
}

t0=$(now)
node_tree "$NODE" "$NODE_NAME" "$NODE_ADDR" - "$NODE_ADDR $CP_NAME"

# The first bootstrap runs as an image built for eksd-kata runs it: the
# first-boot unit from systemd/, enabled in the tree, started by the node's
# systemd at boot. Its drop-in adds what this bundle and machine need (the
# artifacts directory, --ignore for the preflight findings a namespaced node
# has) and JSON step events, whose timestamps give the timings.
# only_steps COMMAND: the steps of `eksd-kata COMMAND` in their order, as
# its --only flag names them (the runtime and CNI plugin installs among them
# where this eksd-kata has them).
only_steps() {
	"$EKSD_KATA" "$1" --help 2>/dev/null | sed -n 's/.*run only these steps (comma separated): \([a-z0-9,-]*\).*/\1/p' | tr ',' ' '
}
read -r -a steps < <(only_steps bootstrap) || true
[ "${#steps[@]}" -gt 0 ] || die "$EKSD_KATA bootstrap --help names no steps (its --only flag)"
boot_args=(--log-format json)
# E2E_VERBOSE=1: also log each plan's and each change's time (-v).
[ "${E2E_VERBOSE:-}" = 1 ] && boot_args+=(-v)
boot_args+=(bootstrap --config /etc/eksd-kata/config.yaml --artifacts-dir /opt/e2e/artifacts --ignore "$IGNORE")
FIRSTBOOT=eksd-kata-bootstrap.service
install -m 0644 "systemd/$FIRSTBOOT" "$NODE/etc/systemd/system/$FIRSTBOOT"
mkdir -p "$NODE/etc/systemd/system/$FIRSTBOOT.d" "$NODE/etc/systemd/system/multi-user.target.wants"
printf '[Service]\nExecStart=\nExecStart=/usr/local/bin/eksd-kata %s\n' "${boot_args[*]}" >"$NODE/etc/systemd/system/$FIRSTBOOT.d/e2e.conf"
ln -sf "../$FIRSTBOOT" "$NODE/etc/systemd/system/multi-user.target.wants/$FIRSTBOOT"

# snapshot RUNNER...: the node's files and directories as RUNNER (chroot
# into the tree, or in_node) sees them, for reset. kubeadm reset empties
# /etc/kubernetes, its manifests and pki directories and /var/lib/kubelet
# but keeps them, as it does without eksd-kata, and so /etc/kubernetes/tmp,
# where kubeadm upgrade keeps its backups (--cleanup-tmp-dir): those five
# directory entries are left out.
snapshot() {
	# shellcheck disable=SC2016 # expanded by the node's shell
	"$@" /bin/sh -c 'find /etc /usr/local/bin /usr/local/sbin /opt /var/lib/eksd-kata /var/lib/kubelet /etc/systemd/system /root -xdev 2>/dev/null |
		grep -v -e "^/etc/machine-id$" -e "^/etc/mtab$" -e "^/opt/e2e" -e "^/etc/\.pwd\.lock$" -e "^/etc/kubernetes$" -e "^/etc/kubernetes/manifests$" -e "^/etc/kubernetes/pki$" -e "^/etc/kubernetes/tmp$" -e "^/var/lib/kubelet$" | sort -u |
		while read -r f; do if [ -L "$f" ]; then echo "$f -> $(readlink "$f")"; elif [ -d "$f" ]; then echo "$f/ $(stat -c %a "$f")"; else echo "$f $(stat -c %a "$f") $(sha256sum <"$f" | cut -c1-16)"; fi; done'
}
# Before the boot, which bootstraps the node.
snapshot chroot "$NODE" >"$LOGS/files-before.txt"
t_tree=$(secs "$t0" "$(now)")

# Building the node tree leaves hundreds of MB to write back: flush them
# now, so that the bootstrap's timings do not include the harness's own
# disk writes (a fresh host has none pending).
t0=$(now)
sync
t_flush=$(secs "$t0" "$(now)")

# ---------------------------------------------------------------- network
# A node's namespace has lo and a veth whose peer sits on a bridge in an
# otherwise empty namespace holding the default gateway address: routes and
# advertise-address detection work, the nodes reach each other on that
# link, and no packet reaches anything else.
ip netns add "$GWNS"
ip -n "$GWNS" link set lo up
ip -n "$GWNS" link add br0 type bridge
ip -n "$GWNS" addr add "$GW_ADDR/24" dev br0
ip -n "$GWNS" link set br0 up
# node_link NETNS PORT ADDR: the node's namespace, linked to the bridge.
node_link() {
	local ns=$1 port=$2 addr=$3
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip -n "$ns" link add eth0 type veth peer name "$port" netns "$GWNS"
	ip -n "$ns" addr add "$addr/24" dev eth0
	ip -n "$GWNS" link set "$port" master br0
	ip -n "$ns" link set eth0 up
	ip -n "$GWNS" link set "$port" up
	ip -n "$ns" route add default via "$GW_ADDR"
}
node_link "$NETNS" gw0 "$NODE_ADDR"
# E2E_NET_RATE (a tc rate: 400mbit) caps what the registry sends the node,
# as a registry across the internet would: pulls then wait on the network,
# not on these 2 CPUs.
if [ -n "${E2E_NET_RATE:-}" ]; then
	ip netns exec "$GWNS" tc qdisc add dev gw0 root tbf rate "$E2E_NET_RATE" burst 256kb latency 100ms
	say "registry to node capped at $E2E_NET_RATE"
fi

# The registry serves the bundle from the gateway's namespace: the one
# address the node can reach besides its own.
say "registry on $MIRROR (plain HTTP) in the gateway's network namespace"
t0=$(now)
nsenter --net="/run/netns/$GWNS" "$E2E/tools/bundle" serve "${serve_dirs[@]}" -addr "$MIRROR" >"$LOGS/registry.log" 2>&1 &
registry_pid=$!
echo "$registry_pid" >"$E2E/registry.pid"
for _ in $(seq 1 120); do
	grep -q '^ready' "$LOGS/registry.log" && break
	kill -0 "$registry_pid" 2>/dev/null || die "registry exited: $(cat "$LOGS/registry.log")"
	sleep 0.5
done
grep '^ready' "$LOGS/registry.log" || die "registry not ready after 60 s: $LOGS/registry.log"

# ------------------------------------------------------------------- boot
say "boot: systemd as PID 1 (mount, pid, uts, ipc, cgroup namespaces; own netns)"
# boot_node DIR NETNS CGNAME CONSOLE: start systemd as PID 1 of a node in
# DIR, in its own cgroups; sets booted_pid (its systemd) and booted_wrapper.
boot_node() {
	local dir=$1 ns=$2 cg=$3 console=$4 d
	local -a dirs
	mapfile -t dirs < <(cgroup_dirs "$cg")
	for d in "${dirs[@]}"; do
		mkdir -p "$d"
		# A new cpuset cgroup has no CPUs or memory nodes until given its parent's.
		if [ -f "$d/cpuset.cpus" ]; then
			cat "$(dirname "$d")/cpuset.cpus" >"$d/cpuset.cpus"
			cat "$(dirname "$d")/cpuset.mems" >"$d/cpuset.mems"
		fi
	done
	(
		for d in "${dirs[@]}"; do echo "$BASHPID" >"$d/cgroup.procs"; done
		exec nsenter --net="/run/netns/$ns" unshare -fpmuiC "$repo/scripts/e2e/node-init.sh" "$dir"
	) >"$console" 2>&1 &
	booted_wrapper=$!
	booted_pid=""
	for _ in $(seq 1 50); do
		booted_pid=$(cat /proc/"$booted_wrapper"/task/*/children 2>/dev/null | awk '{print $1}')
		[ -n "$booted_pid" ] && break
		sleep 0.1
	done
	[ -n "$booted_pid" ] || die "the node in $dir did not start: $(cat "$console")"
}
# The machine's CPU time (/proc/stat's cpu line) every 0.1 s from the boot
# to the baseline's end: how busy both CPUs were in each part of the
# bootstrap and of kubeadm init alone. Builtins only (no fork a sample).
rm -f "$E2E/sampler.fifo"
mkfifo "$E2E/sampler.fifo"
(
	exec 7<>"$E2E/sampler.fifo"
	rm -f "$E2E/sampler.fifo"
	while :; do
		read -r l </proc/stat
		printf '%s %s\n' "$EPOCHREALTIME" "$l"
		read -rt 0.1 -u 7 _ || true
	done
) >"$LOGS/cpu-stat.log" 2>/dev/null &
sampler_pid=$!
# proc_cpu PID: the CPU seconds (user + system) a process has used so far.
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / hz}' "/proc/$1/stat" 2>/dev/null || echo 0; }
reg_cpu0=$(proc_cpu "$registry_pid")
t0=$(now)
boot_node "$NODE" "$NETNS" "$CGNAME" "$LOGS/node-console.log"
node_pid=$booted_pid wrapper_pid=$booted_wrapper
echo "$node_pid" >"$E2E/node.pid"

# in_pid PID CMD...: run CMD in the node whose systemd is PID (its
# namespaces and root), clean env; in_node: in the first node.
in_pid() {
	local pid=$1
	shift
	nsenter -t "$pid" -m -u -i -n -p -C -r -w \
		/usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"
}
in_node() { in_pid "$node_pid" "$@"; }

# The boot ends once the first-boot unit, a oneshot in multi-user.target,
# has run: wait for systemd's verdict, then read the unit's.
state=""
for _ in $(seq 1 1200); do
	kill -0 "$node_pid" 2>/dev/null || die "the node's systemd exited: $(tail -20 "$LOGS/node-console.log")"
	state=$(in_node systemctl is-system-running 2>/dev/null || true)
	case $state in running | degraded) break ;; esac
	sleep 0.5
done
[ -n "$state" ] || die "systemd in the node never answered (see $LOGS/node-console.log)"
case $state in running | degraded) ;; *) die "the node's boot did not end in 10 min (systemd is '$state'; see journalctl -u $FIRSTBOOT in the node)" ;; esac
# fb PROPERTY: the first-boot unit's property; fb_time PROPERTY: a
# timestamp property in epoch seconds (empty if unset).
fb() { in_node systemctl show -P "$1" "$FIRSTBOOT"; }
# unit_time PID UNIT PROPERTY: that node's unit's timestamp property in
# epoch seconds (empty, and false, if unset).
unit_time() {
	local t
	t=$(in_pid "$1" systemctl show --timestamp=us+utc -P "$3" "$2" 2>/dev/null || true)
	[ -n "$t" ] && date -d "${t#* }" +%s.%N
}
fb_time() { unit_time "$node_pid" "$FIRSTBOOT" "$1"; }
first_start=$(fb_time ExecMainStartTimestamp || true)
[ -n "$first_start" ] || die "the node booted but never started $FIRSTBOOT (condition result: $(fb ConditionResult))"
first_end=$(fb_time ExecMainExitTimestamp)
# What serving the pulls cost this machine: a real node's registry is elsewhere.
reg_cpu=$(awk -v a="$reg_cpu0" -v b="$(proc_cpu "$registry_pid")" 'BEGIN{printf "%.2f", b-a}')
rc=$(fb ExecMainStatus)
t_boot=$(secs "$t0" "$first_start")
t_first=$(secs "$first_start" "$first_end")
failed=$(in_node systemctl --failed --no-legend --plain 2>/dev/null | awk '{print $1}' | grep -v -x "$FIRSTBOOT" | tr '\n' ' ' || true)
if [ -z "$failed" ]; then
	pass "node booted: systemd started $FIRSTBOOT ${t_boot}s into the boot; no other unit failed"
else
	fail "node booted: failed units besides $FIRSTBOOT: $failed"
fi

# boot LOG [ARG...]: eksd-kata with boot_args and ARGs in the node, its
# output in LOG; sets boot_rc and boot_took (seconds).
boot() {
	local log=$1 t0
	shift
	t0=$(now)
	set +e
	in_node eksd-kata "${boot_args[@]}" "$@" >"$log" 2>&1
	boot_rc=$?
	set -e
	boot_took=$(secs "$t0" "$(now)")
}

# ------------------------------------------------------------- baselines
# The baseline: kubeadm init alone on the node bootstrap prepared (binaries,
# images, containerd, the kubelet unit), after a kubeadm reset, with the
# config eksd-kata wrote. Nothing else runs beside it.
baseline_alone() {
	t_alone=""
	if [ "$have_cluster" = 1 ]; then
		say "kubeadm init alone (kubeadm reset, then kubeadm init --config /etc/eksd-kata/kubeadm.yaml --upload-certs)"
		set +e
		in_node kubeadm reset -f >"$LOGS/kubeadm-reset-alone.log" 2>&1
		sync
		t0=$(now)
		# Each line stamped with the time it came (for the split below).
		# --upload-certs as in the bootstrap: the config has a control-plane endpoint.
		in_node kubeadm init --config /etc/eksd-kata/kubeadm.yaml --upload-certs 2>&1 |
			while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done >"$LOGS/kubeadm-init-alone.log"
		arc=${PIPESTATUS[0]}
		t_alone=$(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.3f", b-a}')
		# The node's journal meanwhile, beside the first boot's (kubelet, containerd).
		in_node journalctl --since "@${t0%.*}" -o short-precise --no-pager 2>&1 | grep -v ' kernel: ' >"$LOGS/kubeadm-init-alone-timed.log" || true
		set -e
		if [ "$arc" = 0 ]; then
			pass "kubeadm init alone on the prepared node: ${t_alone}s"
		else
			fail "kubeadm init alone exit $arc after ${t_alone}s: $(grep -m3 -E '^[0-9.]+ error|ERROR' "$LOGS/kubeadm-init-alone.log" | tr '\n' ' ' | cut -c1-400)"
			t_alone=""
		fi
	fi
}

# A second baseline: what a kubeadm user without eksd-kata waits for, with
# kubeadm pulling its own images (its preflight pulls them one after the
# other through the CRI, imagePullPolicy IfNotPresent). All of them are
# removed first but pause, whose EKS-D tag kubeadm does not know: the
# tutorial retags it by hand, as eksd-kata does.
baseline_pull() {
	t_alone_pull="" t_kubeadm_pulls=""
	if [ -n "$t_alone" ]; then
		say "kubeadm init alone, pulling its own images (kubeadm reset, images removed, imagePullPolicy IfNotPresent)"
		set +e
		in_node kubeadm reset -f >"$LOGS/kubeadm-reset-alone-pull.log" 2>&1
		# The containers reset removed must be gone, or their snapshots keep
		# the images' content from the garbage collection.
		for _ in $(seq 1 60); do
			[ "$(in_node ctr -n k8s.io containers ls -q 2>/dev/null | wc -l)" = 0 ] && break
			sleep 0.5
		done
		in_node sh -c 'sed "s/imagePullPolicy: Never/imagePullPolicy: IfNotPresent/" /etc/eksd-kata/kubeadm.yaml >/tmp/kubeadm-pull.yaml'
		mapfile -t kimages < <(in_node kubeadm config images list --config /tmp/kubeadm-pull.yaml 2>/dev/null | grep -v '/pause:')
		# Every record of those images goes: their names and the sha256:<id>
		# names the CRI adds, which point at the same manifest. --sync:
		# containerd's garbage collection has removed their content and
		# snapshots when it returns.
		in_node ctr -n k8s.io images ls >"$LOGS/images-before-rm.txt" 2>&1
		mapfile -t rmrefs < <(awk 'NR == FNR { want[$1] = 1; next } FNR == 1 { next }
			want[$1] { d[$3] = 1 } { rows[FNR] = $1; dig[FNR] = $3; n = FNR }
			END { for (i = 2; i <= n; i++) if (d[dig[i]]) print rows[i] }' \
			<(printf '%s\n' "${kimages[@]}") "$LOGS/images-before-rm.txt")
		in_node ctr -n k8s.io images rm --sync "${rmrefs[@]}" >"$LOGS/kubeadm-images-rm.log" 2>&1
		# Neither their records nor their manifests may be left: kubeadm then
		# fetches them for real.
		mapfile -t manifests < <(awk 'NR == FNR { want[$1] = 1; next } want[$1] { print $3 }' \
			<(printf '%s\n' "${rmrefs[@]}") "$LOGS/images-before-rm.txt" | sort -u)
		left=$( (in_node ctr -n k8s.io images ls -q; in_node ctr -n k8s.io content ls -q) 2>/dev/null |
			grep -cFx -f <(printf '%s\n' "${rmrefs[@]}" "${manifests[@]}") || true)
		sync
		t0=$(now)
		in_node kubeadm init --config /tmp/kubeadm-pull.yaml --upload-certs 2>&1 |
			while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done >"$LOGS/kubeadm-init-alone-pull.log"
		arc=${PIPESTATUS[0]}
		t_alone_pull=$(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.3f", b-a}')
		in_node journalctl --since "@${t0%.*}" -o short-precise --no-pager 2>&1 | grep -v ' kernel: ' >"$LOGS/kubeadm-init-alone-pull-timed.log" || true
		set -e
		pulls_from=$(grep -m1 'Pulling images required' "$LOGS/kubeadm-init-alone-pull.log" | cut -d' ' -f1)
		pulls_to=$(grep -m1 '\[certs\]' "$LOGS/kubeadm-init-alone-pull.log" | cut -d' ' -f1)
		[ -n "$pulls_from" ] && [ -n "$pulls_to" ] && t_kubeadm_pulls=$(awk -v a="$pulls_from" -v b="$pulls_to" 'BEGIN{printf "%.2f", b-a}')
		if [ "$arc" = 0 ] && [ "${#kimages[@]}" -gt 0 ] && [ "$left" = 0 ] && [ -n "$t_kubeadm_pulls" ]; then
			pass "kubeadm init alone, pulling its ${#kimages[@]} images itself (${#rmrefs[@]} image records and their content removed first): ${t_alone_pull}s (its pulls ${t_kubeadm_pulls}s)"
		else
			fail "kubeadm init alone with its own pulls: exit $arc after ${t_alone_pull}s, ${#kimages[@]} images, $left not removed: $(grep -m3 -E 'error|ERROR' "$LOGS/kubeadm-init-alone-pull.log" | tr '\n' ' ' | cut -c1-300)"
			t_alone_pull=""
		fi
	fi
}

# report: every step's time and the figures against both baselines.
report() {
	say "timings"
	for s in "${steps[@]}"; do
		printf '  %-11s %s\n' "$s" "${step_time[$s]:-(not run)}"
	done
	printf '  bootstrap   %ss (wall, %s)\n' "$t_first" "$FIRSTBOOT"
	[ -n "$t_kubeadm" ] && printf '  kubeadm init in the bootstrap %s\n' "$t_kubeadm"
	[ -n "$t_alone" ] && printf '  kubeadm init alone %ss (after kubeadm reset, on the prepared node)\n' "$t_alone"
	[ -n "$t_alone_pull" ] && printf '  kubeadm init alone pulling its own images %ss (its pulls %ss)\n' "$t_alone_pull" "$t_kubeadm_pulls"
	# Both inits split at the kubelet's start: before it, the phases the certs
	# step runs beside the pulls; after it, the control plane's start (where
	# work still going on beside it would show).
	if [ -n "$t_alone" ] && [ -n "$t_kubeadm" ]; then
		jt() { date -d "$(awk '{print $1, $2, $3}' <<<"$1")" +%s.%N; }
		run_init=$(grep -m1 'kubeadm: \[init\]' "$LOGS/first-boot-timed.log" || true)
		run_kubelet=$(grep -m1 'kubeadm: \[kubelet-start\] Starting the kubelet' "$LOGS/first-boot-timed.log" || true)
		run_end=$(grep -m1 'kubeadm init took' "$LOGS/first-boot-timed.log" || true)
		alone_init=$(grep -m1 ' \[init\]' "$LOGS/kubeadm-init-alone.log" | cut -d' ' -f1)
		alone_kubelet=$(grep -m1 'Starting the kubelet' "$LOGS/kubeadm-init-alone.log" | cut -d' ' -f1)
		alone_end=$(tail -1 "$LOGS/kubeadm-init-alone.log" | cut -d' ' -f1)
		if [ -n "$run_init" ] && [ -n "$run_kubelet" ] && [ -n "$run_end" ] && [ -n "$alone_kubelet" ]; then
			# The journal's times as epoch seconds, once.
			run_init=$(jt "$run_init") run_kubelet=$(jt "$run_kubelet") run_end=$(jt "$run_end")
			awk -v ri="$run_init" -v rk="$run_kubelet" -v re="$run_end" \
				-v ai="$alone_init" -v ak="$alone_kubelet" -v ae="$alone_end" \
				'BEGIN{printf "  kubeadm init [init] to the kubelet start / after it: %.2fs / %.2fs in the bootstrap, %.2fs / %.2fs alone\n", rk-ri, re-rk, ak-ai, ae-ak}'
			# For the timing line: launch (or [init]) to the kubelet's start, and after.
			split_times=$(awk -v f="$first_start" -v rk="$run_kubelet" -v re="$run_end" \
				-v ai="$alone_init" -v ak="$alone_kubelet" -v ae="$alone_end" \
				'BEGIN{printf "to_kubelet=%.3f after=%.3f alone_to_kubelet=%.3f alone_after=%.3f", rk-f, re-rk, ak-ai, ae-ak}')
			# busy FROM TO: the share of all CPUs' time that was not idle (nor
			# iowait) between two epoch times, from the samples nearest them.
			busy() {
				awk -v a="$1" -v b="$2" '
					$2 != "cpu" { next }
					{ t = $1; tot = 0; for (i = 3; i <= 10; i++) tot += $i; idle = $6 + $7 }
					t <= a { ta = tot; ia = idle }
					t <= b { tb = tot; ib = idle }
					END { if (tb > ta) printf "%.0f%%", 100 * (1 - (ib - ia) / (tb - ta)); else printf "?" }' "$LOGS/cpu-stat.log"
			}
			printf '  CPUs busy (both, /proc/stat): launch to the kubelet start %s, then to the end of kubeadm init %s in the bootstrap; %s and %s alone\n' \
				"$(busy "$first_start" "$run_kubelet")" "$(busy "$run_kubelet" "$run_end")" \
				"$(busy "$alone_init" "$alone_kubelet")" "$(busy "$alone_kubelet" "$alone_end")"
		fi
	fi
	printf '  node boot %ss; build %ss; rootfs %ss; bundle %ss; node tree %ss; flush before boot %ss; script %ss\n' \
		"$t_boot" "$t_build" "$t_rootfs" "$t_bundle" "$t_tree" "$t_flush" "$(secs "$t_script" "$(now)")"
	printf '  the registry (on these CPUs, unlike a real node'"'"'s) used %s CPU-s serving the bootstrap'"'"'s pulls\n' "$reg_cpu"

	# eksd-kata's own cost: the wall time of the run from its launch to the end
	# of the add-ons (process start and planning included; images pulls beside
	# the binaries), less kubeadm init, against kubeadm init alone. The sum of
	# the other steps' times is shown too; it counts the background pulls in
	# full.
	ours=0
	for s in "${steps[@]}"; do
		[ "$s" = kubeadm ] && continue
		[ -n "${step_time[$s]:-}" ] && ours=$(awk -v a="$ours" -v b="$(dur_s "${step_time[$s]}")" 'BEGIN{printf "%.3f", a+b}')
	done
	k=${t_kubeadm%% *}
	k=$(dur_s "$k")
	addons_at=$(grep -o '"time":"[^"]*","level":"INFO","msg":"step done","step":"addons"' "$LOGS/bootstrap-1.log" | sed -n 's/^"time":"\([^"]*\)".*/\1/p' | tail -1 || true)
	if [ -n "$t_kubeadm" ] && awk -v k="$k" 'BEGIN{exit !(k>0)}'; then
		printf '  sum of the steps other than kubeadm: %ss\n' "$ours"
		if [ -n "$addons_at" ]; then
			wall=$(awk -v a="$first_start" -v b="$(date -d "$addons_at" +%s.%N)" 'BEGIN{printf "%.3f", b-a}')
			own=$(awk -v w="$wall" -v k="$k" 'BEGIN{printf "%.3f", w-k}')
			# The kubeadm init inside the run starts with the certificates and
			# kubeconfig files the certs step made beside the pulls: that step
			# counts as eksd-kata's here.
			printf '  bootstrap wall time from launch to the end of addons %ss - kubeadm init in it %ss = %ss = %s%% of that kubeadm init\n' \
				"$wall" "$k" "$own" "$(awk -v a="$own" -v k="$k" 'BEGIN{printf "%.1f", 100*a/k}')"
			# The main figure: against kubeadm init alone on the prepared
			# node (certificates included, nothing of eksd-kata's beside it).
			if [ -n "$t_alone" ]; then
				own=$(awk -v w="$wall" -v k="$t_alone" 'BEGIN{printf "%.3f", w-k}')
				printf '  bootstrap wall time from launch to the end of addons %ss - kubeadm init alone %ss = %ss = %s%% of kubeadm init alone (goal < 20%%)\n' \
					"$wall" "$t_alone" "$own" "$(awk -v a="$own" -v k="$t_alone" 'BEGIN{printf "%.1f", 100*a/k}')"
			fi
			# Against kubeadm init that pulls its own images: the same work,
			# done by kubeadm alone.
			if [ -n "$t_alone_pull" ]; then
				own=$(awk -v w="$wall" -v k="$t_alone_pull" 'BEGIN{printf "%.3f", w-k}')
				printf '  bootstrap wall time from launch to the end of addons %ss - kubeadm init pulling its own images %ss = %ss = %s%% of it\n' \
					"$wall" "$t_alone_pull" "$own" "$(awk -v a="$own" -v k="$t_alone_pull" 'BEGIN{printf "%+.1f", 100*a/k}')"
			fi
			# One line for scripts (scripts/bench/e2e-init.sh): seconds, and
			# which side met the kubelet's cgroup v1 stall (see stalled).
			printf 'timing wall=%s kubeadm=%s alone=%s alone_pull=%s %s stall=%s\n' "$wall" "$k" "${t_alone:--}" "${t_alone_pull:--}" \
				"${split_times:-}" "$(stalled "$LOGS/first-boot-timed.log" && echo bootstrap)$(stalled "$LOGS/kubeadm-init-alone-timed.log" && echo alone)"
		fi
	fi
}

# stalled LOG: whether the kubelet in that journal could not make a pod's
# cgroup because systemd had just removed its parent's devices directory (a
# cgroup v1 host after kubeadm's daemon-reload, kubernetes#103542); the
# kubelet then retries about 12 s later, which swamps any timing.
stalled() {
	[ -f "$1" ] && grep -q 'mkdir /sys/fs/cgroup/devices/kubepods[^ ]*: no such file or directory' "$1"
}

# finish: the count; false if anything failed.
finish() {
	printf '\n%d passed, %d failed\n' "$pass_n" "$fail_n"
	[ "$fail_n" = 0 ]
}

say "eksd-kata bootstrap (1st): $FIRSTBOOT at boot"
in_node journalctl -u "$FIRSTBOOT" -o cat --no-pager >"$LOGS/bootstrap-1.log" 2>&1 || true
cat "$LOGS/bootstrap-1.log"
# The whole boot with every line's time (the host's kernel lines left out):
# where a slow kubeadm init spent its time.
in_node journalctl -b -o short-precise --no-pager 2>&1 | grep -v ' kernel: ' >"$LOGS/first-boot-timed.log" || true
# Without Kata binaries (none here) the run must stop at verify, and only
# there, saying plainly that the kata pod cannot start for want of the shim.
kata_missing() {
	grep -q '^error: step verify: Kata is not installed on node' "$1" && grep -q 'containerd-shim-kata-v2' "$1"
}

# record_steps LOG STEP...: PASS/FAIL per step from a bootstrap log, and
# the step's own duration into step_time.
declare -A step_time=()
record_steps() {
	local log=$1 s line
	shift
	for s in "$@"; do
		line=$(grep -E "^\[[0-9]+/[0-9]+\] $s: " "$log" | tail -1 || true)
		# A background step (images) ends with "done in the background (…)".
		if [[ $line == *"change(s) applied ("* || $line == *"already right ("* || $line == *"done in the background ("* ]]; then
			step_time[$s]=$(sed -n 's/.*(\(.*\))$/\1/p' <<<"$line")
			pass "bootstrap step $s: ${line#*] }"
		elif [ "$s" = verify ] && kata_missing "$log"; then
			pass "bootstrap step verify: says plainly that Kata is not installed (no containerd-shim-kata-v2 here, as expected)"
		else
			fail "bootstrap step $s: did not report success ($(grep -m1 '^error' "$log" | cut -c1-400 || echo "no line"))"
		fi
	done
}
record_steps "$LOGS/bootstrap-1.log" "${steps[@]}"
if [ "$rc" = 0 ]; then
	pass "bootstrap exit 0 (${t_first}s)"
elif kata_missing "$LOGS/bootstrap-1.log"; then
	pass "bootstrap exit $rc (${t_first}s): it stops only at verify, for want of Kata (expected on this machine)"
else
	fail "bootstrap exit $rc (${t_first}s): $(grep -m1 '^error' "$LOGS/bootstrap-1.log" | cut -c1-400)"
fi

# installed_check RUNNER DIR WHAT: on a stock node (its tree DIR, commands
# through RUNNER), WHAT installed the bundle's containerd, its shim and ctr
# in /usr/local/bin with containerd's own unit in /etc/systemd/system,
# enabled and running that containerd; runc as /usr/local/sbin/runc; the
# CNI plugins in /opt/cni/bin. Each file is compared with the one the
# bundle packed.
installed_check() {
	local run=$1 dir=$2 what=$3 f p missing="" differs="" want unit state server plugins=0
	[ "$preinstalled" = 1 ] && return
	# same FILE NODEPATH: the node has the bundle's FILE at NODEPATH.
	same() {
		if [ ! -e "$dir$2" ]; then
			missing+=" $2"
		elif ! cmp -s "$1" "$dir$2"; then
			differs+=" $2"
		fi
	}
	for f in containerd containerd-shim-runc-v2 ctr; do same "$bin_dir/$f" "/usr/local/bin/$f"; done
	same "$bin_dir/runc" /usr/local/sbin/runc
	for f in "$bin_dir"/cni/*; do
		[ -e "$f" ] || continue
		same "$f" "/opt/cni/bin/${f##*/}"
		plugins=$((plugins + 1))
	done
	# eksd-kata's own bridge network needs these four, whatever the bundle has.
	for p in bridge host-local loopback portmap; do
		[ -e "$bin_dir/cni/$p" ] || [ -x "$dir/opt/cni/bin/$p" ] || missing+=" /opt/cni/bin/$p"
	done
	want=$("$bin_dir/containerd" --version 2>/dev/null | awk '{print $3}')
	unit=$($run systemctl show -P FragmentPath containerd.service 2>/dev/null || true)
	state="$($run systemctl is-enabled containerd.service 2>/dev/null || true) $($run systemctl is-active containerd.service 2>/dev/null || true)"
	server=$($run ctr version 2>/dev/null | awk '/^Server:/ {s = 1} s && $1 == "Version:" {print $2; exit}' || true)
	if [ -z "$missing$differs" ] && [ "$unit" = /etc/systemd/system/containerd.service ] && [ "$state" = "enabled active" ] && [ -n "$want" ] && [ "$server" = "$want" ]; then
		pass "$what installed the bundle's containerd $want (/usr/local/bin; its unit $unit enabled and active, containerd $server answering), runc (/usr/local/sbin/runc) and $plugins CNI plugins (/opt/cni/bin)"
	else
		fail "$what installed: missing:${missing:- none}; not the bundle's:${differs:- none}; containerd.service from '${unit:-nowhere}' is '$state', its daemon says version '${server:-nothing}' (want $want)"
	fi
}
installed_check in_node "$NODE" "bootstrap on the stock node"

# kubelet_diagnosis: what the kubelet and containerd said last, in short.
kubelet_diagnosis() {
	in_node journalctl -u kubelet --no-pager -o cat >"$LOGS/kubelet.log" 2>&1 || true
	in_node journalctl -u containerd --no-pager -o cat >"$LOGS/containerd.log" 2>&1 || true
	echo "kubelet (last errors; full log $LOGS/kubelet.log):"
	# Best effort: a node without a kubelet or containerd has nothing to say.
	grep -E '^E[0-9]{4}|[Ee]rror|[Ff]ailed' "$LOGS/kubelet.log" | tail -6 | cut -c1-400 | sed 's/^/  /' || true
	echo "static pod containers:"
	in_node ctr -n k8s.io containers ls 2>&1 | tail -n +2 | awk '{print "  " $2}' | sort | uniq -c || true
}

t_kubeadm=$(sed -n 's/.*kubeadm init took \([0-9.]*m*s\).*/\1/p' "$LOGS/bootstrap-1.log" | head -1)

# ------------------------------------------------------------ the cluster
# Its discovery cache goes to /tmp, not to the ~/.kube that reset removes.
kubectl() { in_node kubectl --kubeconfig /etc/kubernetes/admin.conf --cache-dir /tmp/e2e-kubectl-cache "$@"; }
have_cluster=0
if in_node test -f /etc/kubernetes/admin.conf && kubectl get --raw /readyz >/dev/null 2>&1; then
	have_cluster=1
fi

# E2E_TIMING=1: the first bootstrap and kubeadm init alone, nothing else
# (scripts/bench/e2e-init.sh repeats that on fresh nodes).
if [ "$timing" = 1 ]; then
	if [ "$have_cluster" = 1 ] && kubectl wait node "$NODE_NAME" --for=condition=Ready --timeout=180s >/dev/null 2>&1; then
		pass "node $NODE_NAME Ready"
	else
		fail "node $NODE_NAME not Ready (API server answers: $have_cluster)"
		kubelet_diagnosis
	fi
	baseline_alone
	t_alone_pull="" t_kubeadm_pulls=""
	stop_sampler
	report
	finish
	exit
fi

say "cluster checks"
if [ "$have_cluster" = 1 ]; then
	# No CNI manifest and no network in the image: the node's network is
	# the bridge eksd-kata writes, and the only one there.
	bridge_subnet=$(in_node cat /etc/cni/net.d/10-eksd-kata-bridge.conflist 2>/dev/null | grep -o '"subnet": "[^"]*"' || true)
	cni_files=$(in_node ls /etc/cni/net.d 2>/dev/null | tr '\n' ' ')
	if kubectl wait node "$NODE_NAME" --for=condition=Ready --timeout=180s >/dev/null 2>&1 && [ -n "$bridge_subnet" ] && [ "$cni_files" = "10-eksd-kata-bridge.conflist " ]; then
		pass "node $NODE_NAME Ready on eksd-kata's own pod network ($bridge_subnet; no CNI manifest given$([ "$preinstalled" = 1 ] || echo ", its plugins from the bundle"))"
	elif [ -z "$bridge_subnet" ] || [ "$cni_files" != "10-eksd-kata-bridge.conflist " ]; then
		fail "node $NODE_NAME: the pod network is not eksd-kata's bridge alone (/etc/cni/net.d: ${cni_files:-empty})"
	else
		fail "node $NODE_NAME not Ready after 180s: $(kubectl get node "$NODE_NAME" -o jsonpath='{range .status.conditions[?(@.type=="Ready")]}{.reason}: {.message}{end}' 2>&1 | cut -c1-300)"
	fi
	pods_cap=$(kubectl get node "$NODE_NAME" -o jsonpath='{.status.capacity.pods}' 2>&1 || true)
	sans=$(openssl x509 -in "$NODE/etc/kubernetes/pki/apiserver.crt" -noout -ext subjectAltName 2>&1 || true)
	if [ "$pods_cap" = "$MAX_PODS" ] && [[ $sans == *"DNS:$EXTRA_SAN"* ]]; then
		pass "spec.kubeadm passed through: the API server's certificate names $EXTRA_SAN, the kubelet allows $MAX_PODS pods"
	else
		fail "spec.kubeadm: pod capacity '$pods_cap' (want $MAX_PODS), API server certificate names: ${sans:0:200}"
	fi
	# kubeadm's own check (its preflight's image pulls) reads sandboxImage
	# from the CRI's status, which containerd 2.x no longer reports: compare
	# containerd's effective sandbox image with the pause image the release's
	# kubeadm expects, and check that image is there, pinned against GC.
	kpause=$(in_node kubeadm config images list --config /etc/eksd-kata/kubeadm.yaml 2>/dev/null | grep '/pause:' || true)
	csandbox=$(in_node containerd config dump 2>/dev/null | sed -n "s/^[[:space:]]*sandbox\(_image\)\{0,1\} = [\"']\(.*\)[\"']\$/\2/p" | head -1)
	pinned=$(in_node ctr -n k8s.io images ls "name==$kpause" 2>/dev/null | grep -c 'io.cri-containerd.pinned=pinned' || true)
	if [ -n "$kpause" ] && [ "$kpause" = "$csandbox" ] && [ "$pinned" = 1 ]; then
		pass "containerd's sandbox image is the pause image kubeadm expects, stored and pinned ($kpause)"
	else
		fail "sandbox image: kubeadm expects '$kpause', containerd uses '$csandbox', pinned images of that name: $pinned"
	fi
	# No Kata on this node: no RuntimeClass to schedule Kata pods by, no
	# label, and the addons step said why.
	ours=$(kubectl get runtimeclass -l app.kubernetes.io/managed-by=eksd-kata -o name 2>&1 || echo "kubectl failed")
	label=$(kubectl get node "$NODE_NAME" -o jsonpath='{.metadata.labels.katacontainers\.io/kata-runtime}' 2>&1 || echo "kubectl failed")
	if [ -z "$ours" ] && [ -z "$label" ] && grep -q 'note: Kata is not installed here (qemu: no /opt/kata/bin/containerd-shim-kata-v2): no RuntimeClass kata, kata-qemu and no node label' "$LOGS/bootstrap-1.log"; then
		pass "no Kata RuntimeClass and no Kata label on $NODE_NAME (Kata is not installed; the addons step says so)"
	else
		fail "Kata not installed, yet RuntimeClasses '${ours:0:200}', label '${label:0:100}', or no addons note naming the missing shim"
	fi
	# Pods need the namespace's default ServiceAccount, which the
	# controller manager creates a few seconds after init.
	for _ in $(seq 1 60); do
		kubectl get serviceaccount default -n default >/dev/null 2>&1 && break
		sleep 1
	done
	# The DaemonSet and Deployment create their pods a little after init;
	# CoreDNS is Ready once kube-proxy routes the API service to it.
	t0=$(now)
	addons_ready=0
	for _ in $(seq 1 150); do
		if kubectl -n kube-system wait pod -l k8s-app=kube-proxy --for=condition=Ready --timeout=1s >/dev/null 2>&1 &&
			kubectl -n kube-system wait pod -l k8s-app=kube-dns --for=condition=Ready --timeout=1s >/dev/null 2>&1; then
			addons_ready=1
			break
		fi
		sleep 1
	done
	if [ "$addons_ready" = 1 ]; then
		pass "kube-proxy and CoreDNS Ready ($(secs "$t0" "$(now)")s after node Ready; images from the bundle)"
	else
		fail "kube-proxy/CoreDNS not Ready: $(kubectl -n kube-system get pods -l 'k8s-app in (kube-proxy,kube-dns)' --no-headers 2>&1 | awk '{print $1, $2, $3, $4}' | tr '\n' ';')"
	fi
	pause_ref=$(in_node eksd-kata images list --config /etc/eksd-kata/config.yaml 2>/dev/null | awk '/pause/ {print $NF; exit}')
	pause_ref=${pause_ref:-public.ecr.aws/eks-distro/kubernetes/pause:3.10.2}
	kubectl apply -f - >/dev/null <<EOF || true
apiVersion: v1
kind: Pod
metadata: {name: e2e-runc, namespace: default}
spec:
  containers: [{name: pause, image: "$pause_ref", imagePullPolicy: Never}]
  tolerations: [{operator: Exists}]
EOF
	if kubectl wait pod e2e-runc --for=condition=Ready --timeout=120s >/dev/null 2>&1; then
		pass "runc pod Running"
	else
		fail "runc pod not Running: $(kubectl get events --field-selector involvedObject.name=e2e-runc -o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}' 2>&1 | tail -3 | tr '\n' ' ' | cut -c1-400)"
	fi
	# An exec into a pod runs in the pod's own file system: the image's files
	# (busybox), nothing of the machine the node runs on ($repo is only the
	# machine's).
	kubectl apply -f - >/dev/null <<EOF || true
apiVersion: v1
kind: Pod
metadata: {name: e2e-exec, namespace: default}
spec:
  containers: [{name: sh, image: "$MIRROR/${VERIFY_IMAGE#public.ecr.aws/}", command: [sleep, "600"]}]
  tolerations: [{operator: Exists}]
EOF
	exec_seen=""
	if kubectl wait pod e2e-exec --for=condition=Ready --timeout=120s >/dev/null 2>&1 &&
		exec_seen=$(kubectl exec e2e-exec -- sh -c "test -x /bin/busybox && test ! -e '$repo' && echo image-only" 2>&1) && [ "$exec_seen" = image-only ]; then
		pass "an exec into a pod sees the image's files and nothing of the machine's ($repo is not there)"
	else
		fail "exec into a pod: ${exec_seen:-the pod is not Ready}"
	fi
	kubectl delete pod e2e-exec --wait=false >/dev/null 2>&1 || true
	# Admission refuses a pod whose RuntimeClass does not exist: the kata
	# pod is not created, rather than scheduled here to fail.
	msg=$(kubectl apply -f - 2>&1 <<EOF || true
apiVersion: v1
kind: Pod
metadata: {name: e2e-kata, namespace: default}
spec:
  runtimeClassName: kata
  containers: [{name: pause, image: "$pause_ref", imagePullPolicy: Never}]
  tolerations: [{operator: Exists}]
EOF
	)
	if [[ $msg == *'RuntimeClass "kata" not found'* ]] && ! kubectl get pod e2e-kata >/dev/null 2>&1; then
		pass "kata pod refused as expected (no Kata here, so no RuntimeClass kata): ${msg:0:200}"
	else
		fail "kata pod: expected admission to refuse it for want of RuntimeClass kata, got '${msg:0:200}'"
	fi
else
	why="no cluster: $(in_node test -f /etc/kubernetes/admin.conf && echo 'API server not ready' || echo 'kubeadm init did not run or failed')"
	fail "node Ready ($why)"
	fail "runc pod Running ($why)"
	fail "no Kata RuntimeClass ($why)"
	fail "kata pod ($why)"
	kubelet_diagnosis
fi

# verify's default image is on public.ecr.aws, which the node cannot reach
# (and verify does not follow spec.images.mirror): the same busybox through
# the mirror.
mirrored=$MIRROR/${VERIFY_IMAGE#public.ecr.aws/}
set +e
in_node eksd-kata verify --config /etc/eksd-kata/config.yaml --image "$mirrored" >"$LOGS/verify.log" 2>&1
vrc=$?
set -e
sed 's/^/  /' "$LOGS/verify.log" | cut -c1-300 | tail -12
if [ "$vrc" != 0 ] && grep -q '^runc pod kernel: ' "$LOGS/verify.log" &&
	grep -q 'Kata is not installed on node .*(qemu: no /opt/kata/bin/containerd-shim-kata-v2), so eksd-kata applied no RuntimeClass kata' "$LOGS/verify.log"; then
	pass "verify (--image $mirrored) runs the runc pod, exits $vrc and says Kata is not installed (names the missing shim)"
else
	fail "verify (--image $mirrored) exit $vrc does not say plainly why Kata pods fail: $(grep -m2 -i 'kata\|error' "$LOGS/verify.log" | tr '\n' ' ' | cut -c1-300)"
fi

# ------------------------------------------------------ idempotency, reset
say "eksd-kata bootstrap (2nd): must plan nothing"
boot "$LOGS/bootstrap-2.log" --dry-run
rc2=$boot_rc t_second=$boot_took
if [ "$rc2" = 0 ] && grep -q ': 0 change(s) planned' "$LOGS/bootstrap-2.log"; then
	pass "second bootstrap plans nothing (${t_second}s)"
else
	fail "second bootstrap plans changes or fails (exit $rc2): $(grep -E 'change\(s\) planned|^  \+' "$LOGS/bootstrap-2.log" | grep -v ' 0 change' | head -5 | tr '\n' ' ' | cut -c1-400)"
fi

# The join command files lost (a run stopped after kubeadm init): a re-run
# writes them again, the control-plane one with the certificates uploaded
# again under a new key. The second node below joins with these.
if [ "$have_cluster" = 1 ]; then
	say "join command files lost: a re-run writes them again"
	in_node rm -f /etc/eksd-kata/join-command /etc/eksd-kata/join-command-control-plane
	boot "$LOGS/bootstrap-join-files.log" --only kubeadm
	worker=$(in_node cat /etc/eksd-kata/join-command 2>/dev/null || true)
	cpcmd=$(in_node cat /etc/eksd-kata/join-command-control-plane 2>/dev/null || true)
	modes=$(in_node stat -c %a /etc/eksd-kata/join-command /etc/eksd-kata/join-command-control-plane 2>/dev/null | tr '\n' ' ' || true)
	token=$(grep -o -- '--token [^ ]*' <<<"$cpcmd" | cut -d' ' -f2 || true)
	key=$(grep -o -- '--certificate-key [^ ]*' <<<"$cpcmd" | cut -d' ' -f2 || true)
	if [ "$boot_rc" = 0 ] && [[ $worker == "kubeadm join $CP_ENDPOINT --token "* ]] && [[ $worker != *--control-plane* ]] &&
		[[ $cpcmd == "kubeadm join $CP_ENDPOINT --token "*" --control-plane --certificate-key "* ]] && [ "$modes" = "600 600 " ] &&
		[ -n "$token" ] && [ -n "$key" ] && ! grep -qF -e "$token" -e "$key" "$LOGS/bootstrap-join-files.log"; then
		pass "join command files lost: a re-run (--only kubeadm) writes both again (0600; new token and certificate key, shown nowhere)"
	else
		fail "join command files lost: re-run exit $boot_rc, modes '$modes', worker '${worker:0:25}…', control plane has key: $([ -n "$key" ] && echo yes || echo no) ($LOGS/bootstrap-join-files.log)"
	fi
fi

# A hypervisor added, then taken out again (--hypervisors over the config):
# its containerd runtime and RuntimeClass come, then go; the rest stays.
if [ "$have_cluster" = 1 ]; then
	say "spec.kata: clh added, then taken out"
	rt_clh() { in_node grep -c 'runtimes.kata-clh\]' /etc/containerd/config.toml || true; }
	rc_clh() { kubectl get runtimeclass kata-clh -o name 2>&1 | tail -1 || true; }
	boot "$LOGS/bootstrap-clh-add.log" --only containerd,addons --hypervisors qemu,clh
	added="rc $boot_rc, runtime $(rt_clh), RuntimeClass $(rc_clh)"
	boot "$LOGS/bootstrap-clh-drop.log" --only containerd,addons --hypervisors qemu
	dropped="rc $boot_rc, runtime $(rt_clh), RuntimeClass $(rc_clh)"
	# No Kata here: the runtime comes and goes, a RuntimeClass never comes.
	if [[ $added == "rc 0, runtime 1, RuntimeClass "*NotFound* ]] &&
		[[ $dropped == "rc 0, runtime 0, RuntimeClass "*NotFound* ]] &&
		grep -q 'Kata is not installed here (qemu, clh: no /opt/kata/bin/containerd-shim-kata-v2): no RuntimeClass kata, kata-qemu, kata-clh' "$LOGS/bootstrap-clh-add.log" &&
		[ -z "$(kubectl get runtimeclass -l app.kubernetes.io/managed-by=eksd-kata -o name 2>&1)" ]; then
		pass "clh added (runtime kata-clh; no RuntimeClass kata-clh: Kata is not installed), then taken out: runtime removed, no Kata RuntimeClass at any point"
	else
		fail "clh added: $added; taken out: ${dropped:0:200} (logs: bootstrap-clh-add.log, bootstrap-clh-drop.log)"
	fi
fi

# ---------------------------------------------------------------- upgrade
# E2E_UPGRADE_TO with E2E_ONE_NODE=1: the node moves to each of those
# releases in turn (scripts/e2e/upgrade-stage.sh); with two nodes, below,
# once the second has joined as a worker.
if [ -n "$UPGRADE_TO" ] && [ "${E2E_ONE_NODE:-}" = 1 ]; then
	# shellcheck source=scripts/e2e/upgrade-stage.sh
	. "$repo/scripts/e2e/upgrade-stage.sh"
fi

# ------------------------------------------------------------ more nodes
# A second node joins the cluster: first as a worker, at its first boot,
# through systemd/eksd-kata-join.service and a config whose spec.join holds
# what the first node's join command file says; then, after eksd-kata
# reset, as a control plane, with that node's control-plane join command
# run with eksd-kata in place of kubeadm. It leaves again (reset, which
# removes its etcd member) and stops before the baseline below, which needs
# the first node alone.
if [ "$have_cluster" = 1 ] && [ "${E2E_ONE_NODE:-}" != 1 ]; then
	say "second node: eksd-kata join as a worker (first-boot unit)$([ -n "$UPGRADE_TO" ] && echo ", then upgraded" || echo ", then as a control plane")"
	read -r -a join_steps < <(only_steps join) || true
	# join_args COMMAND_FILE: the first node's "kubeadm join ENDPOINT
	# --token ..." as the array join_cmd; join_secrets gets the token and
	# the certificate key, which no log may show. Returns 1 without one.
	join_args() {
		local i
		join_cmd=() join_secrets=()
		read -r -a join_cmd < <(in_node cat "$1" 2>/dev/null || true)
		for ((i = 0; i + 1 < ${#join_cmd[@]}; i++)); do
			case ${join_cmd[i]} in --token | --certificate-key) join_secrets+=("${join_cmd[i + 1]}") ;; esac
		done
		[ "${join_cmd[0]:-} ${join_cmd[1]:-}" = "kubeadm join" ] && [ "${#join_secrets[@]}" -gt 0 ]
	}
	# flag_value NAME: the value after NAME in join_cmd.
	flag_value() {
		local i
		for ((i = 0; i + 1 < ${#join_cmd[@]}; i++)); do
			[ "${join_cmd[i]}" = "$1" ] && printf '%s' "${join_cmd[i + 1]}"
		done
	}
	t0=$(now)
	node_tree "$NODE2" "$NODE2_NAME" "$NODE2_ADDR" 10.244.1.0/24 "$NODE_ADDR $CP_NAME"
	JOINUNIT=eksd-kata-join.service
	if join_args /etc/eksd-kata/join-command; then
		# As user data would write it: 0600, since it holds the token.
		cat >>"$NODE2/etc/eksd-kata/config.yaml" <<EOF
  join:
    controlPlaneEndpoint: ${join_cmd[2]}
    token: $(flag_value --token)
    discoveryTokenCACertHash: $(flag_value --discovery-token-ca-cert-hash)
EOF
		chmod 0600 "$NODE2/etc/eksd-kata/config.yaml"
	fi
	install -m 0644 "systemd/$JOINUNIT" "$NODE2/etc/systemd/system/$JOINUNIT"
	mkdir -p "$NODE2/etc/systemd/system/$JOINUNIT.d"
	printf '[Service]\nExecStart=\nExecStart=/usr/local/bin/eksd-kata join --config /etc/eksd-kata/config.yaml --artifacts-dir /opt/e2e/artifacts --ignore %s\n' "$IGNORE" \
		>"$NODE2/etc/systemd/system/$JOINUNIT.d/e2e.conf"
	ln -sf "../$JOINUNIT" "$NODE2/etc/systemd/system/multi-user.target.wants/$JOINUNIT"
	node_link "$NETNS2" gw1 "$NODE2_ADDR"
	boot_node "$NODE2" "$NETNS2" "$CGNAME2" "$LOGS/node2-console.log"
	node2_pid=$booted_pid wrapper2_pid=$booted_wrapper
	echo "$node2_pid" >"$E2E/node2.pid"
	in_node2() { in_pid "$node2_pid" "$@"; }
	# The boot ends once the join unit, a oneshot in multi-user.target, ran.
	for _ in $(seq 1 600); do
		case $(in_node2 systemctl is-system-running 2>/dev/null || true) in running | degraded) break ;; esac
		sleep 0.5
	done
	in_node2 journalctl -u "$JOINUNIT" -o cat --no-pager >"$LOGS/join-worker.log" 2>&1 || true
	join_rc=$(in_node2 systemctl show -P ExecMainStatus "$JOINUNIT" 2>/dev/null || echo "?")
	[ "$(in_node2 systemctl show -P ExecMainStartTimestampMonotonic "$JOINUNIT" 2>/dev/null || echo 0)" = 0 ] && join_rc="never started"
	echo "node tree, link, boot and join: $(secs "$t0" "$(now)")s"
	join_took="?"
	if j0=$(unit_time "$node2_pid" "$JOINUNIT" ExecMainStartTimestamp) && j1=$(unit_time "$node2_pid" "$JOINUNIT" ExecMainExitTimestamp); then
		join_took=$(secs "$j0" "$j1")
	fi
	# join_node2 LOG COMMAND_FILE [ARG...]: eksd-kata join on the second
	# node with the arguments of the first node's COMMAND_FILE and ARGs, its
	# ENDPOINT replaced by $JOIN_AT if set; sets join_rc and join_took.
	join_node2() {
		local log=$1 file=$2 t0
		shift 2
		if ! join_args "$file"; then
			join_rc=99 join_took=0
			echo "no kubeadm join command with a token in $file on $NODE_NAME" >"$log"
			return
		fi
		[ -n "${JOIN_AT:-}" ] && join_cmd[2]=$JOIN_AT
		t0=$(now)
		set +e
		in_node2 eksd-kata join "${join_cmd[@]:2}" --config /etc/eksd-kata/config.yaml \
			--artifacts-dir /opt/e2e/artifacts --ignore "$IGNORE" "$@" >"$log" 2>&1
		join_rc=$?
		set -e
		join_took=$(secs "$t0" "$(now)")
	}
	# join_verdict WHAT LOG: PASS when the join exited 0, every step
	# reported success and its output shows no secret.
	join_verdict() {
		local what=$1 log=$2 s bad="" x
		for s in "${join_steps[@]}"; do
			grep -qE "^\[[0-9]+/[0-9]+\] $s: .*(change\(s\) applied|already right|done in the background) \(" "$log" || bad+=" $s"
		done
		for x in "${join_secrets[@]}"; do
			grep -qF -- "$x" "$log" && bad+=" (a secret is in the output)"
		done
		if [ "$join_rc" = 0 ] && [ -z "$bad" ]; then
			pass "$what: eksd-kata join exit 0, every step succeeded, no secret shown (${join_took}s)"
		else
			fail "$what: eksd-kata join exit $join_rc, not done:${bad:- none} ($(grep -m1 '^error' "$log" | cut -c1-300); $log)"
		fi
	}
	# node2_ready: node 2 is Ready (within 3 minutes).
	node2_ready() {
		kubectl wait node "$NODE2_NAME" --for=condition=Ready --timeout=180s >/dev/null 2>&1
	}
	# leave_node2 LOG: eksd-kata reset on node 2, then its Node object goes.
	leave_node2() {
		set +e
		in_node2 eksd-kata reset --config /etc/eksd-kata/config.yaml >"$1" 2>&1
		leave_rc=$?
		set -e
		kubectl delete node "$NODE2_NAME" --wait=false >/dev/null 2>&1 || true
	}

	join_verdict "worker join at first boot ($JOINUNIT)" "$LOGS/join-worker.log"
	installed_check in_node2 "$NODE2" "the worker join on $NODE2_NAME"
	ready=0 label="" pods_cap=""
	if node2_ready; then
		ready=1
		label=$(kubectl get node "$NODE2_NAME" -o jsonpath='{.metadata.labels.katacontainers\.io/kata-runtime}' 2>/dev/null || true)
		pods_cap=$(kubectl get node "$NODE2_NAME" -o jsonpath='{.status.capacity.pods}' 2>&1 || true)
	fi
	# No Kata on node 2 either: it registers without the Kata label.
	if [ "$ready" = 1 ] && [ -z "$label" ] && [ "$pods_cap" = "$MAX_PODS" ]; then
		pass "$NODE2_NAME Ready as a worker, not labelled katacontainers.io/kata-runtime at registration (Kata is not installed there), $MAX_PODS pods as the cluster's kubelet config says"
	else
		fail "$NODE2_NAME: Ready=$(kubectl get node "$NODE2_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>&1 | cut -c1-100), Kata label '$label', pod capacity '$pods_cap'"
	fi
	kubectl apply -f - >/dev/null <<EOF || true
apiVersion: v1
kind: Pod
metadata: {name: e2e-runc-node2, namespace: default}
spec:
  nodeName: $NODE2_NAME
  containers: [{name: pause, image: "$pause_ref", imagePullPolicy: Never}]
EOF
	if kubectl wait pod e2e-runc-node2 --for=condition=Ready --timeout=120s >/dev/null 2>&1 &&
		kubectl -n kube-system wait pod -l k8s-app=kube-proxy --field-selector "spec.nodeName=$NODE2_NAME" --for=condition=Ready --timeout=60s >/dev/null 2>&1; then
		pass "on $NODE2_NAME: kube-proxy Ready and a runc pod Running (its images pulled by the join)"
	else
		fail "on $NODE2_NAME: runc pod or kube-proxy not Ready: $(kubectl get pods -A --field-selector "spec.nodeName=$NODE2_NAME" --no-headers 2>&1 | awk '{print $2, $3, $4}' | tr '\n' ';' | cut -c1-300)"
	fi
	join_node2 "$LOGS/join-worker-2.log" /etc/eksd-kata/join-command --dry-run
	rc=$join_rc
	if [ "$rc" = 0 ] && ! grep -qE ': [1-9][0-9]* change\(s\) planned' "$LOGS/join-worker-2.log" && grep -q 'in a cluster already' "$LOGS/join-worker-2.log"; then
		pass "a second join on the joined worker plans nothing"
	else
		fail "a second join on the joined worker (exit $rc) plans: $(grep -E 'change\(s\) planned|^  \+' "$LOGS/join-worker-2.log" | grep -v ' 0 change' | head -4 | tr '\n' ' ' | cut -c1-300)"
	fi
	# A wrong endpoint: join's preflight says so at once (kubeadm join
	# would wait minutes for discovery).
	JOIN_AT=10.250.0.9:6443 join_node2 "$LOGS/join-unreachable.log" /etc/eksd-kata/join-command --only preflight
	if grep -q 'cannot reach the API server at 10.250.0.9:6443 (spec.join.controlPlaneEndpoint)' "$LOGS/join-unreachable.log"; then
		pass "a join with an endpoint nothing answers at: its preflight says so (kube.api_endpoint, ${join_took}s)"
	else
		fail "a join with an endpoint nothing answers at (exit $join_rc): no kube.api_endpoint finding ($LOGS/join-unreachable.log)"
	fi
	kubectl delete pod e2e-runc-node2 --wait=false >/dev/null 2>&1 || true
	if [ -n "$UPGRADE_TO" ]; then
		# E2E_UPGRADE_TO: both nodes upgraded, the control plane first;
		# then the worker leaves (no control-plane join here).
		# Pods on either node reach the other's and the API server (the
		# upgrade's new CoreDNS pods may land on the worker).
		kubectl get nodes -o jsonpath='{range .items[*]}{.status.addresses[?(@.type=="InternalIP")].address} {.spec.podCIDR}{"\n"}{end}' |
			./scripts/e2e/pod-routes.sh "$NETNS" "$NETNS2"
		# shellcheck source=scripts/e2e/upgrade-stage.sh
		. "$repo/scripts/e2e/upgrade-stage.sh"
		leave_node2 "$LOGS/reset-worker.log"
		if [ "$leave_rc" = 0 ]; then
			pass "the upgraded worker left: eksd-kata reset exit 0"
		else
			fail "eksd-kata reset of the upgraded worker: exit $leave_rc ($(tail -2 "$LOGS/reset-worker.log" | tr '\n' ' ' | cut -c1-300))"
		fi
		set +e
		stop_node "$node2_pid" "$wrapper2_pid" "$CGNAME2" "$NODE2" "$NETNS2"
		set -e
		node2_pid="" wrapper2_pid=""
		rm -f "$E2E/node2.pid"
	else
		# E2E_KEEP=1 E2E_KEEP_WORKER=1: the cluster stays as it is now, the
		# second node a worker (scripts/e2e/conformance.sh tests it so).
		if [ "${E2E_KEEP:-}" = 1 ] && [ "${E2E_KEEP_WORKER:-}" = 1 ]; then
			printf '\nE2E_KEEP_WORKER=1: %s stays a worker; the remaining checks are skipped\n' "$NODE2_NAME"
			finish
			exit
		fi
		leave_node2 "$LOGS/reset-worker.log"

		join_node2 "$LOGS/join-control-plane.log" /etc/eksd-kata/join-command-control-plane
		if [ "$leave_rc" = 0 ]; then
			join_verdict "control-plane join (after eksd-kata reset of the worker)" "$LOGS/join-control-plane.log"
		else
			fail "eksd-kata reset of the worker: exit $leave_rc ($(tail -2 "$LOGS/reset-worker.log" | tr '\n' ' ' | cut -c1-300))"
		fi
		role=$(kubectl get node -l node-role.kubernetes.io/control-plane -o name 2>/dev/null | grep -c "^node/$NODE2_NAME\$" || true)
		cp_pods=0
		for _ in $(seq 1 120); do
			kubectl -n kube-system wait pod "etcd-$NODE2_NAME" "kube-apiserver-$NODE2_NAME" --for=condition=Ready --timeout=1s >/dev/null 2>&1 && cp_pods=1 && break
			sleep 1
		done
		own=$(in_node2 kubectl --kubeconfig /root/.kube/config --server "https://$NODE2_ADDR:6443" get --raw /readyz 2>&1 || true)
		if node2_ready && [ "$role" = 1 ] && [ "$cp_pods" = 1 ] && [ "$own" = ok ]; then
			pass "$NODE2_NAME Ready as a control plane: its etcd member and API server Ready, and its own API server answers /readyz with the kubeconfig join gave root"
		else
			fail "$NODE2_NAME as a control plane: control-plane role label $role, etcd and API server pods Ready $cp_pods, its API server: ${own:0:200}"
		fi
		join_node2 "$LOGS/join-control-plane-2.log" /etc/eksd-kata/join-command-control-plane --dry-run
		if [ "$join_rc" = 0 ] && ! grep -qE ': [1-9][0-9]* change\(s\) planned' "$LOGS/join-control-plane-2.log" && grep -q 'in a cluster already' "$LOGS/join-control-plane-2.log"; then
			pass "a second join on the joined control plane plans nothing"
		else
			fail "a second join on the joined control plane (exit $join_rc) plans: $(grep -E 'change\(s\) planned|^  \+|^error' "$LOGS/join-control-plane-2.log" | grep -v ' 0 change' | head -4 | tr '\n' ' ' | cut -c1-300)"
		fi
		leave_node2 "$LOGS/reset-control-plane.log"
		# Best effort, as in cleanup (which stops it otherwise).
		set +e
		stop_node "$node2_pid" "$wrapper2_pid" "$CGNAME2" "$NODE2" "$NETNS2"
		set -e
		node2_pid="" wrapper2_pid=""
		rm -f "$E2E/node2.pid"
		# Had its etcd member stayed, the first node's etcd would have lost its
		# quorum with it: the API server there must go on answering.
		sleep 5
		alone_ok=0
		for _ in $(seq 1 20); do
			if kubectl get --raw /readyz >/dev/null 2>&1; then
				alone_ok=$((alone_ok + 1))
				[ "$alone_ok" -ge 3 ] && break
			else
				alone_ok=0
			fi
			sleep 1
		done
		if [ "$leave_rc" = 0 ] && [ "$alone_ok" -ge 3 ]; then
			pass "the control plane left (eksd-kata reset removed its etcd member) and stopped: $NODE_NAME's API server still answers /readyz"
		else
			fail "the control plane's leave: reset exit $leave_rc ($(tail -2 "$LOGS/reset-control-plane.log" | tr '\n' ' ' | cut -c1-200)); $NODE_NAME's /readyz: $(kubectl get --raw /readyz 2>&1 | tail -1 | cut -c1-200)"
		fi
	fi
fi

# The first-boot unit's condition (no admin.conf yet) keeps it from running
# again: on the next boot, or when started by hand.
started=$(fb ExecMainStartTimestampMonotonic)
in_node systemctl start "$FIRSTBOOT" || true
if [ "$(fb ConditionResult)" = no ] && [ "$(fb ExecMainStartTimestampMonotonic)" = "$started" ]; then
	pass "$FIRSTBOOT does not run again once the node is bootstrapped (its condition: no /etc/kubernetes/admin.conf)"
else
	fail "$FIRSTBOOT ran again (condition result $(fb ConditionResult))"
fi

if [ "${E2E_KEEP:-}" = 1 ]; then
	printf '\nE2E_KEEP=1: reset skipped, the cluster stays up\n%d passed, %d failed\n' "$pass_n" "$fail_n"
	exit 0
fi

# The baselines run kubeadm init of the node's first release: not after an
# upgrade.
t_alone="" t_alone_pull="" t_kubeadm_pulls=""
if [ -z "$UPGRADE_TO" ]; then
	baseline_alone
	baseline_pull
fi

stop_sampler

say "eksd-kata reset"
set +e
in_node eksd-kata reset --config /etc/eksd-kata/config.yaml >"$LOGS/reset.log" 2>&1
rrc=$?
set -e
tail -5 "$LOGS/reset.log"
if [ "$rrc" = 0 ]; then
	snapshot in_node >"$LOGS/files-after-reset.txt"
	if diff -u "$LOGS/files-before.txt" "$LOGS/files-after-reset.txt" >"$LOGS/reset.diff"; then
		pass "reset restored every file and directory (/etc, /usr/local/bin, /usr/local/sbin, /opt, /root, kubelet and eksd-kata state)"
	else
		fail "reset left differences: $(grep -E '^[-+]/' "$LOGS/reset.diff" | head -8 | tr '\n' ' ' | cut -c1-500)"
	fi
else
	fail "reset exit $rrc: $(tail -2 "$LOGS/reset.log" | tr '\n' ' ')"
fi

# --------------------------------------------------------------- timings
report
finish

