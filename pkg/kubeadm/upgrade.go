package kubeadm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/binaries"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/kube"
	"github.com/eksd-kata/eksd-kata/pkg/owned"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kubeadmapi "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm"
	kubeadmscheme "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme"
	"k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/v1beta4"
	kubeadmconstants "k8s.io/kubernetes/cmd/kubeadm/app/constants"
	kubeadmutil "k8s.io/kubernetes/cmd/kubeadm/app/util"
	"sigs.k8s.io/yaml"
)

// UpgradeConfigFile holds the UpgradeConfiguration kubeadm upgrade runs with.
const UpgradeConfigFile = owned.KubeadmUpgradeFile

// ClusterConfigMap is where kubeadm keeps the cluster's ClusterConfiguration,
// which kubeadm upgrade reads (and not a file): kube-system/kubeadm-config.
const ClusterConfigMap = kubeadmconstants.KubeadmConfigConfigMap

// RenderUpgrade returns the UpgradeConfiguration (kubeadm's v1beta4 type)
// of kubeadm upgrade apply and node to release r:
//   - its kubernetesVersion ("v1.36.2-eks-1-36-7"), allowed though a
//     pre-release to kubeadm;
//   - images never pulled by kubeadm, which finds them pulled and tagged
//     by the images step;
//   - the preflight errors kubeadm init and join were told to ignore (cfg's,
//     which may be nil);
//   - kubeadm's CoreDNS upgrade left out (coreDNSPhase), and its health
//     check Job's outcome a warning (pauseJobCheck).
//
// kubeadm before 1.31 has no UpgradeConfiguration: nil then.
func RenderUpgrade(r *eksd.Release, cfg *config.NodeConfig) ([]byte, error) {
	if APIVersion(r) != v1beta4.SchemeGroupVersion {
		return nil, nil
	}
	var ignore []string
	if cfg != nil {
		ignore = nodeRegistration(cfg).IgnorePreflightErrors
	}
	skip := []string{coreDNSPhase}
	allow := true
	uc := &v1beta4.UpgradeConfiguration{
		Apply: v1beta4.UpgradeApplyConfiguration{KubernetesVersion: r.KubeadmVersion(), ImagePullPolicy: corev1.PullNever,
			IgnorePreflightErrors: append(append(slices.Clone(ignore), coreDNSChecks...), pauseJobCheck), SkipPhases: skip,
			// Every EKS-D version is a semver pre-release to kubeadm
			// ("-eks-1-36-7"), which it upgrades to only when allowed.
			AllowExperimentalUpgrades: &allow},
		Node: v1beta4.UpgradeNodeConfiguration{ImagePullPolicy: corev1.PullNever, IgnorePreflightErrors: ignore, SkipPhases: skip},
	}
	return encode(uc, v1beta4.SchemeGroupVersion)
}

// kubeadm upgrade cannot upgrade an EKS-D CoreDNS: it reads the running
// CoreDNS version from the Deployment's image tag ("v1.14.3-eks-1-35-13"),
// which its Corefile migration does not know, and fails in its preflight
// (coreDNSChecks) and in its addon/coredns phase. eksd-kata skips both and
// sets the release's CoreDNS image itself (UpgradeStep), keeping the
// Corefile, as kubeadm does when it cannot migrate one.
const coreDNSPhase = "addon/coredns"

var coreDNSChecks = []string{"CoreDNSUnsupportedPlugins", "CoreDNSMigration"}

// kubeadm upgrade apply's health check runs a Job of the pause image under
// kubeadm's own tag (pause:3.10.2), which EKS-D does not publish: only the
// nodes eksd-kata retagged it on have it, and on any other node, where the
// scheduler may put the Job's pod, the pull fails. A failed check is a
// warning; the upgrade itself waits for the node and its kubelet.
const pauseJobCheck = "CreateJob"

