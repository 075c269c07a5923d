package kube

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/kata"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Defaults of AddonsStep's bounds.
const (
	DefaultAPITimeout   = 3 * time.Minute
	DefaultReadyTimeout = 5 * time.Minute
	// planTimeout bounds the questions Plan asks: a dry run must not hang.
	planTimeout = 20 * time.Second
)

// AddonsStep is the bootstrap step "addons": the Kata RuntimeClasses and
// node label (for the hypervisors Kata is installed for), the CNI manifest, and on a single node the removal of the
// control-plane taint. It plans from what the API server has; before
// kubeadm ran (a dry run on a fresh host) it plans all of it.
type AddonsStep struct {
	Config *config.NodeConfig // resolved: spec.node.name is set
	// Connect opens the cluster; nil uses /etc/kubernetes/admin.conf on the host.
	Connect Connector
	// APITimeout bounds waiting for the API server (and the node) to answer.
	APITimeout time.Duration
	// ReadyTimeout bounds waiting for the node to be Ready after a CNI was applied.
	ReadyTimeout time.Duration
	// HTTP fetches a CNI manifest URL; nil uses a default client.
	HTTP    *http.Client
	Backoff Backoff // zero: the default

	cni []*unstructured.Unstructured // the decoded manifest, read once
	// bridge: the node has eksd-kata's own pod network (BridgeConflist).
	bridge bool

	mu   sync.Mutex
	live *Clients // once the API server has answered (answering)
}

func (s *AddonsStep) Name() string { return "addons" }

func (s *AddonsStep) defaults() {
	if s.Connect == nil {
		s.Connect = KubeconfigConnector(AdminKubeconfig)
	}
	if s.APITimeout <= 0 {
		s.APITimeout = DefaultAPITimeout
	}
	if s.ReadyTimeout <= 0 {
		s.ReadyTimeout = DefaultReadyTimeout
	}
	if s.Backoff == (Backoff{}) {
		s.Backoff = defaultBackoff
	}
}

// untaint: only a control-plane node carries kubeadm's NoSchedule taint.
func (s *AddonsStep) untaint() bool {
	return s.Config.Spec.UntaintsThisNode()
}

// cniSource is the configured manifest, "" for none.
func (s *AddonsStep) cniSource() string {
	src := s.Config.Spec.Addons.CNIManifest
	if src == "none" {
		return ""
	}
	return src
}

// Plan asks the API server what exists and plans what differs.
func (s *AddonsStep) Plan(ctx context.Context, h *host.Host) (*plan.Plan, error) {
	s.defaults()
	p := &plan.Plan{}
	if s.Config.Spec.Node.Name == "" && h.IsLive() {
		return nil, badinput.Wrap(errors.New("addons: the node name is not known (set spec.node.name or --node-name)"))
	}
	rcs, err := s.runtimeClasses(h, p)
	if err != nil {
		return nil, err
	}
	if s.bridge, err = s.planBridge(h, p); err != nil {
		return nil, err
	}
	if err := s.loadCNI(ctx); err != nil {
		return nil, err
	}
	if !h.IsLive() {
		s.offlineNotes(p, rcs)
		return p, nil
	}
	pctx, cancel := context.WithTimeout(ctx, planTimeout)
	defer cancel()
	c, err := s.Connect(pctx, h)
	if err == nil {
		err = c.Ready(pctx)
	}
	if Down(err) {
		p.Notef("the API server does not answer yet (%v): planning every add-on; applying waits up to %s for it", err, s.APITimeout)
		s.planAll(p, rcs)
		return p, nil
	}
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.live = c
	s.mu.Unlock()
	if err := s.planDiff(pctx, c, p, rcs); err != nil {
		return nil, err
	}
	return p, nil
}

type renderedRC struct {
	data     RuntimeClassData
	manifest []byte
}

