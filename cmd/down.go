package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the command lands; replaced by its owner.
func newDownCmd(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "down", RunE: func(*cobra.Command, []string) error { return errors.New("down is not built yet") }}
}