// UpdateClusterConfig sets, in a ClusterConfiguration document (v1beta3 or
// v1beta4, as the kubeadm-config ConfigMap holds it), the image settings
// of release r: the image repository and the CoreDNS and etcd image tags,
// which EKS-D makes per release (v3.6.12-eks-1-36-7). kubeadm upgrade
// apply sets the kubernetesVersion itself, and takes everything else from
// this document. The result is in the configuration API of r's kubeadm;
// changed is false when the document has the settings already.
func UpdateClusterConfig(doc []byte, r *eksd.Release, mirror string) (out []byte, changed bool, err error) {
	obj, err := runtime.Decode(kubeadmscheme.Codecs.UniversalDecoder(), doc)
	if err != nil {
		return nil, false, fmt.Errorf("%s: ClusterConfiguration: %w", ClusterConfigMap, err)
	}
	cc, ok := obj.(*kubeadmapi.ClusterConfiguration)
	if !ok {
		return nil, false, fmt.Errorf("%s: ClusterConfiguration: got a %T", ClusterConfigMap, obj)
	}
	s, err := eksd.KubeadmImageSettings(r, mirror)
	if err != nil {
		return nil, false, err
	}
	want := []struct {
		field *string
		value string
	}{
		{&cc.ImageRepository, s.ImageRepository},
		{&cc.DNS.ImageRepository, s.DNSImageRepository},
		{&cc.DNS.ImageTag, s.DNSImageTag},
	}
	if cc.Etcd.Local != nil {
		want = append(want, []struct {
			field *string
			value string
		}{{&cc.Etcd.Local.ImageRepository, s.EtcdImageRepository}, {&cc.Etcd.Local.ImageTag, s.EtcdImageTag}}...)
	}
	for _, w := range want {
		if *w.field != w.value {
			*w.field, changed = w.value, true
		}
	}
	if !changed {
		return doc, false, nil
	}
	out, err = kubeadmutil.MarshalToYamlForCodecs(cc, APIVersion(r), kubeadmscheme.Codecs)
	return out, true, err
}

// UpgradeStep is the upgrade verb's step "kubeadm": on the first control
// plane, the cluster's ClusterConfiguration given the release's image
// settings, then kubeadm upgrade apply, and bootstrap's kubeadm config
// (ConfigFile) rendered for the release; on every other node kubeadm upgrade
// node. Each is planned only while the node is not there yet.
type UpgradeStep struct {
	Config  *config.NodeConfig // the node's, resolved
	Release *eksd.Release      // the target
	// Apply: this node runs kubeadm upgrade apply (the first control
	// plane); else kubeadm upgrade node.
	Apply bool
	// Connect reaches the cluster; nil: with admin.conf.
	Connect kube.Connector
	// KubeconfigUser has admin.conf as ~/.kube/config (the node's record
	// says who): kubeadm upgrade renews admin.conf on a control plane, and
	// the copy follows. "": nobody.
	KubeconfigUser string
	// InstallDir, Out, Now: as for InitStep.
	InstallDir string
	Out        io.Writer
	Now        func() time.Time
}

func (s *UpgradeStep) Name() string { return "kubeadm" }

func (s *UpgradeStep) verb() string {
	if s.Apply {
		return "apply"
	}
	return "node"
}

// Argv is the kubeadm upgrade command the step runs with kubeadm at path.
func (s *UpgradeStep) Argv(kubeadm string) ([]string, error) {
	doc, err := RenderUpgrade(s.Release, s.Config)
	if err != nil {
		return nil, err
	}
	argv := []string{kubeadm, "upgrade", s.verb()}
	if s.Apply {
		argv = append(argv, s.Release.KubeadmVersion())
	}
	// Before 1.31 there is no UpgradeConfiguration: kubeadm then pulls
	// only what is missing, and the images phase left nothing missing.
	if doc != nil {
		argv = append(argv, "--config", UpgradeConfigFile)
	}
	if s.Apply {
		argv = append(argv, "--yes")
	}
	return argv, nil
}

