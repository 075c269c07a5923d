#!/usr/bin/env bash
# make e2e-conformance: Kubernetes' own conformance tests against a
# `make e2e` cluster. scripts/e2e.sh builds and boots it (two nodes, the
# second a worker: E2E_KEEP=1 E2E_KEEP_WORKER=1); this script then
#   1. builds, cached under .cache/e2e/conformance: e2e.test, agnhost and
#      nnp from the release's k8s.io/kubernetes module (a sibling of the
#      bundle's build module, with the same staging replaces), a static
#      busybox from upstream's source (Debian's drops environment variables
#      whose names are not shell names, which the ConfigMap and Secret tests
#      set), and a Debian tree with the tools agnhost's Alpine base has;
#   2. routes each node's pod CIDR to it from the other node, as a CNI's
#      host routes would (the bridges are node-local), and makes the first
#      node answer ARP for the second node's pods on its bridge;
#   3. pushes the test images, under the names e2e.test asks for through
#      KUBE_TEST_REPO_LIST, into the bundle's registry, which the nodes pull
#      from over plain HTTP already (spec.images.insecureRegistries);
#   4. runs e2e.test from the registry's network namespace (a machine on
#      the nodes' link): the [Conformance] tests of sig-node and sig-network
#      that CONFORMANCE_FOCUS picks, without those CONFORMANCE_SKIP names
#      ([Serial], [Disruptive], [Slow]), one at a time;
#   5. prints passed, failed and skipped counts, the failures' names and the
#      time, and stops the cluster (CONFORMANCE_KEEP=1 leaves it running;
#      scripts/e2e.sh --cleanup stops it).
# --build only builds. Logs: .cache/e2e/logs/conformance*.log; ginkgo's
# JUnit report: .cache/e2e/conformance/run/report.
set -euo pipefail
cd "$(dirname "$0")/../.."
E2E=$PWD/.cache/e2e
C=$E2E/conformance
LOGS=$E2E/logs
BIN=$C/bin
# What scripts/e2e.sh sets up: the nodes' and the registry's network
# namespaces and the registry's address.
NETNS=(eksd-kata-e2e eksd-kata-e2e-2)
GWNS=eksd-kata-e2e-gw
MIRROR=10.250.0.1:${E2E_REGISTRY_PORT:-5000}
# The release's Kubernetes module (as scripts/e2e/build.sh) and the busybox
# upstream's test image is made of (its source from Debian's archive,
# verified against upstream's checksum).
KUBE_MODULE_VERSION=${KUBE_MODULE_VERSION:-v1.36.3}
BUSYBOX_VERSION=1.37.0
BUSYBOX_SHA256=3311dff32e746499f4df0d5df04d7eb396382d7e108bb9250e7b519b837043a4
# agnhost's tools (upstream: bind-tools curl netcat-openbsd iproute2 iperf
# bash on Alpine, whose busybox adds wget and ping) and glibc-dns-testing's
# dnsutils.
TOOLS_PACKAGES=bind9-dnsutils,curl,netcat-openbsd,iproute2,iperf,bash,procps,wget,iputils-ping

FOCUS_DEFAULT='\[sig-node\] (Pods|RuntimeClass|ConfigMap|Secrets|Downward API|Container Runtime|Containers|Kubelet|Variable Expansion|Security Context|InitContainer|Lease|PodTemplates|Container Lifecycle Hook|Probing)\b.*\[Conformance\]|\[sig-network\] (DNS|Services)\b.*\[Conformance\]'
SKIP_DEFAULT='\[Serial\]|\[Disruptive\]|\[Slow\]'
FOCUS=${CONFORMANCE_FOCUS:-$FOCUS_DEFAULT}
SKIP=${CONFORMANCE_SKIP:-$SKIP_DEFAULT}

log() { printf 'conformance: %s\n' "$*"; }
die() {
	printf 'conformance: STOPPED: %s\n' "$*" >&2
	exit 1
}
[ "$(id -u)" = 0 ] || die "must run as root (scripts/e2e.sh boots nodes in namespaces)"
mkdir -p "$BIN" "$LOGS"
NICE=(nice -n 10)
export CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false"

# --------------------------------------------------------------- build
t_start=$(date +%s)
debian_mirror=${E2E_DEBIAN_MIRROR:-$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)}
[ -n "$debian_mirror" ] || debian_mirror=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
[ -n "$debian_mirror" ] || die "no Debian mirror found in /etc/apt/sources.list*; set E2E_DEBIAN_MIRROR"

