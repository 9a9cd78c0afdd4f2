// Package iostreams is the one place msx writes to: results on Out, progress
// and logs on ErrOut, with terminal and colour detection done once.
package iostreams

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams carries the standard streams and what msx knows about them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	outTTY bool
	errTTY bool
	color  bool
}

// System returns streams bound to the process's stdin, stdout and stderr.
// Colour is on only when stdout is a terminal and NO_COLOR is unset.
func System() *IOStreams {
	s := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	s.outTTY = isTerminal(os.Stdout)
	s.errTTY = isTerminal(os.Stderr)
	_, noColor := os.LookupEnv("NO_COLOR")
	s.color = s.outTTY && !noColor && os.Getenv("TERM") != "dumb"
	return s
}

// Test returns streams backed by buffers, for tests.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer) {
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: &bytes.Buffer{}, Out: out, ErrOut: errOut}, out, errOut
}

// IsStdoutTTY reports whether stdout is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.outTTY }

// IsStderrTTY reports whether stderr is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.errTTY }

// ColorEnabled reports whether output may carry ANSI colours.
func (s *IOStreams) ColorEnabled() bool { return s.color }

// SetColorEnabled turns colour off (--no-color) or on.
func (s *IOStreams) SetColorEnabled(on bool) { s.color = on }

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
