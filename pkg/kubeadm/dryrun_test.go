package kubeadm

import (
	"context"
	"errors"
	"github.com/eksd-kata/eksd-kata/pkg/redact"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/bootstrap"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/kube/kubetest"
	"golang.org/x/sys/unix"
)

// nsChildEnv makes the test binary, re-executed in a new mount namespace,
// cover / with throwaway overlays and exec kubeadm instead of running tests.
const nsChildEnv = "EKSD_KATA_KUBEADM_NS_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(nsChildEnv) != "" {
		nsChild(os.Args[1], os.Args[2:])
	}
	// One real API server for the tests of kubeadm upgrade's cluster side.
	os.Exit(kubetest.Main(m, nil))
}

// nsChild runs in its own mount namespace (CLONE_NEWNS): with / rprivate,
// /etc and /var become overlays whose upper layers live on a tmpfs, so
// whatever kubeadm writes there vanishes with the namespace.
func nsChild(scratch string, argv []string) {
	fail := func(what string, err error) {
		os.Stderr.WriteString("ns child: " + what + ": " + err.Error() + "\n")
		os.Exit(111)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		fail("make / rprivate", err)
	}
	if err := unix.Mount("tmpfs", scratch, "tmpfs", 0, "mode=0700"); err != nil {
		fail("tmpfs", err)
	}
	for _, dir := range []string{"/etc", "/var"} {
		upper := filepath.Join(scratch, dir, "upper")
		work := filepath.Join(scratch, dir, "work")
		for _, d := range []string{upper, work} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				fail("mkdir", err)
			}
		}
		opts := "lowerdir=" + dir + ",upperdir=" + upper + ",workdir=" + work
		if err := unix.Mount("overlay", dir, "overlay", 0, opts); err != nil {
			fail("overlay on "+dir, err)
		}
	}
	// Commands separated by thenArg run one after the other in the
	// namespace; the first that fails ends it with its exit code.
	for {
		next := slices.Index(argv, thenArg)
		if next < 0 {
			break
		}
		cmd := exec.Command(argv[0], argv[1:next]...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				os.Exit(exit.ExitCode())
			}
			fail("run "+argv[0], err)
		}
		argv = argv[next+1:]
	}
	err := syscall.Exec(argv[0], argv, os.Environ())
	fail("exec "+argv[0], err)
}

// thenArg separates the commands an ns child runs.
const thenArg = "--then--"

// inNamespace runs the commands (separated by thenArg) in a throwaway
// mount namespace and returns their combined output.
func inNamespace(t *testing.T, argv ...string) ([]byte, error) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: a mount namespace and kubeadm's root check")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, self, append([]string{t.TempDir()}, argv...)...)
	cmd.Env = append(os.Environ(), nsChildEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	return cmd.CombinedOutput()
}

// kubeadmBinary is the kubeadm scripts/build-kubeadm.sh builds, or $EKSD_KATA_KUBEADM.
func kubeadmBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("EKSD_KATA_KUBEADM")
	if bin == "" {
		bin = filepath.Join("..", "..", ".cache", "bin", "kubeadm")
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Skipf("no kubeadm binary at %s (make test-prereqs builds it, or set EKSD_KATA_KUBEADM): %v", abs, err)
	}
	return abs
}

func writeRendered(t *testing.T) string {
	t.Helper()
	return writeRenderedConfig(t, testConfig())
}

