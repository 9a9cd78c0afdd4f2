// Command gendocs writes msx's generated documentation: the command
// reference (one Markdown page per command, from the cobra tree) and the
// configuration reference (from devenv's manifest and plan) under docs/,
// and, for a release, man pages and shell completions.
//
//	go run ./internal/gendocs                      # refresh docs/ (commit the result)
//	go run ./internal/gendocs -release build/release -date UNIX_SECONDS
//
// It is an internal program rather than a hidden msx command so that the
// user's command list never shows it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("gendocs", flag.ContinueOnError)
	root := fs.String("root", ".", "the repository root")
	release := fs.String("release", "", "write man pages and completions under `DIR` instead of refreshing docs/")
	date := fs.String("date", os.Getenv("SOURCE_DATE_EPOCH"), "the man pages' date, in Unix `SECONDS` (the commit time, for reproducible archives)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *release != "" {
		secs, err := strconv.ParseInt(*date, 10, 64)
		if err != nil {
			return errors.New("-release needs -date UNIX_SECONDS (or SOURCE_DATE_EPOCH): the man pages carry a date, and a release must be reproducible")
		}
		return writeRelease(*release, time.Unix(secs, 0).UTC())
	}
	return writeDocs(filepath.Join(*root, "docs"), *root)
}

// writeDocs refreshes the generated pages under docs.
func writeDocs(docs, root string) error {
	if err := writeCommands(filepath.Join(docs, "commands")); err != nil {
		return err
	}
	ref, err := configReference(root)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(docs, "configuration.md"), ref, 0o644)
}

// writeRelease writes what the archives carry beside the binary.
func writeRelease(dir string, date time.Time) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := writeMan(filepath.Join(dir, "man"), date); err != nil {
		return err
	}
	return writeCompletions(filepath.Join(dir, "completions"))
}
