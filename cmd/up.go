package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the command lands; replaced by its owner.
func newUpCmd(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "up", RunE: func(*cobra.Command, []string) error { return errors.New("up is not built yet") }}
}
