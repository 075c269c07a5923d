// Package version holds what the build stamped into the binary.
package version

// Set with -ldflags "-X github.com/eksd-kata/eksd-kata/pkg/version.Version=..." by the Makefile.
var (
	Version = "dev"
	Commit  = "unknown"
)
