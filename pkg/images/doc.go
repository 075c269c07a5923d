// Package images puts the images of an EKS-D release into containerd's
// k8s.io namespace: pulled (from the release's registry or a mirror) or
// imported from an archive, unpacked for the CRI snapshotter, and tagged
// with the references kubeadm expects. Everything goes through the
// containerd Go client; nothing shells out to ctr.
package images
