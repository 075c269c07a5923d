// Package systemd holds the unit files eksd-kata installs, as text
// templates: {{.BinDir}} is where the node binaries were installed.
package systemd

import "embed"

// Files are kubelet.service and 10-kubeadm.conf (the kubelet drop-in).
//
//go:embed kubelet.service 10-kubeadm.conf
var Files embed.FS
