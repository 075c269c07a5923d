package kubeadm

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
	"github.com/eksd-kata/eksd-kata/pkg/kube"
	"github.com/eksd-kata/eksd-kata/pkg/kube/kubetest"
	"github.com/eksd-kata/eksd-kata/pkg/release/releasetest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubeadmutil "k8s.io/kubernetes/cmd/kubeadm/app/util"
	"sigs.k8s.io/yaml"
)

func lookup(t *testing.T, channel string) *eksd.Release {
	t.Helper()
	r, err := eksd.Lookup(channel, 0)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// clusterDoc is the ClusterConfiguration kubeadm init uploads for r: the
// document of our rendered init config.
func clusterDoc(t *testing.T, r *eksd.Release) []byte {
	t.Helper()
	data, err := RenderInit(testConfig(), r)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := kubeadmutil.SplitConfigDocuments(data)
	if err != nil {
		t.Fatal(err)
	}
	for gvk, d := range docs {
		if gvk.Kind == "ClusterConfiguration" {
			return d
		}
	}
	t.Fatal("no ClusterConfiguration rendered")
	return nil
}

// kubeadmValidates runs the real kubeadm's config validate on doc.
func kubeadmValidates(t *testing.T, doc []byte) {
	t.Helper()
	bin := kubeadmBinary(t)
	p := filepath.Join(t.TempDir(), "doc.yaml")
	if err := os.WriteFile(p, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "config", "validate", "--config", p).CombinedOutput(); err != nil {
		t.Fatalf("kubeadm config validate: %v\n%s\n%s", err, out, doc)
	}
}

// TestRenderUpgrade: the UpgradeConfiguration names the release's version
// (allowed, though a pre-release to kubeadm), never pulls and leaves
// kubeadm's CoreDNS upgrade out; on a node allowed cgroup v1 it ignores the
// preflight error kubeadm init was told to ignore (kubeadm 1.35+ fails its
// SystemVerification there); the real kubeadm validates it. kubeadm 1.30
// has none.
func TestRenderUpgrade(t *testing.T) {
	r := lookup(t, "1-36")
	type rendered struct {
		APIVersion, Kind string
		Apply            struct {
			KubernetesVersion, ImagePullPolicy string
			IgnorePreflightErrors, SkipPhases  []string
			AllowExperimentalUpgrades          bool
		}
		Node struct {
			ImagePullPolicy                   string
			IgnorePreflightErrors, SkipPhases []string
		}
	}
	for _, cgroupV1 := range []bool{false, true} {
		cfg := &config.NodeConfig{}
		cfg.Spec.Node.AllowCgroupV1 = cgroupV1
		doc, err := RenderUpgrade(r, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var got rendered
		if err := yaml.Unmarshal(doc, &got); err != nil {
			t.Fatal(err)
		}
		var ignore []string
		if cgroupV1 {
			ignore = []string{"SystemVerification"}
		}
		// kubeadm's CoreDNS upgrade is left out, and its CoreDNS checks,
		// which fail on EKS-D's image tags, ignored, as is its health
		// check Job of pause under a tag EKS-D does not publish.
		applyIgnore := append(slices.Clone(ignore), "CoreDNSUnsupportedPlugins", "CoreDNSMigration", "CreateJob")
		skip := []string{"addon/coredns"}
		if got.APIVersion != "kubeadm.k8s.io/v1beta4" || got.Kind != "UpgradeConfiguration" || got.Apply.KubernetesVersion != "v1.36.2-eks-1-36-7" ||
			got.Apply.ImagePullPolicy != "Never" || got.Node.ImagePullPolicy != "Never" ||
			!slices.Equal(got.Apply.IgnorePreflightErrors, applyIgnore) || !slices.Equal(got.Node.IgnorePreflightErrors, ignore) ||
			!slices.Equal(got.Apply.SkipPhases, skip) || !slices.Equal(got.Node.SkipPhases, skip) || !got.Apply.AllowExperimentalUpgrades {
			t.Fatalf("allowCgroupV1 %v, rendered:\n%s", cgroupV1, doc)
		}
		kubeadmValidates(t, doc)
	}

	if doc, err := RenderUpgrade(lookup(t, "1-30"), nil); doc != nil || err != nil {
		t.Fatalf("1-30: %s, %v", doc, err)
	}
	s := &UpgradeStep{Release: lookup(t, "1-30"), Apply: true}
	if argv, _ := s.Argv("kubeadm"); !slices.Equal(argv, []string{"kubeadm", "upgrade", "apply", "v1.30.14-eks-1-30-59", "--yes"}) {
		t.Fatalf("1-30 argv %q", argv)
	}
}

// TestUpdateClusterConfig: the cluster's ClusterConfiguration of 1-35
// gets 1-36's image tags (etcd and CoreDNS carry the release number) and
// keeps its version, which kubeadm upgrade apply sets; a second update
// changes nothing. A 1-30 (v1beta3) document comes out in v1beta4 for
// 1-31's kubeadm. The real kubeadm validates each result.
func TestUpdateClusterConfig(t *testing.T) {
	for _, tc := range []struct{ from, to, api string }{{"1-35", "1-36", "v1beta4"}, {"1-30", "1-31", "v1beta4"}} {
		to := lookup(t, tc.to)
		out, changed, err := UpdateClusterConfig(clusterDoc(t, lookup(t, tc.from)), to, "")
		if err != nil || !changed {
			t.Fatalf("%s: changed %v, %v", tc.from, changed, err)
		}
		s, _ := eksd.KubeadmImageSettings(to, "")
		for _, want := range []string{"apiVersion: kubeadm.k8s.io/" + tc.api, "imageTag: " + s.EtcdImageTag, "imageTag: " + s.DNSImageTag,
			"kubernetesVersion: " + lookup(t, tc.from).KubeadmVersion(), "podSubnet: " + config.DefaultPodCIDR} {
			if !strings.Contains(string(out), want) {
				t.Errorf("%s: no %q in\n%s", tc.from, want, out)
			}
		}
		again, changed, err := UpdateClusterConfig(out, to, "")
		if err != nil || changed || !bytes.Equal(again, out) {
			t.Errorf("%s: a second update changed %v, %v", tc.from, changed, err)
		}
		// The kubeadm built here (1.36) validates no version it cannot deploy.
		if tc.to == "1-36" {
			kubeadmValidates(t, out)
		}
	}
}

// upgradeHost is a live test host whose admin.conf reaches c, with the
// static pods of release at.
func upgradeHost(t *testing.T, c *kubetest.Cluster, at *eksd.Release) *host.Host {
	t.Helper()
	h := hosttest.NewTestHost(t, "")
	files := map[string]string{AdminConf: string(c.Kubeconfig)}
	want, err := targets(at, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range controlPlanePods {
		files[filepath.Join(ManifestsDir, name+".yaml")] = "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: kube-system}\nspec:\n  containers:\n  - {name: " + name + ", image: " + want[name] + "}\n"
	}
	hosttest.WriteTree(t, h.Root(), files)
	return h
}

// TestUpgradeApplyPlansUntilTheClusterIsThere: on the first control plane
// of 1-35, the step renders bootstrap's kubeadm config for 1-36, updates
// the cluster's ClusterConfiguration and runs kubeadm upgrade apply with
// the UpgradeConfiguration; static pods of 1-36 with a configuration or
// kube-proxy not there yet run it again; CoreDNS is given its image, and the
// user's kubeconfig follows admin.conf, without kubeadm; once everything is
// 1-36's it plans nothing. (kubeadm upgrade apply itself needs a whole
// cluster: its argv and the skip are what is tested here.)
func TestUpgradeApplyPlansUntilTheClusterIsThere(t *testing.T) {
	c := kubetest.Require(t)
	from, to := lookup(t, "1-35"), lookup(t, "1-36")
	ctx := context.Background()
	clients, err := kube.NewClients(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	cms := clients.Kube.CoreV1().ConfigMaps(metav1.NamespaceSystem)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ClusterConfigMap}, Data: map[string]string{"ClusterConfiguration": string(clusterDoc(t, from))}}
	if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer cms.Delete(ctx, ClusterConfigMap, metav1.DeleteOptions{})

	h := upgradeHost(t, c, from)
	s := &UpgradeStep{Config: testConfig(), Release: to, Apply: true, KubeconfigUser: "root"}
	p, err := s.Plan(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	copyKubeconfig := "copy " + AdminConf + " to /root/.kube/config (0600, owner root)"
	want := []string{
		"create " + UpgradeConfigFile,
		"create " + ConfigFile,
		"set the image repository and the CoreDNS and etcd image tags of kubernetes-1-36-eks-7 in the cluster's ClusterConfiguration (kube-system/kubeadm-config)",
		"run /usr/local/bin/kubeadm upgrade apply v1.36.2-eks-1-36-7 --config " + UpgradeConfigFile + " --yes, output kept in /var/log/eksd-kata/kubeadm-upgrade-apply-",
		// kubeadm renews admin.conf: the user's copy follows.
		copyKubeconfig,
	}
	got := p.Summaries()
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || !strings.HasPrefix(got[3], want[3]) || got[4] != want[4] {
		t.Fatalf("plan:\n%s", strings.Join(got, "\n"))
	}
	if err := p.Apply(ctx, h); err != nil {
		t.Fatal(err)
	}
	if readHost(t, h, "/root/.kube/config") != readHost(t, h, AdminConf) {
		t.Fatal("~/.kube/config is not admin.conf")
	}
	s.KubeconfigUser = "" // until the end
	run := h.Exec.(*hosttest.FakeRunner).Argvs()
	if len(run) != 1 || run[0][1] != "upgrade" {
		t.Fatalf("ran %q", run)
	}
	cur, _ := cms.Get(ctx, ClusterConfigMap, metav1.GetOptions{})
	if _, changed, _ := UpdateClusterConfig([]byte(cur.Data["ClusterConfiguration"]), to, ""); changed {
		t.Fatalf("the cluster's configuration was not updated:\n%s", cur.Data["ClusterConfiguration"])
	}

	// kubeadm replaced the static pods, then stopped before uploading
	// the configuration: it runs again.
	h2 := upgradeHost(t, c, to)
	for _, f := range []string{UpgradeConfigFile, ConfigFile} {
		hosttest.WriteTree(t, h2.Root(), map[string]string{f: readHost(t, h, f)})
		if err := os.Chmod(filepath.Join(h2.Root(), f), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p, err = s.Plan(ctx, h2)
	if err != nil || len(p.Changes) != 1 || !strings.Contains(strings.Join(p.Notes, "\n"), "the cluster's configuration says v1.35.6-eks-1-35-13: kubeadm upgrade apply runs again") {
		t.Fatalf("half-applied: %v %q %q", err, p.Summaries(), p.Notes)
	}
	// The configuration uploaded; kube-proxy still 1-35's.
	cur.Data["ClusterConfiguration"] = strings.Replace(cur.Data["ClusterConfiguration"], from.KubeadmVersion(), to.KubeadmVersion(), 1)
	if _, err := cms.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	old, _ := targets(from, "")
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-proxy"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-proxy"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"k8s-app": "kube-proxy"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "kube-proxy", Image: old[eksd.KubeProxy]}}},
			},
		},
	}
	dss := clients.Kube.AppsV1().DaemonSets(metav1.NamespaceSystem)
	if ds, err = dss.Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer dss.Delete(ctx, "kube-proxy", metav1.DeleteOptions{})
	if p, err = s.Plan(ctx, h2); err != nil || len(p.Changes) != 1 || !strings.Contains(strings.Join(p.Notes, "\n"), "kube-proxy runs "+old[eksd.KubeProxy]) {
		t.Fatalf("kube-proxy behind: %v %q %q", err, p.Summaries(), p.Notes)
	}
	ds.Spec.Template.Spec.Containers[0].Image = strings.Replace(old[eksd.KubeProxy], from.KubeadmVersion(), to.KubeadmVersion(), 1)
	if _, err := dss.Update(ctx, ds, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if p, err = s.Plan(ctx, h2); err != nil || !p.Empty() || !strings.Contains(strings.Join(p.Notes, "\n"), "kubeadm upgrade apply: done already") {
		t.Fatalf("upgraded: %v %q %q", err, p.Summaries(), p.Notes)
	}

	// CoreDNS, which kubeadm leaves to eksd-kata, still 1-35's: its image
	// is set, kubeadm does not run again; then nothing is left to do.
	labels := map[string]string{"k8s-app": "kube-dns"}
	dns := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "coredns"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "coredns", Image: old[eksd.CoreDNS], Args: []string{"-conf", "/etc/coredns/Corefile"}}}},
			},
		},
	}
	deps := clients.Kube.AppsV1().Deployments(metav1.NamespaceSystem)
	if _, err := deps.Create(ctx, dns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer deps.Delete(ctx, "coredns", metav1.DeleteOptions{})
	newer, _ := targets(to, "")
	p, err = s.Plan(ctx, h2)
	if err != nil || len(p.Changes) != 1 || p.Changes[0].Summary() != "set the image of the CoreDNS Deployment (kube-system/coredns) to "+newer[eksd.CoreDNS]+", its Corefile kept" {
		t.Fatalf("CoreDNS behind: %v %q %q", err, p.Summaries(), p.Notes)
	}
	if err := p.Apply(ctx, h2); err != nil {
		t.Fatal(err)
	}
	after, err := deps.Get(ctx, "coredns", metav1.GetOptions{})
	if err != nil || after.Spec.Template.Spec.Containers[0].Image != newer[eksd.CoreDNS] || !slices.Equal(after.Spec.Template.Spec.Containers[0].Args, dns.Spec.Template.Spec.Containers[0].Args) {
		t.Fatalf("CoreDNS after: %v %+v", err, after.Spec.Template.Spec.Containers)
	}
	if p, err = s.Plan(ctx, h2); err != nil || !p.Empty() {
		t.Fatalf("CoreDNS upgraded: %v %q", err, p.Summaries())
	}
	// The user's kubeconfig, not admin.conf here: copied, kubeadm not run.
	s.KubeconfigUser = "root"
	if p, err = s.Plan(ctx, h2); err != nil || !slices.Equal(p.Summaries(), []string{copyKubeconfig}) {
		t.Fatalf("kubeconfig behind: %v %q", err, p.Summaries())
	}
	if err := p.Apply(ctx, h2); err != nil {
		t.Fatal(err)
	}
	if p, err = s.Plan(ctx, h2); err != nil || !p.Empty() {
		t.Fatalf("kubeconfig copied: %v %q", err, p.Summaries())
	}
	if run := h2.Exec.(*hosttest.FakeRunner).Argvs(); len(run) != 0 {
		t.Fatalf("kubeadm ran again: %q", run)
	}
}