# e2e.test, agnhost, nnp: one module, k8s.io/kubernetes of the release.
mod=$E2E/build/e2e-test
stamp="kubernetes=$KUBE_MODULE_VERSION"
if [ "$(cat "$mod/.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -x "$BIN/e2e.test" ] || [ ! -x "$BIN/agnhost" ] || [ ! -x "$BIN/nonewprivs" ]; then
	log "e2e.test, agnhost, nnp from k8s.io/kubernetes $KUBE_MODULE_VERSION (cold: 20 min and more on 2 cores)"
	mkdir -p "$mod"
	printf 'module e2e.eksd-kata.test/e2etest\n\ngo 1.26\n\nrequire k8s.io/kubernetes %s\n' "$KUBE_MODULE_VERSION" >"$mod/go.mod"
	./scripts/kube-staging-replaces.sh "$KUBE_MODULE_VERSION" >>"$mod/go.mod"
	printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "k8s.io/kubernetes/test/e2e"\n\t_ "k8s.io/kubernetes/test/images/agnhost"\n\t_ "k8s.io/kubernetes/test/images/nonewprivs"\n)\n' >"$mod/tools.go"
	minor=${KUBE_MODULE_VERSION#v1.}
	ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_MODULE_VERSION
		-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*}"
	(
		cd "$mod"
		"${NICE[@]}" go test -c -trimpath -ldflags "$ldflags" -o "$BIN/e2e.test" k8s.io/kubernetes/test/e2e
		"${NICE[@]}" go build -trimpath -ldflags "$ldflags" -o "$BIN/" k8s.io/kubernetes/test/images/agnhost k8s.io/kubernetes/test/images/nonewprivs
	)
	echo "$stamp" >"$mod/.stamp"
fi
porter=$(cd "$mod" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)/test/images/agnhost/porter

# busybox from upstream's source, static, upstream's default configuration
# (without tc, which does not build against newer kernel headers).
stamp="busybox=$BUSYBOX_VERSION"
if [ "$(cat "$C/busybox.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -x "$BIN/busybox" ]; then
	log "busybox $BUSYBOX_VERSION from source (a few minutes)"
	src=$C/busybox-src
	rm -rf "$src"
	mkdir -p "$src"
	curl -fsSL -o "$src/busybox.tar.bz2" "$debian_mirror/pool/main/b/busybox/busybox_$BUSYBOX_VERSION.orig.tar.bz2" ||
		die "download of busybox $BUSYBOX_VERSION's source from $debian_mirror failed"
	echo "$BUSYBOX_SHA256  $src/busybox.tar.bz2" | sha256sum -c --quiet - || die "busybox source: sha256 mismatch"
	tar -C "$src" -xjf "$src/busybox.tar.bz2"
	(
		cd "$src/busybox-$BUSYBOX_VERSION"
		"${NICE[@]}" make defconfig >"$LOGS/conformance-busybox.log" 2>&1
		sed -i 's/^# CONFIG_STATIC is not set$/CONFIG_STATIC=y/; s/^CONFIG_TC=y$/# CONFIG_TC is not set/' .config
		"${NICE[@]}" make -j2 busybox >>"$LOGS/conformance-busybox.log" 2>&1
	) || die "busybox build failed: $LOGS/conformance-busybox.log"
	install -m 0755 "$src/busybox-$BUSYBOX_VERSION/busybox" "$BIN/busybox"
	rm -rf "$src"
	echo "$stamp" >"$C/busybox.stamp"
fi