// runtimeClasses renders the RuntimeClasses of the hypervisors Kata can
// use on this node: one for a hypervisor it cannot would get Kata pods
// scheduled here that never start. The others are noted in p.
func (s *AddonsStep) runtimeClasses(h *host.Host, p *plan.Plan) ([]renderedRC, error) {
	k := s.Config.Spec.Kata
	r, err := kata.Ready(h, k)
	if err != nil {
		return nil, err
	}
	var out []renderedRC
	for _, d := range runtimeClassesIf(k, r.IsReady) {
		m, _, err := RenderRuntimeClass(d)
		if err != nil {
			return nil, err
		}
		out = append(out, renderedRC{d, m})
	}
	if len(r.Missing) > 0 {
		var skipped []string
		for _, d := range RuntimeClassesFor(k) {
			if !slices.ContainsFunc(out, func(rc renderedRC) bool { return rc.data.Name == d.Name }) {
				skipped = append(skipped, d.Name)
			}
		}
		// The note says what is missing and how to fix it: a kata pod
		// would otherwise stay Pending without saying why.
		if len(out) == 0 {
			p.Notef("Kata is not installed here (%s): no RuntimeClass %s and no node label %s=true, so that Kata pods are not scheduled where they cannot start; to install Kata and apply them: %s",
				r.Why(), strings.Join(skipped, ", "), KataNodeLabel, kata.FixCommand())
		} else {
			p.Notef("Kata is not installed here for every hypervisor (%s): no RuntimeClass %s; to install Kata and apply them: %s",
				r.Why(), strings.Join(skipped, ", "), kata.FixCommand())
		}
	}
	return out, nil
}

func (s *AddonsStep) loadCNI(ctx context.Context) error {
	src := s.cniSource()
	if src == "" || s.cni != nil {
		return nil
	}
	data, err := ReadManifest(ctx, src, s.HTTP)
	if err != nil {
		return err
	}
	objs, err := DecodeManifest(data)
	if err != nil {
		return badinput.Wrap(fmt.Errorf("CNI manifest %s: %w", src, err))
	}
	s.cni = objs
	return nil
}

func (s *AddonsStep) offlineNotes(p *plan.Plan, rcs []renderedRC) {
	p.Notef("add-ons go to the cluster through its API, not to files: nothing is planned under --root; run `eksd-kata bootstrap --only addons` on the running node")
	if len(rcs) > 0 {
		p.Notef("it would apply RuntimeClass(es) %s and label the node %s=true", rcNames(rcs), KataNodeLabel)
	}
	if s.cniSource() != "" {
		p.Notef("it would apply the CNI manifest %s (%d objects)", s.cniSource(), len(s.cni))
	}
}

// planAll plans every add-on, for a cluster that does not answer yet.
func (s *AddonsStep) planAll(p *plan.Plan, rcs []renderedRC) {
	var now []plan.Change
	for _, rc := range rcs {
		now = append(now, s.rcChange(rc, "apply", ""))
	}
	node := s.Config.Spec.Node.Name
	if len(rcs) > 0 {
		now = append(now, s.labelChange(node))
	}
	if s.untaint() {
		now = append(now, s.untaintChange(node))
	}
	p.AddConcurrent(now...)
	s.planCNI(p, len(s.cni), nil, nil, true)
	if s.cniSource() == "" {
		s.noCNINote(p)
	}
}

