package eksd

// These types mirror the EKS-D Release manifest
// (distro.eks.amazonaws.com/v1alpha1, kind Release) that
// distro.eks.amazonaws.com publishes for every release. Only the fields we
// read are declared; Parse ignores the rest so that newer manifests with
// extra fields still load.

// APIVersion and Kind identify an EKS-D release manifest.
const (
	APIVersion = "distro.eks.amazonaws.com/v1alpha1"
	Kind       = "Release"
)

// Asset types used in status.components[].assets[].type.
const (
	AssetTypeImage   = "Image"
	AssetTypeArchive = "Archive"
)

// Release is an EKS-D release manifest. Use Parse, Embedded or Lookup to get
// one that has been validated; the accessor methods assume a valid release.
type Release struct {
	APIVersion string        `json:"apiVersion"`
	Kind       string        `json:"kind"`
	Metadata   Metadata      `json:"metadata"`
	Spec       ReleaseSpec   `json:"spec"`
	Status     ReleaseStatus `json:"status"`

	// kubeadmPauseTag is what the release's own kubeadm said it expects
	// (SetKubeadmPauseTag); it wins over the table of known channels.
	kubeadmPauseTag string
}

// Metadata is the part of Kubernetes object metadata a manifest carries.
type Metadata struct {
	Name string `json:"name,omitempty"`
}

// ReleaseSpec says which release this is: channel "1-36", number 7.
type ReleaseSpec struct {
	Channel         string `json:"channel"`
	Number          int    `json:"number"`
	BuildRepoCommit string `json:"buildRepoCommit,omitempty"`
}

// ReleaseStatus lists what the release is made of.
type ReleaseStatus struct {
	Date       string      `json:"date,omitempty"`
	Components []Component `json:"components"`
}

// Component is one upstream project built for the release ("kubernetes",
// "coredns", "etcd", ...). GitTag is the upstream tag it was built from.
type Component struct {
	Name      string  `json:"name"`
	GitCommit string  `json:"gitCommit,omitempty"`
	GitTag    string  `json:"gitTag,omitempty"`
	Assets    []Asset `json:"assets"`
}

// Asset is one image or file of a component.
type Asset struct {
	Name        string        `json:"name"`
	Type        string        `json:"type"`
	Description string        `json:"description,omitempty"`
	OS          string        `json:"os,omitempty"`
	Arch        []string      `json:"arch,omitempty"`
	Image       *AssetImage   `json:"image,omitempty"`
	Archive     *AssetArchive `json:"archive,omitempty"`
}

// AssetImage is a container image reference.
type AssetImage struct {
	URI         string `json:"uri"`
	ImageDigest string `json:"imageDigest,omitempty"`
}

// AssetArchive is a downloadable file. The checksums are deliberately not
// omitempty: an embedded manifest writes `sha512: ""` to say "unknown", and
// installers must refuse such a file rather than trust it.
type AssetArchive struct {
	URI    string `json:"uri"`
	SHA256 string `json:"sha256"`
	SHA512 string `json:"sha512"`
}
