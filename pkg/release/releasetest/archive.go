package releasetest

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"

	"github.com/eksd-kata/eksd-kata/pkg/eksd"
)

// AddArchive lists in r a component (containerd, runc, cni-plugins) of
// version gitTag with one Archive asset for arch: the file name, served at
// url, with data's checksums. A private mirror's manifest lists
// containerd and runc so.
func AddArchive(r *eksd.Release, component, gitTag, name, arch, url string, data []byte) {
	s256, s512 := sha256.Sum256(data), sha512.Sum512(data)
	r.Status.Components = append(r.Status.Components, eksd.Component{
		Name: component, GitTag: gitTag,
		Assets: []eksd.Asset{{
			Name: name, Type: eksd.AssetTypeArchive, OS: "linux", Arch: []string{arch},
			Archive: &eksd.AssetArchive{URI: url, SHA256: hex.EncodeToString(s256[:]), SHA512: hex.EncodeToString(s512[:])},
		}},
	})
}