# The Debian tools tree (agnhost's and glibc-dns-testing's base).
tools_tar=$C/debian-tools.tar
if [ ! -f "$tools_tar" ] || [ "$(cat "$tools_tar.packages" 2>/dev/null)" != "$TOOLS_PACKAGES" ]; then
	log "debootstrap bookworm with $TOOLS_PACKAGES (a minute or two)"
	command -v debootstrap >/dev/null || {
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
	}
	tree=$C/debian-tools.tmp
	rm -rf "$tree"
	"${NICE[@]}" debootstrap --variant=minbase --include="$TOOLS_PACKAGES" bookworm "$tree" "$debian_mirror" >"$LOGS/conformance-debootstrap.log" 2>&1 ||
		die "debootstrap failed: $LOGS/conformance-debootstrap.log"
	# What an image needs not: documentation, apt's caches, device nodes.
	rm -rf "$tree"/usr/share/{doc,man,info,locale} "$tree"/var/cache/apt/* "$tree"/var/lib/apt/lists/* "$tree"/var/log/*
	find "$tree/dev" -mindepth 1 -delete
	tar --numeric-owner -C "$tree" -cf "$tools_tar.tmp" .
	mv -f "$tools_tar.tmp" "$tools_tar"
	echo "$TOOLS_PACKAGES" >"$tools_tar.packages"
	rm -rf "$tree"
fi
# The bundle's tool builds and pushes the test images.
"${NICE[@]}" go build -trimpath -o "$BIN/bundle" ./scripts/e2e/bundle
t_build=$(($(date +%s) - t_start))

[ "${1:-}" = --build ] && exit 0

# ------------------------------------------------------------- cluster
# One cluster at a time: fixed namespace names and registry port.
if pgrep -f 'scripts/e2e\.sh' >/dev/null || ip netns list | grep -q '^eksd-kata-e2e'; then
	die "another e2e cluster is running here (scripts/e2e.sh, or network namespaces eksd-kata-e2e*): wait for it, or scripts/e2e.sh --cleanup"
fi
# From here on the cluster goes with this script, however it ends.
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ "${CONFORMANCE_KEEP:-}" = 1 ]; then
		log "CONFORMANCE_KEEP=1: the cluster stays up; scripts/e2e.sh --cleanup stops it"
	else
		./scripts/e2e.sh --cleanup >/dev/null 2>&1 || true
		rm -f "$C/run/kubeconfig"
	fi
	exit "$rc"
}
trap cleanup EXIT INT TERM

log "cluster: scripts/e2e.sh with E2E_KEEP=1 E2E_KEEP_WORKER=1 (log: $LOGS/conformance-cluster.log)"
t0=$(date +%s)
e2e_rc=0
E2E_KEEP=1 E2E_KEEP_WORKER=1 ./scripts/e2e.sh >"$LOGS/conformance-cluster.log" 2>&1 || e2e_rc=$?
t_cluster=$(($(date +%s) - t0))
grep -E '^FAIL ' "$LOGS/conformance-cluster.log" | sed 's/^/  e2e.sh: /' || true
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$LOGS/conformance-cluster.log" | tail -1 || true)
log "cluster up in ${t_cluster}s (e2e.sh exit $e2e_rc: ${summary:-no summary})"

node_pid=$(cat "$E2E/node.pid" 2>/dev/null || true)
{ [ -n "$node_pid" ] && [ -e "$E2E/node2.pid" ]; } || die "no two-node cluster left running (see $LOGS/conformance-cluster.log)"
in_node() {
	nsenter -t "$node_pid" -m -u -i -n -p -C -r -w \
		/usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"
}
# The tests run from the registry's namespace, which reaches the API server
# at the first node's address (in its certificate) but resolves no names.
run=$C/run
rm -rf "$run"
mkdir -p "$run/report"
node_addr=$(ip -n "${NETNS[0]}" -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)
in_node cat /etc/kubernetes/admin.conf | sed "s#^\([[:space:]]*server: https://\)[^:/]*#\1$node_addr#" >"$run/kubeconfig"
chmod 0600 "$run/kubeconfig"
kubectl=${E2E_BIN_DIR:-$E2E/bin}/kubectl
[ -x "$kubectl" ] || die "no kubectl at $kubectl"
k() { nsenter --net="/run/netns/$GWNS" "$kubectl" --kubeconfig "$run/kubeconfig" "$@"; }
k wait node --all --for=condition=Ready --timeout=180s >/dev/null || die "nodes not Ready: $(k get nodes --no-headers 2>&1 | tr '\n' ';')"

# Pod routes between the nodes, as a CNI's (scripts/e2e/pod-routes.sh).
routes=$(k get nodes -o jsonpath='{range .items[*]}{.status.addresses[?(@.type=="InternalIP")].address} {.spec.podCIDR}{"\n"}{end}' |
	./scripts/e2e/pod-routes.sh "${NETNS[@]}")
log "pod routes: $(tr '\n' ';' <<<"$routes")"

# -------------------------------------------------------------- images
# Every registry e2e.test names that these images stand in for, in the
# bundle's registry; the rest stay upstream's (unreachable: tests that use
# them fail to pull).
cat >"$run/repo-list.yaml" <<EOF
promoterE2eRegistry: $MIRROR/e2e-test-images
gcRegistry: $MIRROR/k8s
EOF
export KUBE_TEST_REPO_LIST=$run/repo-list.yaml
image_args=()
while read -r ref; do
	path=${ref#"$MIRROR/"}
	[ "$path" != "$ref" ] || continue
	base=${path%:*}
	case ${base##*/} in
	agnhost | busybox | nonewprivs | glibc-dns-testing) image_args+=(-image "$path=${base##*/}") ;;
	pause)
		# The release's own pause image, under the name the tests use.
		pause_src=$(sed -n 's#^ *uri: public\.ecr\.aws/\(.*/pause:.*\)$#\1#p' "$E2E/bundle/release.yaml" | head -1)
		[ -n "$pause_src" ] && image_args+=(-copy "$pause_src=$path")
		;;
	esac