func writeRenderedConfig(t *testing.T, cfg *config.NodeConfig) string {
	t.Helper()
	data, err := RenderInit(cfg, eksd.Default())
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "kubeadm.yaml")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestKubeadmInitDryRun: the kubeadm of the Kubernetes release we link
// runs init --dry-run with our config to the end. It runs in a private
// mount namespace, so the host's /etc and /var are untouched. With a
// controlPlaneEndpoint, init uploads the certificates (--upload-certs, as
// the kubeadm step runs it) and prints a control-plane join command too.
func TestKubeadmInitDryRun(t *testing.T) {
	bin := kubeadmBinary(t)
	for _, tc := range []struct {
		name, endpoint, joinsAt string
		overlay, wantOut        string // spec.kubeadm, and what kubeadm then prints
	}{
		{name: "single", joinsAt: "192.0.2.10:6443"},
		{name: "control-plane endpoint", endpoint: "cp.example.com", joinsAt: "cp.example.com:6443"},
		{name: "spec.kubeadm", joinsAt: "192.0.2.10:6443",
			overlay: "clusterConfiguration: {encryptionAlgorithm: ECDSA-P256, apiServer: {certSANs: [api.example.com]}}",
			wantOut: "apiserver serving cert is signed for DNS names [api.example.com "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := overlayConfig(t, tc.overlay)
			cfg.Spec.Network.ControlPlaneEndpoint = tc.endpoint
			argv := []string{bin, "init", "--dry-run", "--config", writeRenderedConfig(t, cfg),
				// No kubelet, containerd or images here: preflight would stop at them.
				"--ignore-preflight-errors=all"}
			if tc.endpoint != "" {
				argv = append(argv, "--upload-certs")
			}
			out, err := inNamespace(t, argv...)
			if err != nil {
				t.Fatalf("kubeadm init --dry-run: %v\n%s", err, tail(out))
			}
			if !strings.Contains(string(out), "initialized successfully") {
				t.Fatalf("kubeadm init --dry-run did not finish:\n%s", tail(out))
			}
			if !strings.Contains(string(out), tc.wantOut) {
				t.Fatalf("kubeadm's output lacks %q:\n%s", tc.wantOut, out)
			}
			// Our reading of its real output: the join commands are found
			// and their secrets are redacted from what is shown and logged.
			parser := &joinParser{}
			sink := &lineSink{raw: parser.Line}
			_, _ = sink.Write(out)
			sink.Flush()
			worker, cp := parser.Commands()
			token := regexp.MustCompile(`[a-z0-9]{6}\.[a-z0-9]{16}`).FindString(worker)
			if !strings.HasPrefix(worker, "kubeadm join "+tc.joinsAt+" --token ") || token == "" || !strings.Contains(worker, "--discovery-token-ca-cert-hash sha256:") || strings.Contains(worker, "--control-plane") {
				t.Fatalf("worker join command %q", redact.String(worker))
			}
			log := string(sink.Log())
			if strings.Contains(log, token) || !strings.Contains(log, "--token "+redact.Hidden) {
				t.Fatalf("token not redacted in the log")
			}
			if tc.endpoint == "" {
				if cp != "" {
					t.Fatalf("a control-plane join command without an endpoint: %q", redact.String(cp))
				}
				return
			}
			key := regexp.MustCompile(`--certificate-key ([a-f0-9]{64})$`).FindStringSubmatch(cp)
			if !strings.HasPrefix(cp, "kubeadm join "+tc.joinsAt+" --token "+token+" ") || !strings.Contains(cp, " --control-plane ") || key == nil {
				t.Fatalf("control-plane join command %q", redact.String(cp))
			}
			if strings.Contains(log, key[1]) || !strings.Contains(log, "--certificate-key "+redact.Hidden) {
				t.Fatalf("certificate key not redacted in the log:\n%s", tail([]byte(log)))
			}
			if _, err := os.Stat("/etc/kubernetes/tmp"); err == nil {
				t.Errorf("/etc/kubernetes/tmp exists on the host: the namespace leaked")
			}
		})
	}
}

