package kubeadm

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/bootstrap"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
)

func certsStep() *CertsStep {
	return &CertsStep{Config: testConfig(), Release: eksd.Default(), Now: func() time.Time { return stamp }}
}

// TestCertsBeforeInit: on a fresh host the certs step writes the kubeadm
// config and runs kubeadm's certs and kubeconfig phases, in that order,
// through argv; once init went past them (a static pod is written) it
// plans nothing.
func TestCertsBeforeInit(t *testing.T) {
	h, root, fr := fixtureHost(t)
	s := certsStep()
	p, err := s.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"create " + ConfigFile,
		"run " + kubeadmBin + " init phase certs all --config " + ConfigFile + ", output kept in /var/log/eksd-kata/kubeadm-certs-20260504T030201Z.log",
		"run " + kubeadmBin + " init phase kubeconfig all --config " + ConfigFile + ", output kept in /var/log/eksd-kata/kubeadm-kubeconfig-20260504T030201Z.log",
	}
	if got := p.Summaries(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var out bytes.Buffer
	s.Out = &out
	if _, err := bootstrap.Run(context.Background(), h, []bootstrap.Step{s}, bootstrap.Options{Out: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	var ran []string
	for _, argv := range fr.Argvs() {
		ran = append(ran, strings.Join(argv, " "))
	}
	if strings.Join(ran, "\n") != kubeadmBin+" init phase certs all --config "+ConfigFile+"\n"+kubeadmBin+" init phase kubeconfig all --config "+ConfigFile {
		t.Fatalf("ran:\n%s", strings.Join(ran, "\n"))
	}
	if !strings.Contains(out.String(), "kubeadm init phase certs all took ") {
		t.Errorf("the phase's own time is not shown:\n%s", out.String())
	}
	readFile(t, root, ConfigFile, 0o600)

	// kubeadm init went on: static pods are written.
	writeControlPlane(root)
	wantEmptyPlan(t, s, h, "after init")
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
	s.KubeconfigsMade = true // by the certs step of this run
	p, err := s.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Summaries(); len(got) != 4 || !strings.HasPrefix(got[1], "run "+kubeadmBin+" init --config "+ConfigFile+" --skip-phases=kubeconfig,") {
		t.Fatalf("plan %v", got)
	}
	if notes := strings.Join(p.Notes, "\n"); !strings.Contains(notes, "uses the certificates and kubeconfig files found") || !strings.Contains(notes, AdminConf) {
		t.Fatalf("notes %v", p.Notes)
	}
}
