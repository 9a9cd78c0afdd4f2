package cmd

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/msx-dev/msx/iostreams"
)

// TestDocumentedCommandsExist reads every msx command line that our README,
// the generated workspace's README and the help texts show, and checks it
// against cobra's command tree: each command and each flag must exist.
func TestDocumentedCommandsExist(t *testing.T) {
	io, _, _ := iostreams.Test()
	root := NewRootCmd(NewFactory(io))

	var lines []documented
	for _, file := range []string{"../README.md", "../templates/workspace/README.md.tmpl"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, markdownCommands(file, string(data))...)
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, text := range []string{c.Example, c.Long} {
			for _, l := range strings.Split(text, "\n") {
				// Indented lines are examples; prose mentions are not parsed.
				if s := strings.TrimSpace(l); strings.HasPrefix(s, "msx ") && l != s {
					lines = append(lines, documented{"help of " + c.CommandPath(), s})
				}
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if len(lines) < 10 {
		t.Fatalf("found only %d documented command lines; is the parser broken?", len(lines))
	}
	for _, d := range lines {
		if err := checkCommandLine(root, d.line); err != "" {
			t.Errorf("%s documents `%s`: %s", d.where, d.line, err)
		}
	}
}

type documented struct{ where, line string }

var (
	fenced     = regexp.MustCompile("(?s)```[a-z]*\n(.*?)```")
	inlineCode = regexp.MustCompile("`(msx [^`]+)`")
)

// markdownCommands returns the msx command lines of fenced code blocks and
// inline code spans.
func markdownCommands(file, md string) []documented {
	var out []documented
	for _, m := range fenced.FindAllStringSubmatch(md, -1) {
		for _, l := range strings.Split(m[1], "\n") {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, "msx ") {
				out = append(out, documented{file, l})
			}
		}
	}
	for _, m := range inlineCode.FindAllStringSubmatch(md, -1) {
		out = append(out, documented{file, m[1]})
	}
	return out
}

// checkCommandLine resolves a synopsis or example ("msx new service NAME
// [--db postgres\|sqlite]", "msx up -d # comment") and returns what does
// not exist, or "".
func checkCommandLine(root *cobra.Command, line string) string {
	line, _, _ = strings.Cut(line, "#")
	line = strings.NewReplacer("[", " ", "]", " ", `\|`, "|", ",", " ").Replace(line)
	fields := strings.Fields(line)[1:]
	cur, args := root, 0
	for _, f := range fields {
		switch {
		case strings.HasPrefix(f, "-"):
			for _, alt := range strings.Split(f, "/") {
				name, _, _ := strings.Cut(strings.TrimLeft(alt, "-"), "=")
				if !hasFlag(cur, name, !strings.HasPrefix(alt, "--")) {
					return "flag " + alt + " does not exist on " + cur.CommandPath()
				}
			}
		case args == 0 && subcommand(cur, f) != nil:
			cur = subcommand(cur, f)
		default:
			args++
		}
	}
	if cur == root && args > 0 {
		return "no such command " + fields[0]
	}
	return ""
}

func subcommand(c *cobra.Command, name string) *cobra.Command {
	for _, s := range c.Commands() {
		if s.Name() == name || s.HasAlias(name) {
			return s
		}
	}
	return nil
}

func hasFlag(c *cobra.Command, name string, short bool) bool {
	if short {
		return c.Flags().ShorthandLookup(name) != nil || c.InheritedFlags().ShorthandLookup(name) != nil ||
			c.PersistentFlags().ShorthandLookup(name) != nil
	}
	return c.Flags().Lookup(name) != nil || c.InheritedFlags().Lookup(name) != nil || c.PersistentFlags().Lookup(name) != nil
}
