// Package kubetest starts a real Kubernetes API server for tests: etcd and
// kube-apiserver (built by scripts/test-prereqs.sh into .cache/bin) on
// loopback ports, with a temporary data directory, a self-signed serving
// certificate and a static admin token. No controller manager, scheduler
// or kubelet runs: pods stay Pending, which the verify tests rely on.
package kubetest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/eksd-kata/eksd-kata/pkg/containerd/ctrtest"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Environment variables naming the binaries instead of .cache/bin.
const (
	EnvAPIServer = "EKSD_KATA_KUBE_APISERVER"
	EnvEtcd      = "EKSD_KATA_ETCD"
)

const token = "eksd-kata-test-admin-token"

// Cluster is a running API server.
type Cluster struct {
	Config     *rest.Config
	Kubeconfig []byte // a kubeconfig for Config, as kubeadm's admin.conf would be
	dir        string
	procs      []proc
	logs       []string
}

// Binaries finds kube-apiserver and etcd, or says why not.
func Binaries() (apiserver, etcd string, err error) {
	root, err := ctrtest.RepoRoot()
	if err != nil {
		return "", "", err
	}
	find := func(env, name string) (string, error) {
		p := os.Getenv(env)
		if p == "" {
			p = filepath.Join(root, ".cache", "bin", name)
		}
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s not built: run scripts/test-prereqs.sh or set %s (%v)", name, env, err)
		}
		return p, nil
	}
	if apiserver, err = find(EnvAPIServer, "kube-apiserver"); err != nil {
		return "", "", err
	}
	etcd, err = find(EnvEtcd, "etcd")
	return apiserver, etcd, err
}

// Start runs etcd and kube-apiserver under dir and waits until the API
// server is ready. Stop ends them.
func Start(dir string) (*Cluster, error) {
	apiserverBin, etcdBin, err := Binaries()
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	if err := c.run(etcdBin, "etcd",
		"--name=test", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+client, "--advertise-client-urls="+client,
		"--listen-peer-urls="+peer, "--initial-advertise-peer-urls="+peer,
		"--initial-cluster=test="+peer, "--unsafe-no-fsync", "--log-level=error",
	); err != nil {
		return nil, err
	}
	files, err := c.writeFiles()
	if err != nil {
		c.Stop()
		return nil, err
	}
	if err := c.run(apiserverBin, "kube-apiserver",
		"--etcd-servers="+client,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(ports[2]),
		"--cert-dir="+filepath.Join(dir, "certs"),
		"--token-auth-file="+files.tokens,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+files.saKey,
		"--service-account-signing-key-file="+files.saKey,
		"--service-cluster-ip-range=10.96.0.0/24",
		"--enable-priority-and-fairness=false",
	); err != nil {
		c.Stop()
		return nil, err
	}
	host := fmt.Sprintf("https://127.0.0.1:%d", ports[2])
	c.Config = &rest.Config{Host: host, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{Insecure: true}, QPS: 100, Burst: 200}
	if c.Kubeconfig, err = kubeconfig(host); err != nil {
		c.Stop()
		return nil, err
	}
	if err := waitReady(host, 90*time.Second); err != nil {
		c.Stop()
		return nil, fmt.Errorf("%w\n%s", err, c.LogTail())
	}
	return c, nil
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

type files struct{ tokens, saKey string }

func (c *Cluster) writeFiles() (files, error) {
	f := files{tokens: filepath.Join(c.dir, "tokens.csv"), saKey: filepath.Join(c.dir, "sa.key")}
	if err := os.WriteFile(f.tokens, []byte(token+",admin,admin-uid,system:masters\n"), 0o600); err != nil {
		return f, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return f, err
	}
	der := x509.MarshalPKCS1PrivateKey(key)
	return f, os.WriteFile(f.saKey, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der}), 0o600)
}

func kubeconfig(host string) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: host, InsecureSkipTLSVerify: true}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["admin@test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "admin"}
	cfg.CurrentContext = "admin@test"
	return clientcmd.Write(*cfg)
}

func (c *Cluster) run(bin, name string, args ...string) error {
	logPath := filepath.Join(c.dir, name+".log")
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); log.Close(); close(done) }()
	c.procs = append(c.procs, proc{cmd, done})
	c.logs = append(c.logs, logPath)
	return nil
}

// Stop ends the processes, API server first.
func (c *Cluster) Stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		_ = p.cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
	}
}

// LogTail returns the end of each process log, for failure messages.
func (c *Cluster) LogTail() string {
	var out string
	for _, p := range c.logs {
		data, _ := os.ReadFile(p)
		if len(data) > 3000 {
			data = data[len(data)-3000:]
		}
		out += fmt.Sprintf("--- %s\n%s\n", filepath.Base(p), data)
	}
	return out
}

func waitReady(host string, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, host+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = errors.New(resp.Status)
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("kube-apiserver not ready after %s: %v", timeout, last)
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Shared runs one cluster for a whole test binary: call it from TestMain,
// then Get from the tests.
var shared struct {
	once sync.Once
	c    *Cluster
	err  error
}

// StartShared starts the shared cluster under dir (idempotent).
func StartShared(dir string) (*Cluster, error) {
	shared.once.Do(func() { shared.c, shared.err = Start(dir) })
	return shared.c, shared.err
}

// Shared returns the cluster StartShared started, or why there is none.
func Shared() (*Cluster, error) {
	if shared.c == nil && shared.err == nil {
		return nil, errors.New("kubetest.StartShared was not called (TestMain)")
	}
	return shared.c, shared.err
}

// Main runs a package's tests (m.Run) beside one shared cluster when the
// binaries are built, seeded by seed (nil: nothing), and returns the exit
// code for os.Exit; the tests that need it call Require.
func Main(m *testing.M, seed func(*Cluster) error) int {
	dir, err := os.MkdirTemp("", "eksd-kata-apiserver-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if _, _, err := Binaries(); err == nil {
		c, err := StartShared(dir)
		if err != nil {
			fmt.Fprintf(os.Stderr, "kube-apiserver: %v\n", err)
			return 1
		}
		defer c.Stop()
		if seed != nil {
			if err := seed(c); err != nil {
				fmt.Fprintf(os.Stderr, "seeding the test cluster: %v\n", err)
				return 1
			}
		}
	}
	return m.Run()
}

// Require returns the shared cluster, or skips t saying why there is none.
func Require(t testing.TB) *Cluster {
	t.Helper()
	if _, _, err := Binaries(); err != nil {
		t.Skipf("no real API server: %v", err)
	}
	c, err := Shared()
	if err != nil {
		t.Fatal(err)
	}
	return c
}
