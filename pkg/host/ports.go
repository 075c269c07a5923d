package host

import (
	"errors"
	"net"
	"strconv"
	"syscall"
)

// TCPPortInUse reports whether something listens on the TCP port, found out
// as kubeadm's preflight does: by listening on it for a moment. Only the
// running system can answer; under --root, ErrNotLive.
func (h *Host) TCPPortInUse(port int) (bool, error) {
	if h.Root() != "/" {
		return false, ErrNotLive
	}
	l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if errors.Is(err, syscall.EADDRINUSE) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return false, l.Close()
}
