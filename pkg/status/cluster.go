package status

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/kube"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Cluster is the node as the API server sees it.
type Cluster struct {
	// Kubeconfig is the file status read the cluster with.
	Kubeconfig string `json:"kubeconfig"`
	Node       string `json:"node"`
	Registered bool   `json:"registered"`
	// Ready and the condition's reason and message.
	Ready          bool     `json:"ready"`
	Reason         string   `json:"reason,omitempty"`
	Message        string   `json:"message,omitempty"`
	KubeletVersion string   `json:"kubeletVersion,omitempty"`
	Roles          []string `json:"roles,omitempty"`
	// KataLabel: the node has the label the Kata RuntimeClasses select.
	KataLabel      bool           `json:"kataLabel"`
	RuntimeClasses []RuntimeClass `json:"runtimeClasses"`
	Error          string         `json:"error,omitempty"`
}

// RuntimeClass is one RuntimeClass of the cluster.
type RuntimeClass struct {
	Name    string `json:"name"`
	Handler string `json:"handler"`
	// Ours: eksd-kata applied it.
	Ours bool `json:"ours"`
}

// clusterTimeout bounds the questions to the API server: status must not hang.
const clusterTimeout = 20 * time.Second

const roleLabelPrefix = "node-role.kubernetes.io/"

func (r *Report) gatherCluster(ctx context.Context, in Inputs) {
	h := in.Host
	if !h.IsLive() {
		r.skip("the cluster (the node's Ready condition, RuntimeClasses)")
		return
	}
	c := &Cluster{Kubeconfig: Kubeconfig(in.Config.Spec.Node.Role), Node: in.Config.Spec.Node.Name, RuntimeClasses: []RuntimeClass{}}
	r.Cluster = c
	connect := in.Connect
	if connect == nil {
		connect = func(_ context.Context, h *host.Host) (kubernetes.Interface, error) {
			cs, err := kube.Connect(h, c.Kubeconfig)
			if err != nil {
				return nil, err
			}
			return cs.Kube, nil
		}
	}
	kc, err := connect(ctx, h)
	if errors.Is(err, fs.ErrNotExist) {
		c.Error = fmt.Sprintf("no %s: kubeadm has not run on this node", c.Kubeconfig)
		return
	}
	if err != nil {
		c.Error = err.Error()
		return
	}
	ctx, cancel := context.WithTimeout(ctx, clusterTimeout)
	defer cancel()
	if err := c.readNode(ctx, kc); err != nil {
		c.Error = err.Error()
		return
	}
	rcs, err := kc.NodeV1().RuntimeClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		c.Error = fmt.Sprintf("listing RuntimeClasses: %v", err)
		return
	}
	for _, rc := range rcs.Items {
		c.RuntimeClasses = append(c.RuntimeClasses, RuntimeClass{Name: rc.Name, Handler: rc.Handler, Ours: rc.Labels[kube.ManagedByLabel] == kube.ManagedBy})
	}
}

// readNode reads the node's registration, Ready condition and labels.
func (c *Cluster) readNode(ctx context.Context, kc kubernetes.Interface) error {
	n, err := kc.CoreV1().Nodes().Get(ctx, c.Node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading node %s: %w", c.Node, err)
	}
	c.Registered = true
	c.KubeletVersion = n.Status.NodeInfo.KubeletVersion
	for k := range n.Labels {
		if role, ok := strings.CutPrefix(k, roleLabelPrefix); ok && role != "" {
			c.Roles = append(c.Roles, role)
		}
	}
	slices.Sort(c.Roles)
	c.KataLabel = n.Labels[kube.KataNodeLabel] == "true"
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			c.Ready = cond.Status == corev1.ConditionTrue
			c.Reason, c.Message = cond.Reason, cond.Message
		}
	}
	return nil
}

// readyText is the Ready condition in words.
func (c *Cluster) readyText() string {
	switch {
	case c.Reason == "" && c.Message == "":
		return "no Ready condition yet"
	case c.Message == "":
		return c.Reason
	}
	return c.Reason + ": " + c.Message
}
