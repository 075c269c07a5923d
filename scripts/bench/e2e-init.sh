#!/usr/bin/env bash
# Benchmark: what `eksd-kata bootstrap` adds over `kubeadm init` alone, on
# a real node (scripts/e2e.sh), repeated. Each round boots a fresh node
# whose first-boot unit runs the bootstrap, then times kubeadm init alone
# on the same node after a kubeadm reset (its binaries and images in place:
# nothing of eksd-kata's beside it). The figure of a round is the
# bootstrap's wall time from its launch to the end of its add-ons, less
# kubeadm init alone, over kubeadm init alone. One round moves by ten points
# with the control plane's start, which both sides share, so the medians of
# several rounds are reported.
#
# With a git revision as BASE, its eksd-kata is built too and the rounds
# alternate between it and this checkout's (which goes first alternates as
# well), so that both are measured in the same run.
#
# Needs root and the e2e cache (built by the first run: about 35 min cold).
# Logs: .cache/e2e/bench/round-N[-base].log, and .journal: the node's
# journal of the first boot.
# Usage: scripts/bench/e2e-init.sh [ROUNDS [BASE]]   (default 7 rounds)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-7}
base=${2:-}
case $rounds in '' | *[!0-9]* | 0)
	echo "usage: $0 [ROUNDS [BASE]]: ROUNDS a positive number, BASE a git revision" >&2
	exit 2
	;;
esac
out=$PWD/.cache/e2e/bench
mkdir -p "$out"
make -s build
if [ -n "$base" ]; then
	rev=$(git rev-parse --verify --quiet "$base^{commit}") || {
		echo "BASE $base: not a git revision here" >&2
		exit 2
	}
	rm -rf "$out/base-src"
	mkdir -p "$out/base-src"
	git archive "$rev" | tar -x -C "$out/base-src"
	(cd "$out/base-src" && CGO_ENABLED=0 go build -buildvcs=false -trimpath -o "$out/eksd-kata-base" ./cmd/eksd-kata)
	echo "base: $base ($(git log -1 --format='%h %s' "$rev" | cut -c1-80))"
fi

rows=()
# round I SIDE BINARY: one e2e timing run; its line goes to rows.
round() {
	local i=$1 side=$2 bin=$3 log line
	log=$out/round-$i${side:+-$side}.log
	[ "$side" = base ] || side=this
	if ! E2E_TIMING=1 E2E_ONE_NODE=1 E2E_EKSD_KATA=$bin ./scripts/e2e.sh >"$log" 2>&1; then
		echo "round $i ($side) failed: $(grep -m3 '^FAIL' "$log" | cut -c1-300) (log: $log)" >&2
		exit 1
	fi
	# The node's journal of the first boot, for a round to be looked into.
	cp .cache/e2e/logs/first-boot-timed.log "${log%.log}.journal" 2>/dev/null || true
	line=$(grep '^timing ' "$log" | tail -1)
	[ -n "$line" ] || { echo "round $i ($side) printed no timing line (log: $log)" >&2; exit 1; }
	rows+=("side=$side ${line#timing }")
	printf 'round %d/%d %s: %s\n' "$i" "$rounds" "$side" "${line#timing }"
}
for i in $(seq 1 "$rounds"); do
	if [ -z "$base" ]; then
		round "$i" "" bin/eksd-kata
	elif [ $((i % 2)) = 1 ]; then
		round "$i" base "$out/eksd-kata-base"
		round "$i" "" bin/eksd-kata
	else
		round "$i" "" bin/eksd-kata
		round "$i" base "$out/eksd-kata-base"
	fi
done

printf '%s\n' "${rows[@]}" | awk -v goal=20 '
	function median(a, n,   i, j, t) {
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
		return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
	}
	function med(side, key,   i, k, a) {
		k = 0
		for (i = 1; i <= n; i++) if (row[i, "side"] == side) a[++k] = row[i, key]
		return median(a, k)
	}
	{
		n++
		for (f = 1; f <= NF; f++) { split($f, kv, "="); row[n, kv[1]] = kv[2] }
		row[n, "pct"] = 100 * (row[n, "wall"] - row[n, "alone"]) / row[n, "alone"]
		s = row[n, "side"]; if (!(s in count)) order[++sides] = s
		count[s]++
		if (row[n, "pct"] < goal) under[s]++
		if (row[n, "stall"] != "") stalls[s] = stalls[s] " " count[s] "(" row[n, "stall"] ")"
		list[s] = list[s] sprintf(" %.1f", row[n, "pct"])
	}
	END {
		for (k = 1; k <= sides; k++) {
			s = order[k]
			printf "\n%s: eksd-kata bootstrap vs kubeadm init alone, %d rounds (goal: adds < %d%%)\n", \
				s == "base" ? "base" : "this checkout", count[s], goal
			printf "  per round, %%:%s\n", list[s]
			printf "  rounds under %d%%: %d of %d\n", goal, under[s] + 0, count[s]
			printf "  cgroup v1 stalls (kubernetes#103542) in round:%s\n", stalls[s] == "" ? " none" : stalls[s]
			mw = med(s, "wall"); ma = med(s, "alone")
			printf "  median bootstrap (launch to the end of add-ons) %.3fs, median kubeadm init alone %.3fs\n", mw, ma
			printf "  ratio of the medians %.3f: adds %.1f%%\n", mw / ma, 100 * (mw - ma) / ma
			printf "  median of the rounds: adds %.1f%%\n", med(s, "pct")
			# Where it goes: before the kubelet starts (the bootstrap from its
			# launch, kubeadm init alone from its start) and after.
			printf "  medians to the kubelet start / after it: %.2fs / %.2fs in the bootstrap, %.2fs / %.2fs alone\n", \
				med(s, "to_kubelet"), med(s, "after"), med(s, "alone_to_kubelet"), med(s, "alone_after")
		}
		if (sides == 2)
			printf "\nthis checkout against base, medians: launch to the kubelet start %+.2fs, bootstrap %+.2fs, figure %+.1f points\n", \
				med("this", "to_kubelet") - med("base", "to_kubelet"), med("this", "wall") - med("base", "wall"), \
				med("this", "pct") - med("base", "pct")
	}'
