package host

import (
	"errors"
	"net"
	"testing"
)

func TestTCPPortInUse(t *testing.T) {
	h, err := New("/")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if busy, err := h.TCPPortInUse(port); err != nil || !busy {
		t.Fatalf("listening port %d: busy=%v err=%v", port, busy, err)
	}
	l.Close()
	if busy, err := h.TCPPortInUse(port); err != nil || busy {
		t.Fatalf("closed port %d: busy=%v err=%v", port, busy, err)
	}
	off, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := off.TCPPortInUse(port); !errors.Is(err, ErrNotLive) {
		t.Fatalf("under --root: %v", err)
	}
}
