# shellcheck shell=bash disable=SC2154 # the variables are scripts/e2e.sh's
# The upgrade stage of scripts/e2e.sh (E2E_UPGRADE_TO="REL ..."; make
# e2e-upgrade), sourced once the first node's checks are done: its helpers
# (in_node, kubectl, pass, fail, say, now, secs) and variables are e2e.sh's.
#
# With a second node joined as a worker (not E2E_ONE_NODE=1), each
# upgrade of the control plane (--skip-drain, to keep its pods) is followed
# by the worker's (upgrade_worker).
#
# The node, bootstrapped at $RELEASE, runs two pods: e2e-runc (pause),
# started by the checks before, and e2e-upgrade-probe (busybox), started
# here. Then `eksd-kata upgrade` moves it to each release of $UPGRADE_TO in
# turn (upgrade_to FROM TO), from the bundle the node carries in
# /opt/e2e/upgrade/TO (its manifest and files; the registry serves its
# images), first as a dry run that must change nothing. After each: the API server, controller manager, scheduler, etcd, kube-proxy and
# CoreDNS run the new release's images and say its version; the kubelet
# reports it; the node is Ready; containerd's sandbox image is the new
# pause; both pods run on, the same pods, with no container restarted, and
# an exec still works; a second upgrade changes nothing; status reports the
# new release with no drift. Then `upgrade --rollback` puts the previous
# release's binaries back. The reset at the end of e2e.sh then checks that
# the node is taken back to its image.