func readHost(t *testing.T, h *host.Host, p string) string {
	t.Helper()
	b, err := h.FS.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestUpgradeNodeUntilTheKubeletIsTheRelease: another node runs kubeadm
// upgrade node until its kubelet is the release's; under --root it is a
// note with the command.
func TestUpgradeNodeUntilTheKubeletIsTheRelease(t *testing.T) {
	bins := releasetest.Binaries()
	to := releasetest.Release(t, "1-36", 7, "https://distro.invalid", bins)
	h := hosttest.NewTestHost(t, "")
	hosttest.WriteTree(t, h.Root(), map[string]string{"/usr/local/bin/kubelet": "the old kubelet"})
	s := &UpgradeStep{Config: testConfig(), Release: to}
	p, err := s.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Summaries(); len(got) != 2 || !strings.HasPrefix(got[1], "run /usr/local/bin/kubeadm upgrade node --config "+UpgradeConfigFile+", output kept in") {
		t.Fatalf("plan %q", got)
	}
	offline := &host.Host{FS: h.FS, Exec: h.Exec, Offline: true}
	if p, err = s.Plan(context.Background(), offline); err != nil || !strings.Contains(strings.Join(p.Notes, "\n"), "kubeadm upgrade node: skipped (--root): run `/usr/local/bin/kubeadm upgrade node --config") {
		t.Fatalf("--root: %v %q", err, p.Notes)
	}
	hosttest.WriteTree(t, h.Root(), map[string]string{"/usr/local/bin/kubelet": string(bins["kubelet"])})
	if p, err = s.Plan(context.Background(), h); err != nil || len(p.Changes) != 1 || !strings.Contains(strings.Join(p.Notes, "\n"), "kubeadm upgrade node: done already") {
		t.Fatalf("upgraded: %v %q %q", err, p.Summaries(), p.Notes)
	}
}
