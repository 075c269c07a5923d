#!/usr/bin/env bash
# Benchmark: what `eksd-kata bootstrap` adds over `kubeadm init` alone, on
# a real node (scripts/e2e.sh), repeated. Each round boots a fresh node
# whose first-boot unit runs the bootstrap, then times kubeadm init alone
# on the same node after a kubeadm reset (its binaries and images in place:
# nothing of eksd-kata's beside it). The figure of a round is the
# bootstrap's wall time from its launch to the end of its add-ons, less
# kubeadm init alone, over kubeadm init alone. One round moves by ten points
# with the control plane's start, which both sides share, so the medians of
# several rounds are reported. Needs root and the e2e cache (built by the
# first run: about 35 min cold). Logs: .cache/e2e/bench/round-N.log.
# Usage: scripts/bench/e2e-init.sh [ROUNDS]   (default 7)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-7}
case $rounds in '' | *[!0-9]* | 0) echo "usage: $0 [ROUNDS] (a positive number)" >&2; exit 2 ;; esac
out=.cache/e2e/bench
mkdir -p "$out"
make -s build
rows=()
for i in $(seq 1 "$rounds"); do
	log=$out/round-$i.log
	if ! E2E_TIMING=1 E2E_ONE_NODE=1 ./scripts/e2e.sh >"$log" 2>&1; then
		echo "round $i failed: $(grep -m3 '^FAIL' "$log" | cut -c1-300) (log: $log)" >&2
		exit 1
	fi
	line=$(grep '^timing ' "$log" | tail -1)
	[ -n "$line" ] || { echo "round $i printed no timing line (log: $log)" >&2; exit 1; }
	rows+=("$line")
	printf 'round %d/%d: %s\n' "$i" "$rounds" "${line#timing }"
done
printf '%s\n' "${rows[@]}" | awk -v goal=20 '
	function median(a, n,   i, j, t) {
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
		return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
	}
	{
		for (f = 2; f <= NF; f++) { split($f, kv, "="); v[kv[1]] = kv[2] }
		n++; wall[n] = v["wall"]; alone[n] = v["alone"]
		tk[n] = v["to_kubelet"]; af[n] = v["after"]; atk[n] = v["alone_to_kubelet"]; aaf[n] = v["alone_after"]
		pct[n] = 100 * (v["wall"] - v["alone"]) / v["alone"]
		if (pct[n] < goal) under++
		if (v["stall"] != "") { stalls++; which = which " " n "(" v["stall"] ")" }
		list = list sprintf(" %.1f", pct[n])
	}
	END {
		printf "\neksd-kata bootstrap vs kubeadm init alone, %d rounds (goal: adds < %d%%)\n", n, goal
		printf "  per round, %%:%s\n", list
		printf "  rounds under %d%%: %d of %d\n", goal, under + 0, n
		printf "  cgroup v1 stalls (kubernetes#103542): %d%s\n", stalls + 0, stalls ? " in round" which : ""
		mw = median(wall, n); ma = median(alone, n)
		printf "  median bootstrap (launch to the end of add-ons) %.3fs, median kubeadm init alone %.3fs\n", mw, ma
		printf "  ratio of the medians %.3f: adds %.1f%%\n", mw / ma, 100 * (mw - ma) / ma
		printf "  median of the rounds: adds %.1f%%\n", median(pct, n)
		# Where it goes: before the kubelet starts (the bootstrap from its
		# launch, kubeadm init alone from its start) and after.
		printf "  medians to the kubelet start / after it: %.2fs / %.2fs in the bootstrap, %.2fs / %.2fs alone\n", \
			median(tk, n), median(af, n), median(atk, n), median(aaf, n)
	}'
