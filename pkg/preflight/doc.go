// Package preflight answers, before anything is touched, whether a host can
// become an EKS-D node running Kata Containers VMs, and what bootstrap will
// fix by itself.
//
// Each check is a small value with a stable id that returns one Result. They
// read the host only through host.Host (so --root fixtures describe other
// machines) plus two live probes kept behind interfaces: the KVM ioctls and
// the containerd socket. Nothing here changes the host.
package preflight