# upgrade_to FROM TO: the node, at release FROM, upgraded to TO.
upgrade_to() {
	local from=$1 to=$2
	local up_bundle=${upgrade_bundles[$to]} up_dir=/opt/e2e/upgrade/$to
	say "eksd-kata upgrade: $from to $to"
	local up_args=(upgrade --release "$to" --release-manifest "$up_dir/release.yaml" --artifacts-dir "$up_dir/artifacts")
	# With a worker there the drain would evict the pods checked below:
	# the control plane keeps them (--skip-drain); the worker is drained.
	[ -z "${node2_pid:-}" ] || up_args+=(--skip-drain)
	# tag_of NAME: the tag of image NAME in the target release's manifest.
	tag_of() { sed -n "s#^ *uri: public\.ecr\.aws/.*/$1:\(.*\)\$#\1#p" "$up_bundle/release.yaml" | head -1; }
	want_kube=$(tag_of kube-apiserver)
	want_etcd=$(tag_of etcd)
	want_dns=$(tag_of coredns)
	if [ -z "$want_kube" ] || [ -z "$want_etcd" ] || [ -z "$want_dns" ]; then
		die "no kube-apiserver, etcd or coredns image in $up_bundle/release.yaml"
	fi

	# A busybox pod beside e2e-runc on the first node (where no drain
	# reaches it), to exec into after the upgrade.
	kubectl apply -f - >/dev/null <<EOF || true
apiVersion: v1
kind: Pod
metadata: {name: e2e-upgrade-probe, namespace: default}
spec:
  nodeName: $NODE_NAME
  containers: [{name: sh, image: "$MIRROR/${VERIFY_IMAGE#public.ecr.aws/}", command: [sleep, "100000"]}]
  tolerations: [{operator: Exists}]
EOF
	kubectl wait pod e2e-upgrade-probe --for=condition=Ready --timeout=120s >/dev/null 2>&1 || true
	# pods_state: each pod's UID, phase, its container's ID and restarts.
	pods_state() {
		kubectl get pod e2e-runc e2e-upgrade-probe -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.uid} {.status.phase} {.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount}{"\n"}{end}' 2>&1 || true
	}
	pods_before=$(pods_state)
	# shellcheck disable=SC2016 # the node's shell expands it
	kubelet_sum() { in_node sh -c 'sha256sum "$(command -v kubelet)"' 2>&1 | cut -c1-64 || true; }
	kubelet_before=$(kubelet_sum)

	# The plan: every phase, nothing changed.
	set +e
	in_node eksd-kata "${up_args[@]}" --dry-run >"$LOGS/upgrade-dry-run-$to.log" 2>&1
	urc=$?
	set -e
	sv=$(kubectl version -o json 2>/dev/null | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | tail -1 || true)
	if [ "$urc" = 0 ] && grep -q "^upgrade: .* to kubernetes-${to%-*}-eks-${to##*-} .*kubeadm upgrade apply" "$LOGS/upgrade-dry-run-$to.log" &&
		grep -q 'change(s) planned' "$LOGS/upgrade-dry-run-$to.log" && [ "$(kubelet_sum)" = "$kubelet_before" ] && [ "$sv" != "$want_kube" ]; then
		pass "upgrade --dry-run plans the upgrade to $to (kubeadm upgrade apply) and changes nothing (kubelet, API server still $sv)"
	else
		fail "upgrade --dry-run exit $urc: $(grep -m3 -E '^upgrade:|^error' "$LOGS/upgrade-dry-run-$to.log" | tr '\n' ' ' | cut -c1-400)"
	fi

	t0=$(now)
	set +e
	in_node eksd-kata "${up_args[@]}" >"$LOGS/upgrade-$to.log" 2>&1
	urc=$?
	set -e
	t_upgrade=$(secs "$t0" "$(now)")
	# kubeadm's own output, which reset removes with /var/log/eksd-kata.
	in_node sh -c 'cat /var/log/eksd-kata/kubeadm-upgrade-*.log' >"$LOGS/kubeadm-upgrade-$to.log" 2>&1 || true
	sed 's/^/  /' "$LOGS/upgrade-$to.log" | grep -E '^\s+(\[[0-9]+/[0-9]+\]|upgrade:|error)' | cut -c1-200
	t_kubeadm_upgrade=$(sed -n 's/^kubeadm upgrade .* took \([0-9.hms]*\)$/\1/p' "$LOGS/upgrade-$to.log" | head -1)
	if [ "$urc" = 0 ]; then
		pass "upgrade $from to $to: exit 0 in ${t_upgrade}s$([ -n "$t_kubeadm_upgrade" ] && echo " (kubeadm upgrade apply ${t_kubeadm_upgrade})")"
	else
		fail "upgrade exit $urc after ${t_upgrade}s: $(grep -m3 -E '^error|problem' "$LOGS/upgrade-$to.log" | tr '\n' ' ' | cut -c1-500)"
		kubelet_diagnosis
	fi

	# The node, and what each component says it is.
	ready=no
	kubectl wait node "$NODE_NAME" --for=condition=Ready --timeout=180s >/dev/null 2>&1 && ready=yes
	kubelet_v=$(kubectl get node "$NODE_NAME" -o jsonpath='{.status.nodeInfo.kubeletVersion}' 2>&1 || true)
	sv=$(kubectl version -o json 2>/dev/null | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | tail -1 || true)
	if [ "$ready" = yes ] && [ "$kubelet_v" = "$want_kube" ] && [ "$sv" = "$want_kube" ]; then
		pass "node Ready; the kubelet and the API server report $want_kube"
	else
		fail "after the upgrade: node Ready: $ready, kubelet '$kubelet_v', API server '$sv' (want $want_kube)"
	fi
	# static POD BINARY TAG WANT: the static pod POD-<node> runs image tag
	# TAG, is Ready, and its BINARY --version says WANT, within 2 minutes:
	# the new kubelet may restart the control plane's pods once more (its
	# defaults differ), and the API server answers again after a while.
	static() {
		local pod=$1-$NODE_NAME bin=$2 tag=$3 want=$4 image ready said
		for _ in $(seq 1 120); do
			image=$(kubectl -n kube-system get pod "$pod" -o jsonpath='{.spec.containers[0].image}' 2>&1 || true)
			ready=$(kubectl -n kube-system get pod "$pod" -o jsonpath='{.status.containerStatuses[0].ready}' 2>&1 || true)
			said=$(kubectl -n kube-system exec "$pod" -- "$bin" --version 2>&1 | head -1 || true)
			[[ $image == *":$tag" ]] && [ "$ready" = true ] && [[ $said == *"$want"* ]] && break
			sleep 1
		done
		if [[ $image == *":$tag" ]] && [ "$ready" = true ] && [[ $said == *"$want"* ]]; then
			pass "$1 runs ${image##*/} and says '$said'"
		else
			fail "$1: image '$image' (want tag $tag), ready '$ready', --version '${said:0:120}' (want $want)"
		fi
	}
	static kube-apiserver /usr/local/bin/kube-apiserver "$want_kube" "$want_kube"
	static kube-controller-manager /usr/local/bin/kube-controller-manager "$want_kube" "$want_kube"
	static kube-scheduler /usr/local/bin/kube-scheduler "$want_kube" "$want_kube"
	etcd_v=${want_etcd#v}
	static etcd /usr/local/bin/etcd "$want_etcd" "etcd Version: ${etcd_v%%-*}"
	# The add-ons kubeadm upgrade apply updates: kube-proxy and CoreDNS.
	kubectl -n kube-system rollout status daemonset/kube-proxy --timeout=180s >/dev/null 2>&1 || true
	kubectl -n kube-system rollout status deployment/coredns --timeout=180s >/dev/null 2>&1 || true
	kp_pod=$(kubectl -n kube-system get pod -l k8s-app=kube-proxy -o jsonpath='{.items[0].metadata.name}' 2>/dev/null || true)
	kp_image=$(kubectl -n kube-system get pod "$kp_pod" -o jsonpath='{.spec.containers[0].image} {.status.containerStatuses[0].ready}' 2>&1 || true)
	kp_said=$(kubectl -n kube-system exec "$kp_pod" -- /usr/local/bin/kube-proxy --version 2>&1 | head -1 || true)
	if [[ $kp_image == *":$want_kube true" ]] && [[ $kp_said == *"$want_kube"* ]]; then
		pass "kube-proxy runs ${kp_image%% *} (Ready) and says '$kp_said'"
	else
		fail "kube-proxy: pod $kp_pod '$kp_image' (want tag $want_kube, Ready), --version '${kp_said:0:120}'"
	fi
	# The Deployment's rollout: until no pod of the old image is left.
	for _ in $(seq 1 120); do
		dns=$(kubectl -n kube-system get pod -l k8s-app=kube-dns -o jsonpath='{range .items[*]}{.spec.containers[0].image} {.status.containerStatuses[0].ready}{"\n"}{end}' 2>&1 || true)
		[ -n "$dns" ] && ! grep -qv ":$want_dns true\$" <<<"$dns" && break
		sleep 1
	done
	if [ -n "$dns" ] && ! grep -qv ":$want_dns true\$" <<<"$dns"; then
		pass "CoreDNS: $(wc -l <<<"$dns") pod(s) Ready on ${dns%% *}"
	else
		fail "CoreDNS pods: $(tr '\n' ';' <<<"$dns" | cut -c1-300) (want tag $want_dns, Ready)"
	fi
	# The sandbox image: the new release's pause, which its kubeadm names.
	kpause=$(in_node kubeadm config images list --config /etc/eksd-kata/kubeadm.yaml 2>/dev/null | grep '/pause:' || true)
	csandbox=$(in_node containerd config dump 2>/dev/null | sed -n "s/^[[:space:]]*sandbox\(_image\)\{0,1\} = [\"']\(.*\)[\"']\$/\2/p" | head -1)
	kadm_v=$(in_node kubeadm version -o short 2>&1 || true)
	if [ -n "$kpause" ] && [ "$csandbox" = "$kpause" ] && [ "$kadm_v" = "$want_kube" ]; then
		pass "kubeadm is $kadm_v; containerd's sandbox image is its pause, $csandbox"
	else
		fail "kubeadm '$kadm_v' (want $want_kube); containerd's sandbox image '$csandbox', kubeadm's pause '$kpause'"
	fi

	# The pods started before: the same pods, never restarted, still
	# Running; an exec reaches the busybox one.
	kubectl wait pod e2e-runc e2e-upgrade-probe --for=condition=Ready --timeout=120s >/dev/null 2>&1 || true
	pods_after=$(pods_state)
	said=$(kubectl exec e2e-upgrade-probe -- echo alive 2>&1 || true)
	if [ "$pods_after" = "$pods_before" ] && [ "$(grep -c ' Running containerd://[0-9a-f]* 0$' <<<"$pods_after")" = 2 ] && [ "$said" = alive ]; then
		pass "the pods started before the upgrade (runc) run on: same pods and containers, no restart, an exec answers"
	else
		fail "pods before the upgrade: '$(tr '\n' ';' <<<"$pods_before")' after: '$(tr '\n' ';' <<<"$pods_after")'; exec: '${said:0:100}'"
	fi

	# Once done, the same command changes nothing; status sees the new release.
	set +e
	in_node eksd-kata "${up_args[@]}" >"$LOGS/upgrade-2-$to.log" 2>&1
	urc=$?
	set -e
	if [ "$urc" = 0 ] && grep -q '^upgrade: 0 change(s) applied' "$LOGS/upgrade-2-$to.log"; then
		pass "a second upgrade to $to changes nothing"
	else
		fail "second upgrade exit $urc: $(grep -E 'change\(s\)|^error' "$LOGS/upgrade-2-$to.log" | grep -v ' 0 change' | head -4 | tr '\n' ' ' | cut -c1-400)"
	fi
	set +e
	in_node eksd-kata status -o json >"$LOGS/status-$to.json" 2>"$LOGS/status-$to.err"
	src=$?
	set -e
	st_release=$(sed -n 's/^    "name": "\(kubernetes-[^"]*\)",$/\1/p' "$LOGS/status-$to.json" | head -1)
	st_from=$(sed -n 's/^    "upgradedFrom": "\([^"]*\)"$/\1/p' "$LOGS/status-$to.json" | head -1)
	st_changes=$(sed -n 's/^    "changes": \([0-9]*\),$/\1/p' "$LOGS/status-$to.json" | head -1)
	# Its problems: on this machine Kata's, which no node here can run.
	st_problems=$(sed -n '/^  "problems": \[/,/^  \]/{s/^    "\(.*\)",\{0,1\}$/\1/p}' "$LOGS/status-$to.json")
	not_kata=$(grep -v ' left to you (kata [0-9]*)$' <<<"$st_problems" || true)
	if [ "$st_release" = "kubernetes-${to%-*}-eks-${to##*-}" ] && [ "$st_from" = "kubernetes-${from%-*}-eks-${from##*-}" ] &&
		[ "$st_changes" = 0 ] && [ -z "$not_kata" ] && { [ "$src" = 0 ] || { [ "$src" = 1 ] && [ -n "$st_problems" ]; }; }; then
		pass "status: release $st_release, upgraded from $st_from, no drift (exit $src: ${st_problems:-no problems})"
	else
		fail "status exit $src: release '$st_release' from '$st_from', drift changes '$st_changes', problems '$(tr '\n' ';' <<<"$st_problems")' ($LOGS/status-$to.json; $(head -c 200 "$LOGS/status-$to.err"))"
	fi
	[ -z "${node2_pid:-}" ] || upgrade_worker "$from" "$to"
}

