package binaries

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestProgressBarOnTerminal(t *testing.T) {
	terminal = func(io.Writer) bool { return true }
	defer func() { terminal = isTerminal }()
	var out bytes.Buffer
	m := newMeter(&out, "kubelet", 3<<20)
	for range 3 {
		_, _ = m.Write(make([]byte, 1<<20))
	}
	m.done("downloaded, sha512 verified")
	s := out.String()
	for _, want := range []string{"kubelet", "/3.0 MiB", "iB/s)", "kubelet: 3.0 MiB in", "sha512 verified"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%q", want, s)
		}
	}
}

func TestPlainProgressWithoutTerminal(t *testing.T) {
	var out bytes.Buffer
	m := newMeter(&out, "kubeadm", 2<<20)
	_, _ = m.Write(make([]byte, 2<<20))
	m.done("downloaded")
	want := "kubeadm: downloading 2.0 MiB\nkubeadm: 2.0 MiB in "
	if !strings.HasPrefix(out.String(), want) || strings.Contains(out.String(), "\r") {
		t.Errorf("got %q, want prefix %q and no redraws", out.String(), want)
	}
}
