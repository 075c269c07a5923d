// Package kube talks to the cluster that kubeadm created, through client-go
// and the admin kubeconfig on the host: the bootstrap steps "addons"
// (Kata RuntimeClasses, node label, control-plane untaint, CNI manifest,
// node readiness) and "verify" (runc and Kata smoke-test pods).
package kube

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/host"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// AdminKubeconfig is where kubeadm init writes the cluster-admin credentials.
const AdminKubeconfig = "/etc/kubernetes/admin.conf"

// FieldManager owns every field eksd-kata applies (server-side apply).
const FieldManager = "eksd-kata"

// Clients reach one cluster.
type Clients struct {
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	// Mapper maps kinds to resources from discovery; Reset it after
	// applying a CustomResourceDefinition.
	Mapper meta.ResettableRESTMapper
}

// NewClients builds the clients for one REST config.
func NewClients(cfg *rest.Config) (*Clients, error) {
	// No client-side rate limit: a bootstrap makes few requests, and near
	// a wait's deadline the limiter refuses the next one ("would exceed
	// context deadline"), an error that is not the wait's own timeout.
	cfg = rest.CopyConfig(cfg)
	cfg.QPS = -1
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(kc.Discovery()))
	return &Clients{Kube: kc, Dynamic: dc, Mapper: mapper}, nil
}

// Connect reads the kubeconfig at path on the host (under its root) and
// returns clients for it. It does not contact the API server.
func Connect(h *host.Host, path string) (*Clients, error) {
	data, err := h.FS.ReadText(path)
	if err != nil {
		return nil, fmt.Errorf("reading the kubeconfig: %w", err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(data)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	cfg.UserAgent = "eksd-kata"
	// One request must not hang a bootstrap; a CNI manifest is many requests.
	cfg.Timeout = 20 * time.Second
	return NewClients(cfg)
}

// Ready asks the API server whether it serves requests.
func (c *Clients) Ready(ctx context.Context) error {
	rc := c.Kube.Discovery().RESTClient()
	if rc == nil {
		// A fake clientset has no REST client: ask for the version instead.
		_, err := c.Kube.Discovery().ServerVersion()
		return err
	}
	_, err := rc.Get().AbsPath("/readyz").DoRaw(ctx)
	return err
}

// errAPIDown marks an API server that does not answer (yet).
var errAPIDown = errors.New("the API server does not answer")

// Down reports whether err means the cluster is not reachable yet: no
// kubeconfig (kubeadm has not run), a refused or timed out connection, an
// API server still starting. Other errors (denied, bad request) are real.
func Down(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, errAPIDown) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) {
		return true
	}
	return apierrors.IsServiceUnavailable(err) || apierrors.IsTimeout(err) ||
		apierrors.IsServerTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsInternalError(err)
}

// starting reports errors an API server gives while it comes up: besides
// Down, authorization is denied until kubeadm has bound the admin group.
func starting(err error) bool {
	return Down(err) || apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err)
}

// Backoff bounds the waits for the API server; tests shorten it.
type Backoff struct {
	Initial, Max time.Duration
}

var defaultBackoff = Backoff{Initial: 500 * time.Millisecond, Max: 8 * time.Second}

// Connector opens the cluster of a host; the steps take one so tests can
// hand them clients of their own.
type Connector func(ctx context.Context, h *host.Host) (*Clients, error)

// KubeconfigConnector connects with the kubeconfig file at path on the host.
func KubeconfigConnector(path string) Connector {
	return func(_ context.Context, h *host.Host) (*Clients, error) { return Connect(h, path) }
}

// waitAPI connects and retries with backoff until the API server answers,
// for at most timeout: right after kubeadm init it may still be starting.
func waitAPI(ctx context.Context, h *host.Host, connect Connector, timeout time.Duration, b Backoff) (*Clients, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	delay := b.Initial
	for {
		c, err := connect(ctx, h)
		if err == nil {
			err = c.Ready(ctx)
		}
		if err == nil {
			return c, nil
		}
		if errors.Is(err, fs.ErrNotExist) {
			// No kubeconfig will appear by waiting: kubeadm did not run.
			return nil, fmt.Errorf("%w (has kubeadm init or join run on this host?)", err)
		}
		if !starting(err) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w after %s: %v", errAPIDown, timeout, err)
		case <-time.After(delay):
		}
		delay = min(2*delay, b.Max)
	}
}
