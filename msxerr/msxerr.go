// Package msxerr holds the typed errors that msx turns into one line on
// stderr and an exit code. Packages return these; only cmd.Main prints them.
package msxerr

import (
	"errors"
	"fmt"
)

// Error is a failure the user can act on: what went wrong and how to fix it.
type Error struct {
	Msg  string // what was wrong, without a trailing period
	Hint string // how to fix it, without a trailing period; may be empty
	Err  error  // the cause, kept for errors.Is/As; never printed
}

func (e *Error) Error() string {
	if e.Hint == "" {
		return e.Msg
	}
	return e.Msg + "; " + e.Hint
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an Error with a hint.
func New(hint, format string, args ...any) *Error {
	return &Error{Msg: fmt.Sprintf(format, args...), Hint: hint}
}

// Wrap returns an Error with a hint that keeps err as its cause.
func Wrap(err error, hint, format string, args ...any) *Error {
	return &Error{Msg: fmt.Sprintf(format, args...), Hint: hint, Err: err}
}

// UsageError is a mistake in the command line itself (exit code 2).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usage wraps a message as a UsageError.
func Usage(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ErrSilent means the command already told the user what happened; exit 1
// without printing anything more.
var ErrSilent = errors.New("silent error")

// ErrCancelled means the user interrupted the command (exit 130).
var ErrCancelled = errors.New("cancelled")
