package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the command lands; replaced by its owner.
func newDoctorCmd(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "doctor", RunE: func(*cobra.Command, []string) error { return errors.New("doctor is not built yet") }}
}
