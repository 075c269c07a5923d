#!/usr/bin/env bash
# Benchmark: eksd-kata's image pull + retag vs the tutorial's sequential
# `ctr images pull` + `ctr images tag` loop vs a fetch-all-then-unpack limit,
# 7 EKS-D-named images (~150 MB of random layers) from a loopback registry,
# each side on a fresh containerd: Debian's 1.6 with its ctr, then 2.x
# (built by scripts/test-prereqs.sh) with its own ctr, built here. Each
# result also gives the CPU time of each side and the best ratio the
# machine's CPUs allow. Needs root.
# Usage: scripts/bench/images.sh [RUNS]   (default 3; medians are reported)
set -euo pipefail
cd "$(dirname "$0")/../.."
./scripts/test-prereqs.sh >/dev/null
ctrd_dir=.cache/containerd2/bin
ctrd_ver=$(cat "$ctrd_dir/.version")
if [ ! -x "$ctrd_dir/ctr" ] || [ "$ctrd_dir/containerd" -nt "$ctrd_dir/ctr" ]; then
	GOBIN=$PWD/$ctrd_dir GOFLAGS=-buildvcs=false go install \
		"github.com/containerd/containerd/v2/cmd/ctr@$ctrd_ver"
fi
# The layers are random: gzip saves nothing on them, and an igzip or unpigz
# process per layer only adds work. Every side gunzips in containerd's own
# process, whatever this machine has installed.
export CONTAINERD_DISABLE_IGZIP=1 CONTAINERD_DISABLE_PIGZ=1
for daemon in 1.6 2; do
	EKSD_KATA_BENCH=1 EKSD_KATA_BENCH_DAEMON=$daemon EKSD_KATA_BENCH_RUNS="${1:-3}" \
		go test -count=1 -run TestBenchImages -v -timeout 30m ./scripts/bench/imagesbench
done
