package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// testRoot is the command tree Main runs, built without running it.
func testRoot() *cobra.Command {
	return newRoot(&globals{stdin: strings.NewReader("")}, io.Discard, io.Discard)
}

// ourCommands lists every command of the tree newRoot builds. cobra adds
// its help and completion commands only when it executes.
func ourCommands() []*cobra.Command {
	var out []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		out = append(out, c)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(testRoot())
	return out
}

// exampleCommands returns the command lines of an Example, each as words:
// comments and blank lines dropped, lines ending in \ joined, pipelines
// split, and a redirection cut off. A word in angle brackets is a
// placeholder for a value.
func exampleCommands(example string) [][]string {
	var out [][]string
	var words []string
	for _, line := range strings.Split(example, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cont := strings.HasSuffix(line, `\`)
		redirected := false
		for _, w := range strings.Fields(strings.TrimSuffix(line, `\`)) {
			switch {
			case w == "|" || w == "&&" || w == ";":
				out, words, redirected = append(out, words), nil, false
			case strings.HasPrefix(w, ">") || strings.HasPrefix(w, "<") && !strings.HasSuffix(w, ">"):
				redirected = true // <token> is a placeholder, not a redirection
			case !redirected:
				words = append(words, w)
			}
		}
		if !cont {
			out, words = append(out, words), nil
		}
	}
	return out
}

// parseExample parses words as the command line would, up to running the
// verb, and returns the command path it names.
func parseExample(words []string) (string, error) {
	if len(words) > 0 && words[0] == "sudo" {
		words = words[1:]
	}
	if len(words) == 0 || words[0] != "eksd-kata" {
		return "", errors.New("an example runs eksd-kata or sudo eksd-kata")
	}
	root := testRoot()
	root.InitDefaultCompletionCmd()
	cmd, rest, err := root.Find(words[1:])
	if err != nil {
		return "", err
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return "", fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		return "", fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	// A verb that groups others takes any arguments and refuses them when
	// it runs: here an argument left over is a verb it lacks.
	if args := cmd.Flags().Args(); cmd.HasSubCommands() && len(args) > 0 {
		return "", fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return cmd.CommandPath(), nil
}

func TestEveryCommandHasExamples(t *testing.T) {
	for _, c := range ourCommands() {
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s --help has no examples", c.CommandPath())
		}
	}
}

// TestExamplesRun parses every example as the command line would, so each
// names a verb that exists, flags it has, and arguments it takes.
func TestExamplesRun(t *testing.T) {
	for _, c := range ourCommands() {
		t.Run(c.CommandPath(), func(t *testing.T) {
			var paths []string
			for _, words := range exampleCommands(c.Example) {
				p, err := parseExample(words)
				if err != nil {
					t.Errorf("%q: %v", strings.Join(words, " "), err)
				}
				paths = append(paths, p)
			}
			// Each help shows the command itself (or, for a group, its verbs).
			if !slices.ContainsFunc(paths, func(p string) bool {
				return p == c.CommandPath() || strings.HasPrefix(p, c.CommandPath()+" ")
			}) {
				t.Errorf("no example runs %s: %q", c.CommandPath(), paths)
			}
		})
	}
}

func TestExampleCommandsParse(t *testing.T) {
	got := exampleCommands(`  # a comment
  sudo eksd-kata bootstrap --only images,binaries

  eksd-kata config print > node.yaml
  eksd-kata config print | eksd-kata config validate -f -
  eksd-kata join 10.0.0.10:6443 \
    --token <token>`)
	want := [][]string{
		{"sudo", "eksd-kata", "bootstrap", "--only", "images,binaries"},
		{"eksd-kata", "config", "print"},
		{"eksd-kata", "config", "print"},
		{"eksd-kata", "config", "validate", "-f", "-"},
		{"eksd-kata", "join", "10.0.0.10:6443", "--token", "<token>"},
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

// TestExamplesRejectMistakes keeps parseExample honest: each of these
// lines is wrong in one way it must name.
func TestExamplesRejectMistakes(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"eksd-kata bootstrapp", `unknown command "bootstrapp"`},
		{"eksd-kata bootstrap --frobnicate", "unknown flag: --frobnicate"},
		{"eksd-kata images frob", `unknown command "frob"`},
		{"eksd-kata images list -x json", "unknown shorthand flag: 'x'"},
		{"eksd-kata images pull --parallel many", `invalid argument "many"`},
		{"eksd-kata join a:6443 b:6443", "accepts at most 1 arg"},
		{"sudo eksd-kata join --token", "flag needs an argument: --token"},
		{"kubeadm join 10.0.0.10:6443", "runs eksd-kata"},
	} {
		p, err := parseExample(strings.Fields(tc.line))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %s, %v; want an error with %q", tc.line, p, err, tc.want)
		}
	}
}

// TestShippedCommandLinesParse: every eksd-kata command line a user is
// given outside the help (the README's code blocks, the cloud-init user
// data, the Vagrant scripts) names verbs and flags that exist.
func TestShippedCommandLinesParse(t *testing.T) {
	files := []string{"../../README.md", "../../templates/cloud-init.yaml", "../../templates/cloud-init-join.yaml",
		"../../scripts/vagrant/run.sh", "../../scripts/vagrant/provision.sh"}
	seen := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		inCode := !strings.HasSuffix(file, ".md") // markdown: its code blocks and spans only
		lines := strings.Split(string(data), "\n")
		spans := 0
		if !inCode {
			spans = len(lines)
			lines = append(lines, codeSpans(string(data))...)
		}
		for i, line := range lines {
			if i == spans && spans > 0 {
				inCode = true
			}
			line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "$ "))
			if strings.HasPrefix(line, "```") && strings.HasSuffix(file, ".md") {
				inCode = !inCode
				continue
			}
			if !inCode || !strings.HasPrefix(line, "eksd-kata ") && !strings.HasPrefix(line, "sudo eksd-kata ") {
				continue
			}
			line, _, _ = strings.Cut(line, " || ") // the user data goes on if check fails
			line, _, _ = strings.Cut(line, " # ")
			for _, words := range exampleCommands(line) {
				if slices.ContainsFunc(words, func(w string) bool { return strings.ContainsAny(w, "$`") }) {
					continue // a shell variable: the script fills it in
				}
				seen++
				if _, err := parseExample(words); err != nil {
					t.Errorf("%s: %q: %v", file, line, err)
				}
			}
		}
	}
	if seen < 15 {
		t.Errorf("only %d command lines found: the files moved?", seen)
	}
}

// codeSpans returns the `code spans` of markdown text, fenced blocks aside.
func codeSpans(md string) []string {
	var out []string
	for i, part := range strings.Split(md, "```") {
		if i%2 == 1 {
			continue
		}
		f := strings.Split(part, "`")
		for i := 1; i < len(f); i += 2 {
			out = append(out, f[i])
		}
	}
	return out
}
