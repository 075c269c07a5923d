package ctrtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// Daemon is a running containerd with its own directories.
type Daemon struct {
	Bin        string
	Dir        string // everything the daemon writes lives here
	Socket     string // grpc address (CRI and containerd API)
	ConfigPath string // the file the daemon loaded
	cmd        *exec.Cmd
	exited     chan error
	logPath    string
}

// Start runs bin with config (a rendered config.toml) plus root, state,
// sockets and opt path under a fresh directory, waits until the grpc socket
// answers, and stops the daemon when t ends. NRI is disabled so that the
// daemon does not claim the host's /var/run/nri/nri.sock.
func Start(t testing.TB, bin string, config []byte) *Daemon {
	t.Helper()
	// Short path: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "ctrtest")
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{
		Bin:        bin,
		Dir:        dir,
		Socket:     filepath.Join(dir, "c.sock"),
		ConfigPath: filepath.Join(dir, "config.toml"),
		logPath:    filepath.Join(dir, "containerd.log"),
		exited:     make(chan error, 1),
	}
	t.Cleanup(func() { d.stop(t) })
	cfg, err := Localize(config, dir)
	if err != nil {
		t.Fatalf("localize config: %v", err)
	}
	if err := os.WriteFile(d.ConfigPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(d.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	d.cmd = exec.Command(bin, "--config", d.ConfigPath, "--log-level", "info")
	d.cmd.Stdout, d.cmd.Stderr = log, log
	// Shims installed beside the daemon win: a 2.x daemon cannot drive
	// Debian's 1.6 runc shim.
	if real, err := filepath.EvalSymlinks(bin); err == nil {
		d.cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(real)+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	// Own process group: a signal to the test does not reach the daemon first.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() { d.exited <- d.cmd.Wait() }()
	if err := d.wait(30 * time.Second); err != nil {
		t.Fatalf("%s did not come up: %v\n%s", bin, err, d.LogTail(60))
	}
	return d
}

// Pid is the daemon's process id.
func (d *Daemon) Pid() int { return d.cmd.Process.Pid }

// Localize rewrites the daemon-wide paths of a config into dir and leaves
// the CRI sections as rendered. Versions 2 and 3 take the grpc and ttrpc
// addresses at the top level; version 4 (containerd 2.4+) in server plugins.
func Localize(config []byte, dir string) ([]byte, error) {
	doc := map[string]any{}
	if err := toml.Unmarshal(config, &doc); err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "c.sock")
	doc["root"] = filepath.Join(dir, "root")
	doc["state"] = filepath.Join(dir, "state")
	plugins := sub(doc, "plugins")
	plugin := func(id string) map[string]any { return sub(plugins, id) }
	plugin("io.containerd.internal.v1.opt")["path"] = filepath.Join(dir, "opt")
	v, _ := doc["version"].(int64)
	if v >= 4 {
		plugin("io.containerd.server.v1.grpc")["address"] = sock
		plugin("io.containerd.server.v1.ttrpc")["address"] = sock + ".ttrpc"
		plugin("io.containerd.server.v1.debug")["address"] = ""
		plugin("io.containerd.server.v1.metrics")["address"] = ""
	} else {
		sub(doc, "grpc")["address"] = sock
		sub(doc, "ttrpc")["address"] = sock + ".ttrpc"
		sub(doc, "debug")["address"] = ""
		sub(doc, "metrics")["address"] = ""
	}
	disabled, _ := doc["disabled_plugins"].([]any)
	doc["disabled_plugins"] = append(disabled, "io.containerd.nri.v1.nri")
	// Drop-ins of the host must not leak into a test daemon.
	delete(doc, "imports")
	return toml.Marshal(doc)
}

func sub(t map[string]any, k string) map[string]any {
	s, _ := t[k].(map[string]any)
	if s == nil {
		s = map[string]any{}
		t[k] = s
	}
	return s
}

func (d *Daemon) wait(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-d.exited:
			d.exited <- err
			return fmt.Errorf("daemon exited: %v", err)
		default:
		}
		if c, err := net.Dial("unix", d.Socket); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no socket %s after %s", d.Socket, timeout)
}

// LogTail returns the last n lines of the daemon's log.
func (d *Daemon) LogTail(n int) string {
	b, _ := os.ReadFile(d.logPath)
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// ConfigDump runs `<bin> config dump` on a file, proving the daemon's own
// parser accepts it. It returns the dumped (fully defaulted) config.
func ConfigDump(ctx context.Context, bin, path string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "--config", path, "config", "dump")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s --config %s config dump: %v: %s", bin, path, err, stderr.Bytes())
	}
	return stdout.Bytes(), nil
}

// stop ends the daemon, the shims it started and their mounts.
func (d *Daemon) stop(t testing.TB) {
	if d.cmd != nil && d.cmd.Process != nil {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(15 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.exited
		}
	}
	killShims(d.Socket)
	unmountUnder(d.Dir)
	if t.Failed() {
		t.Logf("containerd log tail (%s):\n%s", d.Bin, d.LogTail(40))
	}
	if err := os.RemoveAll(d.Dir); err != nil {
		t.Logf("cleanup: %v", err)
	}
}
