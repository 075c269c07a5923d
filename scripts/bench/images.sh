#!/bin/sh
# Benchmark: eksd-kata's image pull + retag vs the tutorial's sequential
# `ctr images pull` + `ctr images tag` loop vs a fetch-all-then-unpack limit,
# 7 EKS-D-named images (~150 MB of random layers) from a loopback registry,
# each side on a fresh Debian containerd 1.6. Needs root.
# Usage: scripts/bench/images.sh [RUNS]   (default 3; medians are reported)
set -eu
cd "$(dirname "$0")/../.."
EKSD_KATA_BENCH=1 EKSD_KATA_BENCH_RUNS="${1:-3}" \
	go test -count=1 -run TestBenchImages -v -timeout 30m ./scripts/bench/imagesbench
