package kubeadm

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/bootstrap"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/host/hosttest"
)

func certsStep() *CertsStep {
	return &CertsStep{Config: testConfig(), Release: eksd.Default(), Now: func() time.Time { return stamp }}
}

// TestCertsBeforeInit: on a fresh host the certs step writes the kubeadm
// config and runs kubeadm's CA phase, then its other certificates, its
// kubeconfig files and its preflight all at once, through argv; once init
// went past them (a static pod is written) it plans nothing.
func TestCertsBeforeInit(t *testing.T) {
	h, root, fr := fixtureHost(t)
	s := certsStep()
	p, err := s.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	ca := kubeadmBin + " init phase certs ca --config " + ConfigFile
	certs := kubeadmBin + " init phase certs all --config " + ConfigFile
	kubeconfig := kubeadmBin + " init phase kubeconfig all --config " + ConfigFile
	preflight := kubeadmBin + " init phase preflight --config " + ConfigFile
	want := []string{
		"create " + ConfigFile,
		"run " + ca + ", output kept in /var/log/eksd-kata/kubeadm-certs-ca-20260504T030201Z.log",
		"run " + certs + ", output kept in /var/log/eksd-kata/kubeadm-certs-all-20260504T030201Z.log",
		"run " + kubeconfig + ", output kept in /var/log/eksd-kata/kubeadm-kubeconfig-all-20260504T030201Z.log",
		"run " + preflight + ", output kept in /var/log/eksd-kata/kubeadm-preflight-20260504T030201Z.log",
	}
	if got := p.Summaries(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var out bytes.Buffer
	s.Out = &out
	if _, err := bootstrap.Run(context.Background(), h, []bootstrap.Step{s}, bootstrap.Options{Out: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	ran := ranCommands(fr)
	// The CA first; the rest together, in any order.
	if len(ran) != 4 || ran[0] != ca || !slices.Contains(ran, certs) || !slices.Contains(ran, kubeconfig) || !slices.Contains(ran, preflight) {
		t.Fatalf("ran:\n%s", strings.Join(ran, "\n"))
	}
	for _, verb := range []string{"certs ca", "certs all", "kubeconfig all", "preflight"} {
		if !strings.Contains(out.String(), "kubeadm init phase "+verb+" took ") {
			t.Errorf("the time of phase %s is not shown:\n%s", verb, out.String())
		}
	}
	readFile(t, root, ConfigFile, 0o600)

	// kubeadm init went on: static pods are written.
	writeControlPlane(root)
	wantEmptyPlan(t, s, h, "after init")
}

func ranCommands(fr *hosttest.FakeRunner) []string {
	var ran []string
	for _, argv := range fr.Argvs() {
		ran = append(ran, strings.Join(argv, " "))
	}
	return ran
}

// TestInitTakesUpCerts: certificates and kubeconfig files without any
// static pod (the certs step ran, or an init stopped before its
// manifests) are not a half-done init: init runs and uses them.
func TestInitTakesUpCerts(t *testing.T) {
	h, root, _ := fixtureHost(t)
	writeControlPlane(root)
	if err := os.Remove(filepath.Join(root, APIServerPod)); err != nil {
		t.Fatal(err)
	}
	s := initStep(nil, probeOK)
	s.AfterCertsStep = true // by the certs step of this run
	p, err := s.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Summaries(); len(got) != 4 || !strings.HasPrefix(got[1], "run "+kubeadmBin+" init --config "+ConfigFile+" --skip-phases=preflight,kubeconfig,") {
		t.Fatalf("plan %v", got)
	}
	if notes := strings.Join(p.Notes, "\n"); !strings.Contains(notes, "uses the certificates and kubeconfig files found") || !strings.Contains(notes, AdminConf) {
		t.Fatalf("notes %v", p.Notes)
	}
}