// Plan writes the UpgradeConfiguration, then plans kubeadm upgrade unless
// the node is upgraded already: on the first control plane, its static
// pods run the release's images and the cluster holds the release's
// configuration and kube-proxy; on another node, its kubelet is the
// release's (it is swapped after kubeadm upgrade node, in the same run).
func (s *UpgradeStep) Plan(ctx context.Context, h *host.Host) (*plan.Plan, error) {
	p := &plan.Plan{}
	doc, err := RenderUpgrade(s.Release, s.Config)
	if err != nil {
		return nil, err
	}
	if doc != nil {
		c, err := plan.PlanFile(h, UpgradeConfigFile, doc, 0o600)
		if err != nil {
			return nil, err
		}
		p.Add(c)
	}
	kubeadm := lookKubeadm(h, p, s.InstallDir)
	argv, err := s.Argv(kubeadm)
	if err != nil {
		return nil, err
	}
	run := &Run{Argv: argv, Out: s.Out, LogFile: logFile("upgrade-"+s.verb(), nowOr(s.Now))}
	if !s.Apply {
		done, err := binaries.IsRelease(h, s.Release, "kubelet", "", s.InstallDir)
		switch {
		case err != nil:
			return nil, err
		case done:
			p.Notef("kubeadm upgrade node: done already (the kubelet is %s's)", s.Release)
		case !h.IsLive():
			p.Notef("kubeadm upgrade node: skipped (--root): run `%s` on the node", strings.Join(argv, " "))
		default:
			p.Add(run)
		}
		return p, s.planKubeconfig(h, p, !done && h.IsLive())
	}
	// What bootstrap rendered for kubeadm init, as the cluster now is.
	if _, _, err := planConfig(h, p, s.Config, s.Release); err != nil {
		return nil, err
	}
	pods, err := StaticPodsAt(h, s.Release, s.Config.Spec.Images.Mirror)
	if err != nil {
		return nil, err
	}
	if !h.IsLive() {
		p.Notef("kubeadm upgrade apply: skipped (--root): run `%s` on the node, with the cluster's %s updated first", strings.Join(argv, " "), ClusterConfigMap)
		return p, nil
	}
	c, err := s.connect(ctx, h)
	if err != nil {
		return nil, fmt.Errorf("kubeadm upgrade apply reads the cluster: %w", err)
	}
	cm, err := c.Kube.CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, ClusterConfigMap, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("kubeadm upgrade apply reads the cluster's configuration: %w", err)
	}
	_, update, err := UpdateClusterConfig([]byte(cm.Data[kubeadmconstants.ClusterConfigurationConfigMapKey]), s.Release, s.Config.Spec.Images.Mirror)
	if err != nil {
		return nil, badinput.Wrap(err)
	}
	done := false
	if pods && !update {
		var why string
		done, why, err = clusterAt(ctx, c, s.Release, s.Config.Spec.Images.Mirror)
		if err != nil {
			return nil, err
		}
		if done {
			p.Notef("kubeadm upgrade apply: done already (the static pods, the cluster's configuration and kube-proxy are %s's)", s.Release)
		} else {
			p.Notef("the static pods run %s's images, but %s: kubeadm upgrade apply runs again", s.Release, why)
		}
	}
	if update {
		p.Add(&plan.Func{
			Text: fmt.Sprintf("set the image repository and the CoreDNS and etcd image tags of %s in the cluster's ClusterConfiguration (kube-system/%s)", s.Release, ClusterConfigMap),
			Do:   func(ctx context.Context, h *host.Host) error { return s.updateClusterConfig(ctx, h) },
		})
	}
	if !done {
		p.Add(run)
	}
	if err := s.planKubeconfig(h, p, !done); err != nil {
		return nil, err
	}
	return p, s.planCoreDNS(ctx, c, p)
}

// planKubeconfig copies admin.conf to the user's ~/.kube/config again
// after kubeadm upgrade (ran: planned in p), which renews it, or when the
// copy differs; on a control plane (admin.conf) with such a user.
func (s *UpgradeStep) planKubeconfig(h *host.Host, p *plan.Plan, ran bool) error {
	if s.KubeconfigUser == "" {
		return nil
	}
	if ok, err := h.FS.Exists(AdminConf); err != nil || !ok {
		return err
	}
	return planUserKubeconfig(h, p, s.KubeconfigUser, ran)
}

// planCoreDNS plans the release's CoreDNS image on the cluster's CoreDNS
// Deployment (kube-system/coredns), which kubeadm upgrade leaves to
// eksd-kata (coreDNSPhase). A cluster without it has its DNS elsewhere.
func (s *UpgradeStep) planCoreDNS(ctx context.Context, c *kube.Clients, p *plan.Plan) error {
	want, err := targets(s.Release, s.Config.Spec.Images.Mirror)
	if err != nil {
		return err
	}
	d, err := c.Kube.AppsV1().Deployments(metav1.NamespaceSystem).Get(ctx, kubeadmconstants.CoreDNSDeploymentName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		p.Notef("no Deployment kube-system/%s: CoreDNS is not kubeadm's here, and left alone", kubeadmconstants.CoreDNSDeploymentName)
		return nil
	case err != nil:
		return fmt.Errorf("kubeadm upgrade apply reads the cluster's CoreDNS: %w", err)
	}
	i := slices.IndexFunc(d.Spec.Template.Spec.Containers, func(c corev1.Container) bool { return c.Name == coreDNSContainer })
	if i < 0 || d.Spec.Template.Spec.Containers[i].Image == want[eksd.CoreDNS] {
		return nil
	}
	image := want[eksd.CoreDNS]
	p.Add(&plan.Func{
		Text: fmt.Sprintf("set the image of the CoreDNS Deployment (kube-system/%s) to %s, its Corefile kept", kubeadmconstants.CoreDNSDeploymentName, image),
		Do: func(ctx context.Context, h *host.Host) error {
			c, err := s.connect(ctx, h)
			if err != nil {
				return err
			}
			patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":%q,"image":%q}]}}}}`, coreDNSContainer, image)
			_, err = c.Kube.AppsV1().Deployments(metav1.NamespaceSystem).Patch(ctx, kubeadmconstants.CoreDNSDeploymentName,
				types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: kube.FieldManager})
			return err
		},
	})
	return nil
}

