package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the command lands; replaced by its owner.
func newNewCmd(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "new", RunE: func(*cobra.Command, []string) error { return errors.New("new is not built yet") }}
}
