package host

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"golang.org/x/sys/unix"
)

// Read-only probes of the running system that check and the steps use.
// Each is a small type or function here, so that the packages above ask
// through an interface they can fake.

// KVMInfo is what opening /dev/kvm told us.
type KVMInfo struct {
	APIVersion int  // KVM_GET_API_VERSION; 12 since Linux 2.6.22
	CreateVM   bool // KVM_CREATE_VM succeeded
}

// KVMAPIVersion is the only KVM API version there has ever been.
const KVMAPIVersion = 12

// ioctl numbers of linux/kvm.h: _IO(KVMIO=0xAE, 0x00) and _IO(0xAE, 0x01).
const (
	ioctlKVMGetAPIVersion = 0xAE00
	ioctlKVMCreateVM      = 0xAE01
)

// KVMDevice opens the KVM device at a real path and asks it to create a
// VM: the one test that says KVM is usable (kata-check does the same).
type KVMDevice struct{}

// Probe opens device and creates a VM with no memory or vCPUs, gone when
// its descriptor is closed.
func (KVMDevice) Probe(device string) (KVMInfo, error) {
	var info KVMInfo
	fd, err := unix.Open(device, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return info, fmt.Errorf("open %s: %w", device, err)
	}
	defer unix.Close(fd)
	v, err := unix.IoctlRetInt(fd, ioctlKVMGetAPIVersion)
	if err != nil {
		return info, fmt.Errorf("KVM_GET_API_VERSION: %w", err)
	}
	info.APIVersion = v
	if v != KVMAPIVersion {
		return info, fmt.Errorf("KVM API version %d, want %d", v, KVMAPIVersion)
	}
	vm, err := unix.IoctlRetInt(fd, ioctlKVMCreateVM) // machine type 0: the default
	if err != nil {
		return info, fmt.Errorf("KVM_CREATE_VM: %w", err)
	}
	unix.Close(vm)
	info.CreateVM = true
	return info, nil
}

// ContainerdInfo is what the running daemon says about itself.
type ContainerdInfo struct {
	Version  string // e.g. "1.6.20~ds1", "v2.4.2"
	CRI      bool   // the CRI plugin loaded without error
	CRIError string // why it did not
}

// ProbeTimeout bounds a probe's whole conversation: a healthy daemon or
// endpoint answers in milliseconds, and check must stay fast on a hung one.
const ProbeTimeout = 2 * time.Second

// ContainerdSocket asks the daemon on a socket (a real path) for its
// version and whether its CRI plugin loaded.
type ContainerdSocket struct{}

// Probe asks the daemon listening on socket.
func (ContainerdSocket) Probe(ctx context.Context, socket string) (ContainerdInfo, error) {
	var info ContainerdInfo
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	// A plain dial first: its error says plainly "permission denied" or
	// "connection refused", where gRPC would retry and wrap it.
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return info, err
	}
	conn.Close()

	c, err := client.New(socket, client.WithTimeout(ProbeTimeout))
	if err != nil {
		return info, err
	}
	defer c.Close()
	v, err := c.Version(ctx)
	if err != nil {
		return info, fmt.Errorf("version: %w", err)
	}
	info.Version = v.Version
	resp, err := c.IntrospectionService().Plugins(ctx)
	if err != nil {
		return info, fmt.Errorf("plugins: %w", err)
	}
	info.CRIError = "no CRI plugin loaded"
	for _, p := range resp.GetPlugins() {
		if p.GetID() != "cri" || p.GetType() != "io.containerd.grpc.v1" {
			continue
		}
		if ie := p.GetInitErr(); ie != nil {
			info.CRIError = ie.GetMessage()
		} else {
			info.CRI, info.CRIError = true, ""
		}
	}
	return info, nil
}

// NetEndpoints resolves names with the system resolver (/etc/hosts, then
// DNS) and dials TCP.
type NetEndpoints struct{}

// Resolve looks host up.
func (NetEndpoints) Resolve(ctx context.Context, host string) ([]string, error) {
	return net.DefaultResolver.LookupHost(ctx, host)
}

// Dial opens a TCP connection to hostPort and closes it at once.
func (NetEndpoints) Dial(ctx context.Context, hostPort string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", hostPort)
	if err != nil {
		return err
	}
	return c.Close()
}

// GetHTTPS fetches url trusting only the CA certificates in caPEM, and
// returns an error unless it answers 200 OK (with the start of its body).
func GetHTTPS(ctx context.Context, url string, caPEM []byte) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("no CA certificate to trust for %s", url)
	}
	c := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