# upgrade_worker FROM TO: the worker, at FROM, upgraded to TO after the
# control plane: kubeadm upgrade node, and a drain that moves a
# Deployment's pod, which runs again on the worker once it is uncordoned.
upgrade_worker() {
	local from=$1 to=$2 up_dir=/opt/e2e/upgrade/$2 wrc t0 took before after unsched kv ready
	local args=(upgrade --release "$to" --release-manifest "$up_dir/release.yaml" --artifacts-dir "$up_dir/artifacts")
	say "eksd-kata upgrade on the worker $NODE2_NAME: $from to $to"
	kubectl apply -f - >/dev/null <<EOF || true
apiVersion: apps/v1
kind: Deployment
metadata: {name: e2e-upgrade-app, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: e2e-upgrade-app}}
  template:
    metadata: {labels: {app: e2e-upgrade-app}}
    spec:
      nodeSelector: {kubernetes.io/hostname: $NODE2_NAME}
      terminationGracePeriodSeconds: 0
      containers: [{name: sh, image: "$MIRROR/${VERIFY_IMAGE#public.ecr.aws/}", command: [sleep, "100000"]}]
EOF
	# app_pod: the Deployment's Ready pods, as UID and node.
	app_pod() {
		kubectl get pod -l app=e2e-upgrade-app -o jsonpath='{range .items[*]}{.metadata.uid} {.spec.nodeName} {.status.containerStatuses[0].ready}{"\n"}{end}' 2>&1 | grep ' true$' || true
	}
	kubectl rollout status deployment/e2e-upgrade-app --timeout=120s >/dev/null 2>&1 || true
	before=$(app_pod)
	t0=$(now)
	set +e
	in_node2 eksd-kata "${args[@]}" >"$LOGS/upgrade-worker-$to.log" 2>&1
	wrc=$?
	set -e
	took=$(secs "$t0" "$(now)")
	sed 's/^/  /' "$LOGS/upgrade-worker-$to.log" | grep -E '^\s+(\[[0-9]+/[0-9]+\]|upgrade:|error)' | cut -c1-200
	if [ "$wrc" = 0 ] && grep -q "^upgrade: .*(kubeadm upgrade node)" "$LOGS/upgrade-worker-$to.log" &&
		grep -q "^  + cordon node $NODE2_NAME" "$LOGS/upgrade-worker-$to.log" && grep -q "^  + uncordon node $NODE2_NAME" "$LOGS/upgrade-worker-$to.log"; then
		pass "worker upgrade $from to $to: exit 0 in ${took}s (kubeadm upgrade node; cordoned, drained, uncordoned)"
	else
		fail "worker upgrade exit $wrc after ${took}s: $(grep -m3 -E '^upgrade:|^error|cordon' "$LOGS/upgrade-worker-$to.log" | tr '\n' ' ' | cut -c1-500)"
	fi
	ready=no
	kubectl wait node "$NODE2_NAME" --for=condition=Ready --timeout=180s >/dev/null 2>&1 && ready=yes
	kv=$(kubectl get node "$NODE2_NAME" -o jsonpath='{.status.nodeInfo.kubeletVersion}' 2>&1 || true)
	unsched=$(kubectl get node "$NODE2_NAME" -o jsonpath='{.spec.unschedulable}' 2>&1 || true)
	for _ in $(seq 1 120); do
		after=$(app_pod)
		[ -n "$after" ] && [ "$after" != "$before" ] && break
		sleep 1
	done
	if [ "$ready" = yes ] && [ "$kv" = "$want_kube" ] && [ -z "$unsched" ] && [ -n "$before" ] &&
		[ "${after#* }" = "$NODE2_NAME true" ] && [ "${after%% *}" != "${before%% *}" ]; then
		pass "$NODE2_NAME Ready and schedulable, its kubelet $kv; the Deployment's pod the drain evicted runs again there (a new pod)"
	else
		fail "$NODE2_NAME: Ready $ready, kubelet '$kv' (want $want_kube), unschedulable '$unsched'; the Deployment's pod before '$before', after '$after'"
	fi
	set +e
	in_node2 eksd-kata "${args[@]}" >"$LOGS/upgrade-worker-2-$to.log" 2>&1
	wrc=$?
	set -e
	if [ "$wrc" = 0 ] && grep -q '^upgrade: 0 change(s) applied' "$LOGS/upgrade-worker-2-$to.log"; then
		pass "a second upgrade of the worker to $to changes nothing"
	else
		fail "second worker upgrade exit $wrc: $(grep -E 'change\(s\)|^error' "$LOGS/upgrade-worker-2-$to.log" | grep -v ' 0 change' | head -4 | tr '\n' ' ' | cut -c1-400)"
	fi
}

