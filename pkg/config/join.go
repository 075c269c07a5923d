package config

import (
	"net"
	"regexp"
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Join is how a node joins an existing cluster (eksd-kata join). The token
// and the certificate key are secrets: they are never printed, not even in
// validation errors.
type Join struct {
	// ControlPlaneEndpoint is the API server as host:port.
	ControlPlaneEndpoint string `json:"controlPlaneEndpoint,omitempty"`
	// Token is a bootstrap token, "abcdef.0123456789abcdef".
	Token string `json:"token,omitempty"`
	// DiscoveryTokenCACertHash pins the cluster CA: "sha256:<64 hex>".
	DiscoveryTokenCACertHash string `json:"discoveryTokenCACertHash,omitempty"`
	// ControlPlane joins this node as another control plane (its own API
	// server and etcd member) instead of a worker.
	ControlPlane bool `json:"controlPlane,omitempty"`
	// CertificateKey decrypts the control-plane certificates the first
	// control plane uploaded (kubeadm init --upload-certs): 64 hex digits.
	// Only with controlPlane; kubeadm deletes the upload after two hours.
	CertificateKey string `json:"certificateKey,omitempty"`
}

var (
	bootstrapTokenRE = regexp.MustCompile(`^[a-z0-9]{6}\.[a-z0-9]{16}$`)
	caCertHashRE     = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
	certKeyRE        = regexp.MustCompile(`^[a-f0-9]{64}$`)
)

// ValidateJoin lists every problem of j under p; the endpoint, token and
// hash are required, the certificate key too for a control plane. Neither
// secret's value is ever part of an error.
func ValidateJoin(j *Join, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case j.Token == "":
		errs = append(errs, field.Required(p.Child("token"), "a bootstrap token (kubeadm token create on the control plane)"))
	case !bootstrapTokenRE.MatchString(j.Token):
		errs = append(errs, field.Invalid(p.Child("token"), field.OmitValueType{}, `must look like "abcdef.0123456789abcdef" ([a-z0-9]{6}.[a-z0-9]{16})`))
	}
	switch {
	case j.DiscoveryTokenCACertHash == "":
		errs = append(errs, field.Required(p.Child("discoveryTokenCACertHash"), `"sha256:<hex>" of the cluster CA's public key`))
	case !caCertHashRE.MatchString(j.DiscoveryTokenCACertHash):
		errs = append(errs, field.Invalid(p.Child("discoveryTokenCACertHash"), j.DiscoveryTokenCACertHash, `must be "sha256:" and 64 lower-case hex digits`))
	}
	if j.ControlPlaneEndpoint == "" {
		errs = append(errs, field.Required(p.Child("controlPlaneEndpoint"), "the API server as host:port"))
	} else if msg := validateEndpoint(j.ControlPlaneEndpoint, true); msg != "" {
		errs = append(errs, field.Invalid(p.Child("controlPlaneEndpoint"), j.ControlPlaneEndpoint, msg))
	}
	switch {
	case j.ControlPlane && j.CertificateKey == "":
		errs = append(errs, field.Required(p.Child("certificateKey"), "the key kubeadm init --upload-certs printed (in /etc/eksd-kata/join-command-control-plane on the first control plane)"))
	case j.ControlPlane && !IsCertificateKey(j.CertificateKey):
		errs = append(errs, field.Invalid(p.Child("certificateKey"), field.OmitValueType{}, "must be 64 lower-case hex digits"))
	case !j.ControlPlane && j.CertificateKey != "":
		errs = append(errs, field.Invalid(p.Child("certificateKey"), field.OmitValueType{}, "is only for a control plane: set controlPlane (--control-plane) or leave it out"))
	}
	return errs
}

// IsCertificateKey reports whether key looks like the certificate key
// kubeadm prints: 64 lower-case hex digits (an AES-256 key).
func IsCertificateKey(key string) bool { return certKeyRE.MatchString(key) }

// validateEndpoint checks host:port, or host alone unless needPort, and
// returns what is wrong ("" when nothing).
func validateEndpoint(ep string, needPort bool) string {
	host, port, err := net.SplitHostPort(ep)
	switch {
	case err != nil && needPort:
		return "must be host:port (e.g. 192.0.2.10:6443)"
	case err != nil:
		host, port = ep, ""
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "port must be 1-65535"
		}
	}
	if net.ParseIP(host) == nil && len(validation.IsDNS1123Subdomain(host)) > 0 {
		return "host must be an IP address or a DNS name"
	}
	return ""
}
