package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/msx-dev/msx/cmd"
	"github.com/msx-dev/msx/iostreams"
)

// rootCmd is msx's command tree, exactly as the binary builds it.
func rootCmd() *cobra.Command {
	io, _, _ := iostreams.Test()
	root := cmd.NewRootCmd(cmd.NewFactory(io))
	root.DisableAutoGenTag = true // no generation date: the pages must be reproducible
	return root
}

// writeCommands writes one Markdown page per visible command into dir,
// removing pages of commands that no longer exist.
func writeCommands(dir string) error {
	if err := clearDir(dir, ".md"); err != nil {
		return err
	}
	return doc.GenMarkdownTree(rootCmd(), dir)
}

// writeMan writes one man page per visible command (msx.1, msx-up.1, ...).
func writeMan(dir string, date time.Time) error {
	if err := clearDir(dir, ".1"); err != nil {
		return err
	}
	return doc.GenManTree(rootCmd(), &doc.GenManHeader{
		Title:   "MSX",
		Section: "1",
		Date:    &date,
		Source:  "msx",
		Manual:  "msx manual",
	}, dir)
}

// writeCompletions runs msx completion for each shell the archives carry.
func writeCompletions(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for shell, file := range map[string]string{"bash": "msx.bash", "zsh": "_msx", "fish": "msx.fish"} {
		io, out, errOut := iostreams.Test()
		if code := cmd.Run(context.Background(), io, []string{"completion", shell}); code != 0 {
			return fmt.Errorf("msx completion %s exited %d: %s", shell, code, strings.TrimSpace(errOut.String()))
		}
		if err := os.WriteFile(filepath.Join(dir, file), out.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// clearDir creates dir and removes its files ending in ext.
func clearDir(dir, ext string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "*"+ext))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	return nil
}
