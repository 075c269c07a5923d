// Command gen writes the embedded EKS-D release manifests of package eksd
// from the release notes tables: go generate ./pkg/eksd
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/eksd-kata/eksd-kata/pkg/eksd/internal/releasenotes"
)

func main() {
	in := flag.String("in", "../../../shared/eksd-releases", "directory of kubernetes-<ch>-eks-<n>.md release notes")
	out := flag.String("out", "releases", "directory to write kubernetes-<ch>-eks-<n>.yaml manifests to")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	notes, err := releasenotes.ParseDir(in)
	if err != nil {
		return err
	}
	for _, n := range notes {
		data, err := n.Render()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, n.FileName()), data, 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", filepath.Join(out, n.FileName()))
	}
	return nil
}
