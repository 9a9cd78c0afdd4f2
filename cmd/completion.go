package cmd

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/msx-dev/msx/msxerr"
)

func newCompletionCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:       "completion bash|zsh|fish|powershell",
		Short:     "Print a shell completion script",
		Long:      "Print a completion script for your shell. For bash: source <(msx completion bash)",
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		Args:      exactArgs(1, "one shell name: bash, zsh, fish or powershell"),
		RunE: func(c *cobra.Command, args []string) error {
			root := c.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(f.IO.Out, true)
			case "zsh":
				return root.GenZshCompletion(f.IO.Out)
			case "fish":
				return root.GenFishCompletion(f.IO.Out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(f.IO.Out)
			}
			return msxerr.Usage("unknown shell %q; use bash, zsh, fish or powershell", args[0])
		},
	}
}

// completeServices completes the names of the workspace's services, for
// commands whose arguments are service names (up, logs, db, fault, remove
// service, add dependency): register it as ValidArgsFunction. Names already
// on the command line are not offered again. Outside a workspace it offers
// nothing, quietly: completion must never print an error.
func completeServices(f *Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		return serviceNames(f, args), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeServiceList completes a comma-separated list of service names,
// as --depends-on takes: "orders,pa" offers "orders,payments".
func completeServiceList(f *Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		prefix, given := "", []string(nil)
		if i := strings.LastIndex(toComplete, ","); i >= 0 {
			prefix = toComplete[:i+1]
			given = strings.Split(toComplete[:i], ",")
		}
		var out []string
		for _, n := range serviceNames(f, given) {
			out = append(out, prefix+n)
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}

func serviceNames(f *Factory, exclude []string) []string {
	m, err := f.Manifest()
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range m.ServiceNames() {
		if !slices.Contains(exclude, n) {
			out = append(out, n)
		}
	}
	return out
}

// fixedCompletion completes a flag from a fixed list of values.
func fixedCompletion(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
}