// planDiff plans what the live cluster lacks. The RuntimeClasses, the
// label and the taint do not depend on one another: they are asked for at
// once and applied together (plan.AddConcurrent), the CNI manifest after them.
func (s *AddonsStep) planDiff(ctx context.Context, c *Clients, p *plan.Plan, rcs []renderedRC) error {
	lives := make([]*nodev1.RuntimeClass, len(rcs))
	errs := make([]error, len(rcs))
	name := s.Config.Spec.Node.Name
	var node *corev1.Node
	var nodeErr error
	var wg sync.WaitGroup
	for i, rc := range rcs {
		wg.Go(func() { lives[i], errs[i] = c.Kube.NodeV1().RuntimeClasses().Get(ctx, rc.data.Name, getOpts) })
	}
	wg.Go(func() { node, nodeErr = c.Kube.CoreV1().Nodes().Get(ctx, name, getOpts) })
	var ours *nodev1.RuntimeClassList
	var oursErr error
	wg.Go(func() {
		ours, oursErr = c.Kube.NodeV1().RuntimeClasses().List(ctx, metav1.ListOptions{LabelSelector: ManagedByLabel + "=" + ManagedBy})
	})
	wg.Wait()
	if oursErr != nil {
		return fmt.Errorf("listing eksd-kata's RuntimeClasses: %w", oursErr)
	}

	var now []plan.Change
	for i, rc := range rcs {
		_, want, err := RenderRuntimeClass(rc.data)
		if err != nil {
			return err
		}
		switch live, err := lives[i], errs[i]; {
		case apierrors.IsNotFound(err):
			now = append(now, s.rcChange(rc, "create", ""))
		case err != nil:
			return fmt.Errorf("RuntimeClass %s: %w", rc.data.Name, err)
		default:
			if d := runtimeClassDiff(live, want); d != "" {
				verb := "update"
				if live.Handler != want.Handler {
					verb, d = "replace", d+" (the handler is immutable)"
				}
				now = append(now, s.rcChange(rc, verb, d))
			}
		}
	}
	if apierrors.IsNotFound(nodeErr) {
		p.Notef("node %s is not registered yet: applying waits up to %s for its kubelet", name, s.APITimeout)
		node, nodeErr = nil, nil
	}
	if nodeErr != nil {
		return fmt.Errorf("node %s: %w", name, nodeErr)
	}
	now = append(now, s.staleRuntimeClasses(ours.Items, rcs)...)
	switch {
	case len(rcs) > 0 && (node == nil || node.Labels[KataNodeLabel] != "true"):
		now = append(now, s.labelChange(name))
	case len(rcs) == 0 && node != nil && node.Labels[KataNodeLabel] != "" && labelledByUs(node):
		// Kata is off or gone here: kata pods must not be scheduled to it.
		now = append(now, s.unlabelChange(name))
	case len(rcs) == 0 && node != nil && node.Labels[KataNodeLabel] != "":
		p.Notef("node %s has the label %s=%s, which eksd-kata did not set, and eksd-kata applies no Kata RuntimeClass here: Kata pods scheduled to it cannot start; if nothing else runs Kata here, remove it: kubectl label node %s %s-",
			name, KataNodeLabel, node.Labels[KataNodeLabel], name, KataNodeLabel)
	}
	if s.untaint() && (node == nil || len(scheduleTaints(node)) > 0) {
		now = append(now, s.untaintChange(name))
	}
	p.AddConcurrent(now...)
	if s.cniSource() == "" {
		s.noCNINote(p)
		return nil
	}
	create, update, err := cniDiff(ctx, c, s.cni)
	if err != nil {
		return fmt.Errorf("CNI manifest %s: %w", s.cniSource(), err)
	}
	s.planCNI(p, len(create)+len(update), create, update, node == nil || !isReady(node))
	return nil
}

func (s *AddonsStep) noCNINote(p *plan.Plan) {
	if s.bridge {
		return
	}
	p.Notef("no CNI manifest configured (spec.addons.cniManifest, --cni-manifest): pods other than host-network ones stay Pending until a CNI is installed")
}

// staleRuntimeClasses deletes the RuntimeClasses eksd-kata made that the
// config no longer asks for (a hypervisor taken out of spec.kata, or Kata
// turned off). One still asked for stays even when Kata cannot run it on
// this node: a RuntimeClass is the cluster's, and the nodes that have Kata
// (the label it selects) still use it. Pods already running with a deleted
// one keep running; new ones are refused. The UID precondition spares one
// made again meanwhile.
func (s *AddonsStep) staleRuntimeClasses(ours []nodev1.RuntimeClass, rcs []renderedRC) []plan.Change {
	var out []plan.Change
	asked := RuntimeClassesFor(s.Config.Spec.Kata)
	for _, live := range ours {
		if slices.ContainsFunc(rcs, func(rc renderedRC) bool { return rc.data.Name == live.Name }) ||
			slices.ContainsFunc(asked, func(d RuntimeClassData) bool { return d.Name == live.Name }) {
			continue
		}
		why := "spec.kata no longer asks for it"
		name, uid := live.Name, live.UID
		out = append(out, &plan.Func{
			Text: fmt.Sprintf("delete RuntimeClass %s (handler %s): eksd-kata made it, and %s", name, live.Handler, why),
			Do: s.connected(func(ctx context.Context, c *Clients) error {
				err := c.Kube.NodeV1().RuntimeClasses().Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
				if err != nil && !apierrors.IsNotFound(err) {
					return fmt.Errorf("deleting RuntimeClass %s: %w", name, err)
				}
				return nil
			}),
		})
	}
	return out
}

func rcNames(rcs []renderedRC) string {
	names := make([]string, len(rcs))
	for i, rc := range rcs {
		names[i] = rc.data.Name
	}
	return strings.Join(names, ", ")
}
