package kata

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
)

func TestVersion(t *testing.T) {
	ctx := context.Background()
	h := hosttest.NewTestHost(t, "")
	if v, err := Version(ctx, h); v != "" || err != nil {
		t.Fatalf("not installed: %q, %v", v, err)
	}
	const bin = "/opt/kata/bin/kata-runtime"
	hosttest.WriteTree(t, h.Root(), map[string]string{bin: "#!/bin/sh\n"})
	fr := h.Exec.(*hosttest.FakeRunner)
	fr.Script(hosttest.FakeResult{Stdout: "kata-runtime  : 3.21.0\n   commit   : abc\n   OCI specs: 1.2.0\n"}, bin, "--version")
	if v, err := Version(ctx, h); v != "3.21.0" || err != nil {
		t.Fatalf("got %q, %v", v, err)
	}
	fr.Script(hosttest.FakeResult{Stdout: "something else\n"}, bin, "--version")
	if _, err := Version(ctx, h); err == nil || !strings.Contains(err.Error(), "no version") {
		t.Fatalf("got %v", err)
	}
	offline, err := host.New(h.Root())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Version(ctx, offline); !errors.Is(err, host.ErrNotLive) {
		t.Fatalf("under --root: %v", err)
	}
}
