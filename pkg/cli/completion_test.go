package cli

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/eksd-kata/eksd-kata/pkg/config"
	"github.com/eksd-kata/eksd-kata/pkg/eksd"
	"github.com/eksd-kata/eksd-kata/pkg/preflight"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// complete asks as the shells do, through cobra's hidden __complete
// command, and returns the values offered (without descriptions) and the
// directive.
func complete(t *testing.T, args ...string) ([]string, cobra.ShellCompDirective) {
	t.Helper()
	code, out, stderr := run(t, "", append([]string{"__complete"}, args...)...)
	if code != ExitOK {
		t.Fatalf("__complete %q: exit %d: %s", args, code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	last := lines[len(lines)-1]
	d, err := strconv.Atoi(strings.TrimPrefix(last, ":"))
	if !strings.HasPrefix(last, ":") || err != nil {
		t.Fatalf("__complete %q: no directive line:\n%s", args, out)
	}
	var values []string
	for _, l := range lines[:len(lines)-1] {
		values = append(values, value(l))
	}
	return values, cobra.ShellCompDirective(d)
}

func TestCompleteSteps(t *testing.T) {
	got, _ := complete(t, "bootstrap", "--only", "pre")
	if !slices.Equal(got, []string{"preflight"}) {
		t.Errorf("--only pre: %q", got)
	}
	got, d := complete(t, "bootstrap", "--skip", "preflight,ho")
	if !slices.Equal(got, []string{"preflight,host"}) {
		t.Errorf("--skip preflight,ho: %q", got)
	}
	if d&cobra.ShellCompDirectiveNoSpace == 0 || d&cobra.ShellCompDirectiveNoFileComp == 0 {
		t.Errorf("--skip: directive %d: want no space (a comma may follow) and no files", d)
	}
	// A step already in the list is not offered again.
	got, _ = complete(t, "bootstrap", "--skip", "preflight,")
	if len(got) != len(stepNames)-1 || slices.Contains(got, "preflight,preflight") || !slices.Contains(got, "preflight,verify") {
		t.Errorf("--skip preflight,: %q", got)
	}
	got, _ = complete(t, "bootstrap", "--only", "")
	if !slices.Equal(got, stepNames) {
		t.Errorf("bootstrap --only: %q, want %q", got, stepNames)
	}
	// join's steps are its own: up to kubeadm, no add-ons.
	got, _ = complete(t, "join", "--only", "")
	if !slices.Contains(got, "kubeadm") || slices.Contains(got, "addons") || len(got) != len(joinStepNames) {
		t.Errorf("join --only: %q", got)
	}
}

func TestCompleteRelease(t *testing.T) {
	got, d := complete(t, "join", "--release", "1-3")
	for _, want := range []string{"1-36", "1-36-7", "1-35"} {
		if !slices.Contains(got, want) {
			t.Errorf("--release 1-3: %q lacks %s", got, want)
		}
	}
	if d != cobra.ShellCompDirectiveNoFileComp {
		t.Errorf("--release: directive %d", d)
	}
	// Each one offered is a release the program has.
	for _, v := range got {
		ch, n, err := config.ParseRelease(v)
		if err == nil {
			_, err = eksd.Lookup(ch, n)
		}
		if err != nil {
			t.Errorf("--release offers %s: %v", v, err)
		}
	}
	if got, _ := complete(t, "images", "list", "--release", "1-36-"); !slices.Equal(got, []string{"1-36-7"}) {
		t.Errorf("--release 1-36-: %q", got)
	}
}

func TestCompleteIgnore(t *testing.T) {
	got, _ := complete(t, "check", "--ignore", "")
	if !slices.Contains(got, "host.memory") || !slices.Contains(got, preflight.IgnoreAll) {
		t.Errorf("--ignore: %q", got)
	}
	if _, err := preflight.ParseIgnore(got); err != nil {
		t.Errorf("--ignore offers an id check does not take: %v", err)
	}
	got, _ = complete(t, "bootstrap", "--ignore", "host.swap,kata.sh")
	if !slices.Equal(got, []string{"host.swap,kata.shim"}) {
		t.Errorf("--ignore host.swap,kata.sh: %q", got)
	}
}

func TestCompleteChoices(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"images", "list", "-o", ""}, []string{"text", "json"}},
		{[]string{"check", "--output", "j"}, []string{"json"}},
		{[]string{"status", "-o", ""}, []string{"text", "json"}},
		{[]string{"--log-format", ""}, []string{"text", "json"}},
		{[]string{"reset", "--log-format", "t"}, []string{"text"}},
		{[]string{"check", "--role", ""}, []string{"control-plane", "worker"}},
		{[]string{"config", "print", "--role", "w"}, []string{"worker"}},
		{[]string{"bootstrap", "--cgroup-driver", ""}, []string{"systemd", "cgroupfs"}},
		{[]string{"config", "print", "--hypervisors", ""}, config.Hypervisors},
		{[]string{"bootstrap", "--hypervisors", "clh,"}, []string{"clh,qemu", "clh,fc"}},
	} {
		if got, _ := complete(t, tc.args...); !slices.Equal(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.args, got, tc.want)
		}
	}
	// Each format offered is one -o takes.
	got, _ := complete(t, "version", "-o", "")
	for _, f := range got {
		if _, err := jsonOutput(f); err != nil {
			t.Errorf("-o offers %s: %v", f, err)
		}
	}
	if len(got) != 2 {
		t.Errorf("version -o: %q", got)
	}
}

