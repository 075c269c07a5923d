package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"text/tabwriter"

	"github.com/eksd-kata/eksd-kata/pkg/containerd"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/version"
	"github.com/spf13/cobra"
)

// versionInfo is `version -o json`.
type versionInfo struct {
	Version        string      `json:"version"`
	Commit         string      `json:"commit"`
	Go             string      `json:"go"`
	Platform       string      `json:"platform"`
	DefaultRelease releaseInfo `json:"defaultRelease"`
}

// releaseInfo names one EKS-D release.
type releaseInfo struct {
	Channel           string `json:"channel"`
	Number            int    `json:"number"`
	KubernetesVersion string `json:"kubernetesVersion"`
}

// releaseRow is one embedded release of `version --releases -o json`.
type releaseRow struct {
	releaseInfo
	// MinimumContainerd lists the oldest containerd of each release line
	// the release's kubelet supports.
	MinimumContainerd []string `json:"minimumContainerd"`
	Default           bool     `json:"default"`
}

func newReleaseInfo(r *eksd.Release) releaseInfo {
	return releaseInfo{Channel: r.Channel(), Number: r.Number(), KubernetesVersion: r.KubernetesVersion()}
}

func newVersionCmd() *cobra.Command {
	var (
		output   string
		releases bool
	)
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the eksd-kata version and the EKS-D releases it knows",
		Long: `version prints the eksd-kata version and its default EKS-D release;
--releases lists every embedded EKS-D release instead, with its Kubernetes
version and the containerd versions its kubelet supports.`,
		Args: positional(cobra.NoArgs),
		Example: `  # This program's version and the EKS-D release it installs by default
  eksd-kata version

  # Every EKS-D release it knows, with the containerd versions each supports
  eksd-kata version --releases

  # As JSON, for a script
  eksd-kata version -o json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := jsonOutput(output)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if releases {
				return writeReleases(out, asJSON)
			}
			info := versionInfo{
				Version:        version.Version,
				Commit:         version.Commit,
				Go:             runtime.Version(),
				Platform:       runtime.GOOS + "/" + runtime.GOARCH,
				DefaultRelease: newReleaseInfo(eksd.Default()),
			}
			if asJSON {
				return writeJSON(out, info)
			}
			d := info.DefaultRelease
			fmt.Fprintf(out, "eksd-kata %s (commit %s, %s, %s)\n", info.Version, info.Commit, info.Go, info.Platform)
			fmt.Fprintf(out, "default EKS-D release: %s-%d (Kubernetes %s)\n", d.Channel, d.Number, d.KubernetesVersion)
			return nil
		},
	}
	bindOutput(cmd, &output)
	cmd.Flags().BoolVar(&releases, "releases", false, "list the embedded EKS-D releases and the containerd versions each needs")
	return cmd
}

// writeReleases lists the embedded releases, oldest first, the default
// one marked (first column, as kubectl marks the current context).
func writeReleases(out io.Writer, asJSON bool) error {
	d := eksd.Default()
	var list []releaseRow
	for _, r := range eksd.Embedded() {
		list = append(list, releaseRow{
			releaseInfo:       newReleaseInfo(r),
			MinimumContainerd: containerd.MinimumVersions(eksd.ChannelMinor(r.Channel())),
			Default:           r.Channel() == d.Channel() && r.Number() == d.Number(),
		})
	}
	if asJSON {
		return writeJSON(out, list)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEFAULT\tCHANNEL\tNUMBER\tKUBERNETES\tCONTAINERD")
	for _, r := range list {
		mark := ""
		if r.Default {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", mark, r.Channel, r.Number, r.KubernetesVersion, containerd.MinimumVersionsText(eksd.ChannelMinor(r.Channel)))
	}
	return tw.Flush()
}

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
