package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/artifacts"
	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/preflight"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// flagCompletions are the values of flags, by name, wherever a verb binds
// them: most come from config.Overrides, which every verb shares.
var flagCompletions = map[string]cobra.CompletionFunc{
	"release":       oneOf(releases),
	"role":          oneOf(values(string(config.RoleControlPlane), string(config.RoleWorker))),
	"cgroup-driver": oneOf(values(config.CgroupDriverSystemd, config.CgroupDriverCgroupfs)),
	"hypervisors":   listOf(values(config.Hypervisors...)),
	"ignore":        listOf(checkIDs),
	"output":        formats,
	"log-format":    formats,

	"config":             files("yaml", "yml"),
	"file":               files("yaml", "yml"),
	"release-manifest":   files("yaml", "yml"),
	"cni-manifest":       files(),
	"install-kata":       files(),
	"install-containerd": containerdVersions,
	"kata-checksum-file": files(),
	"kubeconfig":         files(),
	"artifacts-dir":      dirs,
	"root":               dirs,
}

// formats are the values of --output and --log-format.
var formats = oneOf(values("text", "json"))

// completeFlags registers flagCompletions on every command under root.
// The shells ask for them through cobra's hidden __complete command.
func completeFlags(root *cobra.Command) {
	seen := map[*pflag.Flag]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		register := func(f *pflag.Flag) {
			fn, ok := flagCompletions[f.Name]
			if !ok || seen[f] {
				return
			}
			seen[f] = true
			if _, done := c.GetFlagCompletionFunc(f.Name); done {
				return // the verb gave its own
			}
			if err := c.RegisterFlagCompletionFunc(f.Name, fn); err != nil {
				panic(err) // the flag was just found on c
			}
		}
		c.Flags().VisitAll(register)
		c.PersistentFlags().VisitAll(register)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// completeSteps completes --only and --skip with the names of steps.
func completeSteps(cmd *cobra.Command, steps []string) {
	for _, name := range []string{"only", "skip"} {
		if err := cmd.RegisterFlagCompletionFunc(name, listOf(values(steps...))); err != nil {
			panic(err) // the verb binds both before it calls this
		}
	}
}

// oneOf completes a flag that takes one of items.
func oneOf(items func() []cobra.Completion) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, typed string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return matching(items(), "", typed), cobra.ShellCompDirectiveNoFileComp
	}
}

// listOf completes the item after the last comma of a comma-separated
// flag. Each answer repeats what is typed before it, as the shells match
// answers against the whole word; items already in the list are left out.
func listOf(items func() []cobra.Completion) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, typed string) ([]cobra.Completion, cobra.ShellCompDirective) {
		i := strings.LastIndex(typed, ",") + 1
		given := strings.Split(typed[:i], ",")
		var rest []cobra.Completion
		for _, it := range items() {
			if !slices.Contains(given, value(it)) {
				rest = append(rest, it)
			}
		}
		// No space after an item, so that a comma can follow.
		return matching(rest, typed[:i], typed[i:]), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}

// matching returns the items that begin with word, each after before.
func matching(items []cobra.Completion, before, word string) []cobra.Completion {
	var out []cobra.Completion
	for _, it := range items {
		if strings.HasPrefix(value(it), word) {
			out = append(out, before+it)
		}
	}
	return out
}

// value is a completion without its description.
func value(c cobra.Completion) string {
	v, _, _ := strings.Cut(c, "\t")
	return v
}

func values(vs ...string) func() []cobra.Completion {
	return func() []cobra.Completion { return vs }
}

// releases are the embedded EKS-D releases: each channel (its newest
// release) and each channel-number.
func releases() []cobra.Completion {
	var out []cobra.Completion
	rs := eksd.Embedded()
	for i, r := range rs {
		// Embedded is sorted: the last of a channel is its newest.
		if i == len(rs)-1 || rs[i+1].Channel() != r.Channel() {
			out = append(out, cobra.CompletionWithDesc(r.Channel(), fmt.Sprintf("newest embedded: %s-%d", r.Channel(), r.Number())))
		}
		out = append(out, cobra.CompletionWithDesc(fmt.Sprintf("%s-%d", r.Channel(), r.Number()), "Kubernetes "+r.KubernetesVersion()))
	}
	return out
}

// checkIDs are the preflight check ids --ignore takes, and "all".
func checkIDs() []cobra.Completion {
	var out []cobra.Completion
	for _, c := range preflight.All() {
		out = append(out, cobra.CompletionWithDesc(c.ID, string(c.Category)))
	}
	return append(out, cobra.CompletionWithDesc(preflight.IgnoreAll, "every check"))
}

// containerdVersions completes --install-containerd with the containerd
// versions eksd-kata carries checksums for, each line (its newest patch)
// before its versions; what no version begins with is a file.
func containerdVersions(_ *cobra.Command, _ []string, typed string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var vs []cobra.Completion
	seen := map[string]bool{}
	for _, v := range artifacts.Versions(artifacts.Containerd) {
		if line := v[:strings.LastIndexByte(v, '.')]; !seen[line] {
			seen[line] = true
			vs = append(vs, cobra.CompletionWithDesc(line, "its newest patch, "+v))
		}
		vs = append(vs, v)
	}
	if out := matching(vs, "", typed); len(out) > 0 {
		return out, cobra.ShellCompDirectiveNoFileComp
	}
	return nil, cobra.ShellCompDirectiveDefault
}

// files completes file names, only those ending in exts when given.
func files(exts ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(exts) == 0 {
			return nil, cobra.ShellCompDirectiveDefault
		}
		return exts, cobra.ShellCompDirectiveFilterFileExt
	}
}

func dirs(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveFilterDirs
}