func TestCompleteFiles(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want cobra.ShellCompDirective
		exts []string
	}{
		{[]string{"--config", ""}, cobra.ShellCompDirectiveFilterFileExt, []string{"yaml", "yml"}},
		{[]string{"bootstrap", "-c", ""}, cobra.ShellCompDirectiveFilterFileExt, []string{"yaml", "yml"}},
		{[]string{"config", "validate", "-f", ""}, cobra.ShellCompDirectiveFilterFileExt, []string{"yaml", "yml"}},
		{[]string{"check", "--release-manifest", ""}, cobra.ShellCompDirectiveFilterFileExt, []string{"yaml", "yml"}},
		{[]string{"bootstrap", "--install-kata", ""}, cobra.ShellCompDirectiveDefault, nil},
		{[]string{"bootstrap", "--cni-manifest", ""}, cobra.ShellCompDirectiveDefault, nil},
		{[]string{"join", "--artifacts-dir", ""}, cobra.ShellCompDirectiveFilterDirs, nil},
		{[]string{"--root", ""}, cobra.ShellCompDirectiveFilterDirs, nil},
	} {
		got, d := complete(t, tc.args...)
		if d != tc.want || !slices.Equal(got, tc.exts) {
			t.Errorf("%q: %q, directive %d; want %q, %d", tc.args, got, d, tc.exts, tc.want)
		}
	}
}

// TestEveryFlagCompletes: a flag named in flagCompletions completes on
// every verb that has it, inherited or its own, and each name there is a
// real flag.
func TestEveryFlagCompletes(t *testing.T) {
	found := map[string]bool{}
	for _, c := range ourCommands() {
		visit := func(f *pflag.Flag) {
			if _, ok := flagCompletions[f.Name]; !ok {
				return
			}
			found[f.Name] = true
			if _, ok := c.GetFlagCompletionFunc(f.Name); !ok {
				t.Errorf("%s --%s does not complete", c.CommandPath(), f.Name)
			}
		}
		c.Flags().VisitAll(visit)
		c.PersistentFlags().VisitAll(visit)
		c.InheritedFlags().VisitAll(visit)
	}
	for name := range flagCompletions {
		if !found[name] {
			t.Errorf("flagCompletions names --%s, which no verb has", name)
		}
	}
}