done < <("$BIN/e2e.test" --list-images 2>/dev/null | sort -u)
t0=$(date +%s)
nsenter --net="/run/netns/$GWNS" "$BIN/bundle" testimages -registry "$MIRROR" -debian "$tools_tar" \
	-agnhost "$BIN/agnhost" -porter "$porter" -busybox "$BIN/busybox" -nonewprivs "$BIN/nonewprivs" \
	"${image_args[@]}" >"$LOGS/conformance-images.log" 2>&1 || die "test images: $(tail -3 "$LOGS/conformance-images.log")"
log "test images pushed to $MIRROR in $(($(date +%s) - t0))s: $(awk '{print $1}' "$LOGS/conformance-images.log" | sed "s#^$MIRROR/##" | tr '\n' ' ')"

# --------------------------------------------------------------- tests
e2e_test() {
	nsenter --net="/run/netns/$GWNS" "$BIN/e2e.test" --kubeconfig "$run/kubeconfig" --provider skeleton \
		--kubectl-path "$kubectl" --report-dir "$run/report" --ginkgo.no-color --ginkgo.silence-skips \
		--ginkgo.focus "$FOCUS" --ginkgo.skip "$SKIP" "$@"
}
selected=$(e2e_test --ginkgo.dry-run 2>/dev/null | sed -n 's/^Ran \([0-9]*\) of [0-9]* Specs.*/\1/p' | tail -1)
log "running ${selected:-?} tests, one at a time (log: $LOGS/conformance.log)"
t0=$(date +%s)
test_rc=0
e2e_test --ginkgo.timeout 4h --ginkgo.poll-progress-after 10m >"$LOGS/conformance.log" 2>&1 || test_rc=$?
t_tests=$(($(date +%s) - t0))

counts=$(grep -E '^(SUCCESS|FAIL)! -- [0-9]+ Passed \| [0-9]+ Failed' "$LOGS/conformance.log" | tail -1 || true)
passed=$(sed -n 's/.* \([0-9]*\) Passed.*/\1/p' <<<"$counts")
failed=$(sed -n 's/.* \([0-9]*\) Failed.*/\1/p' <<<"$counts")
[ -n "$counts" ] || die "e2e.test exit $test_rc without a summary: $(tail -5 "$LOGS/conformance.log")"
skipped=$((${selected:-0} - passed - failed))
printf '\n== conformance (e2e.test %s, %s tests selected)\n' "$KUBE_MODULE_VERSION" "${selected:-?}"
# The summary's failure lines: "[FAIL] [sig-…] … [It] name [labels, …]".
sed -n '/^Summarizing [0-9]* Failure/,/^Ran [0-9]/p' "$LOGS/conformance.log" |
	grep -E '^\s*\[(FAIL|TIMEDOUT|PANICKED|INTERRUPTED)\]' | sed -E 's/^\s*/  /; s/ \[It\] / /; s/ \[[^]]*, [^]]*\]$//' || true
printf '%s passed, %s failed, %s skipped; tests %dm%02ds (build %ds, cluster %ds)\n' \
	"$passed" "$failed" "$skipped" $((t_tests / 60)) $((t_tests % 60)) "$t_build" "$t_cluster"
[ "$failed" = 0 ] && [ "$test_rc" = 0 ]
