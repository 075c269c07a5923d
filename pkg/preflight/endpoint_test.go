package preflight

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/host"
)

// TestCheckAPIEndpoint dials real listeners and asks the system resolver:
// a joining node's endpoint must answer, a first control plane's stable
// endpoint must resolve; each failure names the field and what to do.
func TestCheckAPIEndpoint(t *testing.T) {
	open, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	for _, tc := range []struct {
		name         string
		join, stable string
		offline      bool
		want         Status
		wantMsg      string
	}{
		{name: "none", want: Pass, wantMsg: "a single control plane"},
		{name: "join reachable", join: open.Addr().String(), want: Pass, wantMsg: "answers"},
		{name: "join refused", join: closedAddr, want: Fail, wantMsg: "cannot reach the API server at " + closedAddr + " (spec.join.controlPlaneEndpoint)"},
		{name: "stable IP", stable: "192.0.2.10:6443", want: Pass, wantMsg: "stable control-plane endpoint 192.0.2.10:6443"},
		{name: "stable name", stable: "localhost:6443", want: Pass, wantMsg: "localhost:6443 resolves to "},
		{name: "stable name, no port", stable: "localhost", want: Pass, wantMsg: "resolves to "},
		{name: "stable name unknown", stable: "no-such-node.invalid:6443", want: Fail, wantMsg: "no-such-node.invalid (spec.network.controlPlaneEndpoint) does not resolve"},
		{name: "offline", join: closedAddr, offline: true, want: Skip},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Spec.Join.ControlPlaneEndpoint = tc.join
			cfg.Spec.Network.ControlPlaneEndpoint = tc.stable
			e := &Env{Config: cfg, Endpoints: host.NetEndpoints{}}
			if tc.offline {
				e.Endpoints = nil
			}
			r := checkAPIEndpoint(context.Background(), e)
			if r.Status != tc.want || !strings.Contains(r.Message, tc.wantMsg) || (r.Status == Fail && r.Remedy == "") {
				t.Fatalf("got %v %q (remedy %q), want %v %q", r.Status, r.Message, r.Remedy, tc.want, tc.wantMsg)
			}
		})
	}
}