// coreDNSContainer is the container of kubeadm's CoreDNS Deployment.
const coreDNSContainer = "coredns"

func (s *UpgradeStep) connect(ctx context.Context, h *host.Host) (*kube.Clients, error) {
	if s.Connect != nil {
		return s.Connect(ctx, h)
	}
	return kube.Connect(h, kube.AdminKubeconfig)
}

// updateClusterConfig writes the release's image settings into the
// kubeadm-config ConfigMap, read again now: an update with its
// resourceVersion, so that a concurrent change is not lost.
func (s *UpgradeStep) updateClusterConfig(ctx context.Context, h *host.Host) error {
	c, err := s.connect(ctx, h)
	if err != nil {
		return err
	}
	cms := c.Kube.CoreV1().ConfigMaps(metav1.NamespaceSystem)
	cm, err := cms.Get(ctx, ClusterConfigMap, metav1.GetOptions{})
	if err != nil {
		return err
	}
	key := kubeadmconstants.ClusterConfigurationConfigMapKey
	out, changed, err := UpdateClusterConfig([]byte(cm.Data[key]), s.Release, s.Config.Spec.Images.Mirror)
	if err != nil || !changed {
		return err
	}
	cm.Data[key] = string(out)
	_, err = cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: kube.FieldManager})
	return err
}

// controlPlanePods are the static pods kubeadm upgrade replaces last.
var controlPlanePods = []string{eksd.KubeAPIServer, eksd.KubeControllerManager, eksd.KubeScheduler}

// StaticPodsAt reports whether this host's control-plane static pods
// (kube-apiserver, kube-controller-manager, kube-scheduler) run the images
// kubeadm of release r expects; false when one is missing.
func StaticPodsAt(h *host.Host, r *eksd.Release, mirror string) (bool, error) {
	want, err := targets(r, mirror)
	if err != nil {
		return false, err
	}
	for _, name := range controlPlanePods {
		p := path.Join(ManifestsDir, name+".yaml")
		data, err := h.FS.ReadText(p)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		var pod corev1.Pod
		if err := yaml.Unmarshal(data, &pod); err != nil {
			return false, fmt.Errorf("%s: %w", p, err)
		}
		if !slices.ContainsFunc(pod.Spec.Containers, func(c corev1.Container) bool { return c.Image == want[name] }) {
			return false, nil
		}
	}
	return true, nil
}

// targets are the references kubeadm of r expects, by image name.
func targets(r *eksd.Release, mirror string) (map[string]string, error) {
	pairs, err := eksd.Images(r, eksd.ControlPlane, mirror)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, p := range pairs {
		out[p.Name] = p.Target
	}
	return out, nil
}

// clusterAt reports whether kubeadm upgrade apply to r finished in the
// cluster: its ClusterConfiguration names r's version (uploaded after the
// static pods) and kube-proxy, the last add-on it upgrades, runs r's
// image. why says what is not there yet.
func clusterAt(ctx context.Context, c *kube.Clients, r *eksd.Release, mirror string) (done bool, why string, err error) {
	cm, err := c.Kube.CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, ClusterConfigMap, metav1.GetOptions{})
	if err != nil {
		return false, "", err
	}
	var cc struct {
		KubernetesVersion string `json:"kubernetesVersion"`
	}
	if err := yaml.Unmarshal([]byte(cm.Data[kubeadmconstants.ClusterConfigurationConfigMapKey]), &cc); err != nil {
		return false, "", fmt.Errorf("%s: %w", ClusterConfigMap, err)
	}
	if cc.KubernetesVersion != r.KubeadmVersion() {
		return false, fmt.Sprintf("the cluster's configuration says %s", cc.KubernetesVersion), nil
	}
	want, err := targets(r, mirror)
	if err != nil {
		return false, "", err
	}
	ds, err := c.Kube.AppsV1().DaemonSets(metav1.NamespaceSystem).Get(ctx, kubeadmconstants.KubeProxy, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return true, "", nil // kube-proxy is not kubeadm's to upgrade here
	case err != nil:
		return false, "", err
	}
	for _, ctr := range ds.Spec.Template.Spec.Containers {
		if ctr.Name == kubeadmconstants.KubeProxy && ctr.Image != want[eksd.KubeProxy] {
			return false, fmt.Sprintf("kube-proxy runs %s", ctr.Image), nil
		}
	}
	return true, "", nil
}
