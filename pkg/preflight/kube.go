package preflight

import (
	"context"
	"fmt"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/binaries"
	"github.com/eksd-kata/eksd-kata/pkg/host"
)

var kubeChecks = []Check{
	{"kube.binaries", Kubernetes, checkKubeBinaries},
	{"kube.kubelet_unit", Kubernetes, checkKubeletUnit},
	{"kube.cluster", Kubernetes, checkExistingCluster},
	{"kube.api_endpoint", Kubernetes, checkAPIEndpoint},
}

const (
	adminConf   = "/etc/kubernetes/admin.conf"
	kubeletConf = "/etc/kubernetes/kubelet.conf"
)

// checkKubeletUnit: kubeadm starts the kubelet through systemd.
func checkKubeletUnit(ctx context.Context, e *Env) Result {
	return checkUnit(ctx, e, binaries.KubeletUnit, "the kubelet", func() Result {
		r := warn("bootstrap installs it (systemd/kubelet.service and the kubeadm drop-in)", "no %s yet", binaries.KubeletUnit)
		r.BootstrapFixes = true
		return r
	})
}

func (e *Env) existingKubelet() bool {
	ok, _ := e.Host.FS.Exists(kubeletConf)
	return ok
}

// kubeVersionArgs is how each binary prints its version.
var kubeVersionArgs = map[string][]string{
	"kubeadm": {"version", "-o", "short"},
	"kubelet": {"--version"},
}

func checkKubeBinaries(ctx context.Context, e *Env) Result {
	var missing, wrong, found []string
	want, release := "", e.channel()
	if rel := e.release(); rel != nil {
		release = fmt.Sprintf("%s-%d (%s)", rel.Channel(), rel.Number(), rel.KubernetesVersion())
		if e.RunVersions {
			want = rel.KubernetesVersion()
		}
	}
	for _, name := range []string{"kubeadm", "kubelet"} {
		p, err := e.Host.FS.LookPath(name)
		if err != nil {
			missing = append(missing, name)
			continue
		}
		if want == "" {
			found = append(found, p)
			continue
		}
		out, err := host.Output(ctx, e.Host.Exec, append([]string{p}, kubeVersionArgs[name]...)...)
		got := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "Kubernetes "))
		switch {
		case err != nil:
			wrong = append(wrong, fmt.Sprintf("%s (does not run: %v)", p, err))
		case !strings.HasPrefix(got, want):
			wrong = append(wrong, fmt.Sprintf("%s is %s", p, got))
		default:
			found = append(found, p+" "+got)
		}
	}
	fix := "bootstrap installs kubeadm, kubelet and kubectl of EKS-D " + release
	switch {
	case len(wrong) > 0:
		return fixable(fix, "not the configured release: %s", strings.Join(wrong, "; "))
	case len(missing) > 0:
		return fixable(fix, "%s not installed", strings.Join(missing, " and "))
	case want == "":
		return pass("%s present (versions are only run on the running system)", strings.Join(found, ", "))
	}
	return pass("%s match EKS-D %s", strings.Join(found, ", "), release)
}

func checkExistingCluster(_ context.Context, e *Env) Result {
	var have []string
	for _, p := range []string{adminConf, kubeletConf} {
		if ok, _ := e.Host.FS.Exists(p); ok {
			have = append(have, p)
		}
	}
	if len(have) == 0 {
		return pass("no cluster on this host yet")
	}
	return warn("eksd-kata reset removes it, if you want a fresh node",
		"this host is already a node (%s): bootstrap converges it rather than starting again", strings.Join(have, ", "))
}
