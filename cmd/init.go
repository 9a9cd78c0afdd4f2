package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the command lands; replaced by its owner.
func newInitCmd(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "init", RunE: func(*cobra.Command, []string) error { return errors.New("init is not built yet") }}
}