# rollback_to REL: `eksd-kata upgrade --rollback` after the upgrade from
# REL puts REL's kubeadm, kubelet and kubectl back (the control plane stays
# the newer release's, which a kubelet one release older may run under):
# the kubelet restarted reports REL's version, the node is Ready, the pods
# run on, and status reports REL.
rollback_to() {
	local rel=$1 manifest=$bundle/release.yaml want said
	[ "$rel" = "$RELEASE" ] || manifest=${upgrade_bundles[$rel]}/release.yaml
	want=$(sed -n 's#^ *uri: public\.ecr\.aws/.*/kube-apiserver:\(.*\)$#\1#p' "$manifest" | head -1)
	say "eksd-kata upgrade --rollback: back to $rel's binaries"
	local before
	before=$(pods_state)
	set +e
	in_node eksd-kata upgrade --rollback >"$LOGS/upgrade-rollback.log" 2>&1
	urc=$?
	in_node eksd-kata status -o json >"$LOGS/status-rollback.json" 2>/dev/null
	set -e
	ready=no
	kubectl wait node "$NODE_NAME" --for=condition=Ready --timeout=180s >/dev/null 2>&1 && ready=yes
	kubelet_v=$(kubectl get node "$NODE_NAME" -o jsonpath='{.status.nodeInfo.kubeletVersion}' 2>&1 || true)
	kadm_v=$(in_node kubeadm version -o short 2>&1 || true)
	st_release=$(sed -n 's/^    "name": "\(kubernetes-[^"]*\)",$/\1/p' "$LOGS/status-rollback.json" | head -1)
	said=$(kubectl exec e2e-upgrade-probe -- echo alive 2>&1 || true)
	if [ "$urc" = 0 ] && [ "$ready" = yes ] && [ "$kubelet_v" = "$want" ] && [ "$kadm_v" = "$want" ] &&
		[ "$st_release" = "kubernetes-${rel%-*}-eks-${rel##*-}" ] && [ "$(pods_state)" = "$before" ] && [ "$said" = alive ]; then
		pass "upgrade --rollback: kubeadm and the kubelet are $want again, node Ready, status says $st_release, the pods run on"
	else
		fail "upgrade --rollback exit $urc: node Ready $ready, kubelet '$kubelet_v', kubeadm '$kadm_v' (want $want), status '$st_release', exec '${said:0:80}' ($(grep -m2 '^error' "$LOGS/upgrade-rollback.log" | tr '\n' ' ' | cut -c1-300))"
	fi
}

if [ "$have_cluster" = 1 ]; then
	up_from=$RELEASE
	for up_to in $UPGRADE_TO; do
		upgrade_to "$up_from" "$up_to"
		up_prev=$up_from up_from=$up_to
	done
	rollback_to "$up_prev"
	kubectl delete pod e2e-upgrade-probe --wait=false >/dev/null 2>&1 || true
	kubectl delete deployment e2e-upgrade-app --wait=false >/dev/null 2>&1 || true
fi
