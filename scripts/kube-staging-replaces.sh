#!/usr/bin/env bash
# Prints the go.mod replace lines that pin every staging module
# k8s.io/kubernetes VERSION replaces with ./staging/src/k8s.io/X to the
# matching published v0 version: the throwaway modules that build kubeadm,
# kube-apiserver and the e2e bundle from the module proxy need them.
#
#   scripts/kube-staging-replaces.sh v1.36.3
set -euo pipefail
ver=$1
gomod=$(go mod download -json "k8s.io/kubernetes@$ver" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/.*#replace \1 => \1 v0.'"${ver#v1.}"'#p' "$gomod"
