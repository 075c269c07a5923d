package ctrtest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// CRI is a client of the daemon's CRI v1 services, as the kubelet uses them.
type CRI struct {
	Runtime runtimeapi.RuntimeServiceClient
	Images  runtimeapi.ImageServiceClient
	conn    *grpc.ClientConn
}

// DialCRI connects to the daemon's CRI and closes the connection when t ends.
func DialCRI(t testing.TB, d *Daemon) *CRI {
	t.Helper()
	conn, err := grpc.NewClient("unix://"+d.Socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial CRI: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &CRI{
		Runtime: runtimeapi.NewRuntimeServiceClient(conn),
		Images:  runtimeapi.NewImageServiceClient(conn),
		conn:    conn,
	}
}

// CRIRuntime is a runtime as the CRI plugin reports it in its verbose status.
type CRIRuntime struct {
	Type    string         `json:"runtimeType"`
	Path    string         `json:"runtimePath"`
	Options map[string]any `json:"options"`
	// Snapshotter is empty on containerd 1.6, which has no per-runtime
	// snapshotter.
	Snapshotter                  string   `json:"snapshotter"`
	PodAnnotations               []string `json:"PodAnnotations"`
	PrivilegedWithoutHostDevices bool     `json:"privileged_without_host_devices"`
}

// CRIConfig is the part of the CRI plugin's effective config we check.
type CRIConfig struct {
	Containerd struct {
		DefaultRuntimeName string                `json:"defaultRuntimeName"`
		Runtimes           map[string]CRIRuntime `json:"runtimes"`
	} `json:"containerd"`
	SandboxImage        string `json:"sandboxImage"` // 1.6/1.7 only
	RestrictOOMScoreAdj bool   `json:"restrictOOMScoreAdj"`
}

// Config asks the CRI plugin (Status, verbose) for the config it runs with.
// It retries while the plugin is still starting.
func (c *CRI) Config(ctx context.Context) (CRIConfig, error) {
	var last error
	for ctx.Err() == nil {
		resp, err := c.Runtime.Status(ctx, &runtimeapi.StatusRequest{Verbose: true})
		if err == nil {
			var cfg CRIConfig
			if err := json.Unmarshal([]byte(resp.Info["config"]), &cfg); err != nil {
				return cfg, fmt.Errorf("CRI status config: %w", err)
			}
			return cfg, nil
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return CRIConfig{}, fmt.Errorf("CRI status: %v (last error: %v)", ctx.Err(), last)
}

// WaitImage waits until the CRI image service sees ref; it learns about
// images imported through the containerd API from events.
func (c *CRI) WaitImage(ctx context.Context, ref string) error {
	for {
		resp, err := c.Images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
		if err == nil && resp.Image != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CRI never listed image %s: %v", ref, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// HostNetworkSandbox is a minimal pod sandbox config on the node's network
// (no CNI needed), for the given runtime handler.
func HostNetworkSandbox(name string) *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "ctrtest", Uid: name + "-uid"},
		// No Hostname: the kubelet sends none for host-network pods, and
		// runc refuses to set one without a private UTS namespace.
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{
					Network: runtimeapi.NamespaceMode_NODE,
					Pid:     runtimeapi.NamespaceMode_CONTAINER,
					Ipc:     runtimeapi.NamespaceMode_POD,
				},
			},
		},
	}
}

// RunSandbox starts a host-network sandbox with handler and returns its id;
// the sandbox is stopped and removed when t ends.
func (c *CRI) RunSandbox(ctx context.Context, t testing.TB, name, handler string) (string, error) {
	t.Helper()
	resp, err := c.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: HostNetworkSandbox(name), RuntimeHandler: handler})
	if err != nil {
		return "", err
	}
	id := resp.PodSandboxId
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := c.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
			t.Logf("stop sandbox %s: %v", id, err)
		}
		if _, err := c.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
			t.Logf("remove sandbox %s: %v", id, err)
		}
	})
	return id, nil
}

// SandboxState returns the CRI state of a sandbox.
func (c *CRI) SandboxState(ctx context.Context, id string) (runtimeapi.PodSandboxState, error) {
	resp, err := c.Runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id})
	if err != nil {
		return 0, err
	}
	return resp.Status.State, nil
}
