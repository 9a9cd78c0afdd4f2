package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the command lands; replaced by its owner.
func newPsCmd(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "ps", RunE: func(*cobra.Command, []string) error { return errors.New("ps is not built yet") }}
}
