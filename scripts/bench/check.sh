#!/usr/bin/env bash
# Compare the median wall time of `eksd-kata check` with kubeadm's preflight
# phase (`kubeadm init phase preflight --dry-run`) on this machine, and print
# the ratio. kubeadm is built by scripts/build-kubeadm.sh into .cache/.
# Uses hyperfine when installed, else a plain loop.
#
#   scripts/bench/check.sh [RUNS]
set -euo pipefail

cd "$(dirname "$0")/../.."
runs=${1:-30}
cache=$PWD/.cache/bench
mkdir -p "$cache"

build_eksd_kata() {
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$cache/eksd-kata" ./cmd/eksd-kata
}

build_eksd_kata
# The same kubeadm the tests use (built from the module go.mod requires).
./scripts/build-kubeadm.sh
kubeadm=$PWD/.cache/bin/kubeadm
k8s_version=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)

# A pinned kubernetesVersion keeps kubeadm off the network; every error is
# ignored so that both commands run all their checks to the end; the dry-run
# directory goes to the cache instead of /etc/kubernetes/tmp.
cat >"$cache/kubeadm-preflight.yaml" <<YAML
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
nodeRegistration:
  criSocket: unix:///var/run/containerd/containerd.sock
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: ${k8s_version}
YAML
export KUBEADM_INIT_DRYRUN_DIR=$cache/kubeadm-dryrun
mkdir -p "$KUBEADM_INIT_DRYRUN_DIR"

ours=("$cache/eksd-kata" check)
theirs=("$kubeadm" init phase preflight --dry-run --config "$cache/kubeadm-preflight.yaml" --ignore-preflight-errors=all)

median_loop() {
	local times=() i t0 t1
	for ((i = 0; i < runs; i++)); do
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1 || true
		t1=$(date +%s%N)
		times+=($(((t1 - t0) / 1000)))
	done
	printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f\n", m/1000}'
}

if command -v hyperfine >/dev/null; then
	csv=$cache/check-vs-kubeadm.csv
	hyperfine -N -i -w 3 -r "$runs" --export-csv "$csv" "${ours[*]}" "${theirs[*]}" >&2
	ours_ms=$(awk -F, 'NR==2 {printf "%.1f", $4*1000}' "$csv")
	theirs_ms=$(awk -F, 'NR==3 {printf "%.1f", $4*1000}' "$csv")
else
	"${ours[@]}" >/dev/null 2>&1 || true # warm-up
	"${theirs[@]}" >/dev/null 2>&1 || true
	ours_ms=$(median_loop "${ours[@]}")
	theirs_ms=$(median_loop "${theirs[@]}")
fi

echo "eksd-kata check:                 median ${ours_ms} ms"
echo "kubeadm init phase preflight:    median ${theirs_ms} ms"
awk -v a="$ours_ms" -v b="$theirs_ms" 'BEGIN {printf "ratio check/kubeadm: %.2f (kubeadm takes %.1fx as long)\n", a/b, b/a}'
