package kube

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

var (
	force   = true
	getOpts = metav1.GetOptions{}
	// Force: eksd-kata owns these fields even if someone applied them before
	// (kubectl, an older kata-deploy); that is the point of the step.
	applyOpts  = metav1.PatchOptions{FieldManager: FieldManager, Force: &force}
	deleteOpts = metav1.DeleteOptions{}
)
