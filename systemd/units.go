// Package systemd holds the unit files eksd-kata installs: the kubelet's
// as text templates ({{.BinDir}} is where the node binaries were
// installed), containerd's as its project publishes it.
package systemd

import "embed"

// Files are kubelet.service and 10-kubeadm.conf (the kubelet drop-in).
//
//go:embed kubelet.service 10-kubeadm.conf
var Files embed.FS

// Containerd is the unit containerd publishes for its release installed
// in /usr/local/bin.
//
//go:embed containerd.service
var Containerd []byte
