package preflight

import (
	"context"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
)

// TestCgroupV1AllowedIsAWarning: on a cgroup v1 host, EKS-D 1-36 fails the
// check unless the operator allows cgroup v1 (kubelet failCgroupV1: false).
func TestCgroupV1AllowedIsAWarning(t *testing.T) {
	h := hosttest.NewTestHost(t, "")
	hosttest.WriteTree(t, h.Root(), map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"})
	cfg := config.Default()
	if r := checkCgroup(context.Background(), NewEnv(h, cfg)); r.Status != Fail {
		t.Fatalf("cgroup v1 with 1-36: %s %s", r.Status, r.Message)
	}
	cfg.Spec.Node.AllowCgroupV1 = true
	if r := checkCgroup(context.Background(), NewEnv(h, cfg)); r.Status != Warn {
		t.Fatalf("cgroup v1 allowed: %s %s", r.Status, r.Message)
	}
}