// TestKubeadmCertsPhasesThenInit: the release's kubeadm runs the certs
// step's commands with our config and writes the files kubeadm init
// reads, and its preflight; init, as the kubeadm step runs it after them,
// takes up the CA they made and runs neither the kubeconfig phase nor the
// checks again.
func TestKubeadmCertsPhasesThenInit(t *testing.T) {
	bin := kubeadmBinary(t)
	_, err := os.Stat(CACert)
	hadCA := err == nil
	cfg := writeRendered(t)
	h, _, _ := fixtureHost(t)
	// The commands the two steps plan, run by the real kubeadm with the
	// config where this test wrote it.
	commands := func(s bootstrap.Step) (argv []string) {
		p, err := s.Plan(context.Background(), h)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Changes {
			if run, ok := c.(*Run); ok {
				cmd := slices.Clone(run.Argv)
				cmd[0] = bin
				cmd[slices.Index(cmd, ConfigFile)] = cfg
				if slices.Contains(cmd, "preflight") {
					// No kubelet or CRI here: the checks run, and what
					// they find is a warning.
					cmd = append(cmd, "--ignore-preflight-errors=all")
				}
				argv = append(append(argv, cmd...), thenArg)
			}
		}
		if len(argv) == 0 {
			t.Fatalf("%s: no kubeadm command planned: %v", s.Name(), p.Summaries())
		}
		return argv
	}
	argv := commands(certsStep())
	files := []string{CACert, "/etc/kubernetes/pki/apiserver.crt", "/etc/kubernetes/pki/etcd/ca.key", "/etc/kubernetes/pki/sa.key", AdminConf, KubeletConf, "/etc/kubernetes/super-admin.conf", "/etc/kubernetes/controller-manager.conf", "/etc/kubernetes/scheduler.conf"}
	argv = append(argv, "/bin/ls", "-1")
	argv = append(argv, files...)
	init := initStep(nil, probeOK)
	init.AfterCertsStep = true
	initArgv := commands(init)
	if !slices.Contains(initArgv, "--skip-phases=preflight,kubeconfig") {
		t.Fatalf("init does not skip the preflight and kubeconfig phases the certs step ran: %q", initArgv)
	}
	argv = append(append(argv, thenArg), initArgv[:len(initArgv)-1]...)
	// A dry run keeps its kubeconfig files in a directory of its own, so
	// without its kubeconfig phase it can go only as far as the phases
	// that need no client; the real run reads the certs step's files.
	argv = append(argv, "--dry-run", "--ignore-preflight-errors=all",
		"--skip-phases=wait-control-plane,upload-config,upload-certs,mark-control-plane,bootstrap-token,kubelet-finalize,addon,show-join-command")
	out, err := inNamespace(t, argv...)
	if err != nil {
		t.Fatalf("%v\n%s", err, tail(out))
	}
	for _, want := range append(files, "Using existing ca certificate authority", "[kubelet-start]") {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, tail(out))
		}
	}
	at := strings.Index(string(out), "[init]")
	if at < 0 || !strings.Contains(string(out[:at]), "[preflight] Running pre-flight checks") {
		t.Errorf("init did not run, or the certs step ran no preflight before it:\n%s", tail(out))
	}
	for _, phase := range []string{"[kubeconfig]", "[preflight]"} {
		if at >= 0 && strings.Contains(string(out[at:]), phase) {
			t.Errorf("init ran its %s phase again:\n%s", phase, tail(out))
		}
	}
	if _, err := os.Stat(CACert); err == nil && !hadCA {
		t.Errorf("%s exists on the host: the namespace leaked", CACert)
	}
}

// TestKubeadmImagesAgree: what the release's kubeadm says it will run is
// exactly what our images step provides, pause included (3.10.2 for 1-36).
func TestKubeadmImagesAgree(t *testing.T) {
	bin := kubeadmBinary(t)
	out, err := exec.Command(bin, "config", "images", "list", "--config", writeRendered(t)).Output()
	if err != nil {
		t.Fatalf("kubeadm config images list: %v", err)
	}
	got := strings.Fields(string(out))
	pairs, err := eksd.Images(eksd.Default(), eksd.ControlPlane, "")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, p := range pairs {
		want = append(want, p.Target)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("kubeadm lists\n  %v\nour images step provides\n  %v", got, want)
	}
	if !slices.Contains(got, "public.ecr.aws/eks-distro/kubernetes/pause:3.10.2") {
		t.Fatalf("pause: %v", got)
	}
}

func tail(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
