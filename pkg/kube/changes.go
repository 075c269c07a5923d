package kube

import (
	"context"
	"fmt"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// The changes of AddonsStep. Each connects when applied, waiting (bounded)
// for the API server: it may have been planned before kubeadm started it.

func (s *AddonsStep) connected(do func(ctx context.Context, c *Clients) error) func(context.Context, *host.Host) error {
	return func(ctx context.Context, h *host.Host) error {
		c, err := s.answering(ctx, h)
		if err != nil {
			return err
		}
		return do(ctx, c)
	}
}

// answering returns clients of an API server that has answered: the
// changes applied together share them, and only the first waits for it.
func (s *AddonsStep) answering(ctx context.Context, h *host.Host) (*Clients, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live != nil {
		return s.live, nil
	}
	c, err := waitAPI(ctx, h, s.Connect, s.APITimeout, s.Backoff)
	if err == nil {
		s.live = c
	}
	return c, err
}

// rcChange applies one RuntimeClass; why says what differs.
func (s *AddonsStep) rcChange(rc renderedRC, verb, why string) plan.Change {
	_, want, err := RenderRuntimeClass(rc.data)
	if why != "" {
		why = ": " + why
	}
	return &plan.Func{
		Text: fmt.Sprintf("%s RuntimeClass %s (handler %s, overhead %s/%s, nodeSelector %s=true)%s",
			verb, rc.data.Name, rc.data.Handler, rc.data.Memory, rc.data.CPU, KataNodeLabel, why),
		Do: s.connected(func(ctx context.Context, c *Clients) error {
			if err != nil {
				return err
			}
			return applyRuntimeClass(ctx, c, rc.manifest, want)
		}),
	}
}

// nodeChange waits for the node to be registered, then does fn.
func (s *AddonsStep) nodeChange(text, node string, fn func(context.Context, *Clients, string) error) plan.Change {
	return &plan.Func{Text: text, Do: s.connected(func(ctx context.Context, c *Clients) error {
		if _, err := waitNode(ctx, c, node, s.APITimeout, s.Backoff); err != nil {
			return err
		}
		return fn(ctx, c, node)
	})}
}

func (s *AddonsStep) labelChange(node string) plan.Change {
	return s.nodeChange(fmt.Sprintf("label node %s %s=true", node, KataNodeLabel), node, labelNode)
}

func (s *AddonsStep) unlabelChange(node string) plan.Change {
	why := "Kata is not set up here: spec.kata"
	if s.Config.Spec.Kata.Enabled {
		why = "Kata is not installed here"
	}
	return s.nodeChange(fmt.Sprintf("remove label %s from node %s (%s)", KataNodeLabel, node, why), node, unlabelNode)
}

func (s *AddonsStep) untaintChange(node string) plan.Change {
	return s.nodeChange(fmt.Sprintf("remove the control-plane NoSchedule taint from node %s (single node: pods may run on it)", node), node, untaintNode)
}

// planCNI plans applying the manifest when n of its objects differ (all
// of them when all), and waiting for the node to be Ready after that or
// while it is not.
func (s *AddonsStep) planCNI(p *plan.Plan, n int, create, update []string, notReady bool) {
	src := s.cniSource()
	if src == "" {
		return
	}
	if n > 0 {
		text := fmt.Sprintf("apply CNI manifest %s (%d objects, server-side apply)", src, len(s.cni))
		if create != nil || update != nil {
			text = fmt.Sprintf("apply CNI manifest %s: %s", src, detail(create, update))
		}
		objs := s.cni
		p.Add(&plan.Func{Text: text, Do: s.connected(func(ctx context.Context, c *Clients) error {
			return applyManifest(ctx, c, objs, s.APITimeout, s.Backoff)
		})})
	}
	if n > 0 || notReady {
		node := s.Config.Spec.Node.Name
		p.Add(&plan.Func{
			Text: fmt.Sprintf("wait up to %s for node %s to be Ready", s.ReadyTimeout, node),
			Do: s.connected(func(ctx context.Context, c *Clients) error {
				return waitReady(ctx, c, node, s.ReadyTimeout, 2*s.Backoff.Initial, "check the CNI pods: kubectl -n kube-system get pods", nil, "")
			}),
		})
	}
}

// detail says which objects an apply creates and updates, briefly.
func detail(create, update []string) string {
	var parts []string
	if len(create) > 0 {
		parts = append(parts, "create "+list(create))
	}
	if len(update) > 0 {
		parts = append(parts, "update "+list(update))
	}
	return strings.Join(parts, "; ")
}

func list(names []string) string {
	const show = 4
	if len(names) <= show {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:show], ", "), len(names)-show)
}
