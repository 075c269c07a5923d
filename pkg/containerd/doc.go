// Package containerd renders /etc/containerd/config.toml for an EKS-D node
// whose pods may run in Kata Containers VMs.
//
// Rendering is pure: the caller reads the existing file, passes its bytes to
// Render and writes the result. An existing file is merged, never
// clobbered: every key we do not own survives, and we add or update only the
// runc and Kata runtimes, the sandbox (pause) image, the CRI plugin's
// enablement and restrict_oom_score_adj. The layout follows the installed
// containerd: config version 2 for 1.6/1.7, version 3 for 2.x.
package containerd
