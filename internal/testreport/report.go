// Package testreport reads the event stream of `go test -json` and says what
// ran: each package's outcome as it ends (as plain `go test` prints it), the
// output of every failed test, and at the end a table of tests run, passed,
// failed and skipped per package, then one closing line.
//
// Its other job is to make a skipped test visible. A suite whose end-to-end
// tests skip can still look green; under CI every skip must be one the
// allowlist names and explains, and any other skip fails the run.
package testreport

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// Event is one line of `go test -json` (cmd/test2json).
type Event struct {
	Time    time.Time
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

// Allowed is a skip that is intended: the package, a test name pattern
// (path.Match syntax, matched against the full name with subtests), and why.
type Allowed struct {
	Package string
	Test    string
	Why     string
}

// Counts is what happened to the tests of one package. Parent tests whose
// subtests ran are counted too, as go test counts them.
type Counts struct {
	Passed, Failed, Skipped int
	// BuildFailed is set when the package did not compile or its test
	// binary failed outside any test (a panic in TestMain, a timeout).
	BuildFailed bool
	Elapsed     float64
}

// Ran is the number of tests that ran to an outcome other than skip.
func (c Counts) Ran() int { return c.Passed + c.Failed }

// Report is the outcome of a whole run.
type Report struct {
	Packages map[string]*Counts
	// Skips lists every skipped test as "package TestName".
	Skips []Skip
	// Failures lists every failed test as "package TestName".
	Failures []string
}

// Skip is one skipped test, and the allowlist entry that covers it, if any.
type Skip struct {
	Package, Test, Reason string
	Allowed               *Allowed
}

// Unexpected returns the skips no allowlist entry covers.
func (r *Report) Unexpected() []Skip {
	var out []Skip
	for _, s := range r.Skips {
		if s.Allowed == nil {
			out = append(out, s)
		}
	}
	return out
}

// Totals adds up every package.
func (r *Report) Totals() Counts {
	var t Counts
	for _, c := range r.Packages {
		t.Passed += c.Passed
		t.Failed += c.Failed
		t.Skipped += c.Skipped
		t.BuildFailed = t.BuildFailed || c.BuildFailed
	}
	return t
}

// Read consumes the stream, writes progress to w as packages end (a line per
// package; a failed test's whole output), and returns the report. Lines that
// are not JSON (the build's own errors) are passed through to w.
func Read(r io.Reader, w io.Writer, allow []Allowed) (*Report, error) {
	rep := &Report{Packages: map[string]*Counts{}}
	// Output is kept per test until the test ends, so that a failure can be
	// shown whole; a passing test's output is dropped.
	output := map[string][]string{}
	skipReason := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e Event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(w, "%s\n", line)
			continue
		}
		if e.Package == "" {
			if e.Output != "" {
				fmt.Fprint(w, e.Output)
			}
			continue
		}
		c := rep.Packages[e.Package]
		if c == nil {
			c = &Counts{}
			rep.Packages[e.Package] = c
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			output[key] = append(output[key], e.Output)
			if e.Test != "" && skipReason[key] == "" {
				if reason, ok := skipLine(e.Output); ok {
					skipReason[key] = reason
				}
			}
		case "pass":
			if e.Test == "" {
				c.Elapsed = e.Elapsed
				fmt.Fprintf(w, "ok  \t%s\t%.1fs\n", e.Package, e.Elapsed)
			} else {
				c.Passed++
			}
			delete(output, key)
		case "skip":
			if e.Test == "" {
				fmt.Fprintf(w, "?   \t%s\t[no test files]\n", e.Package)
			} else {
				c.Skipped++
				s := Skip{Package: e.Package, Test: e.Test, Reason: skipReason[key]}
				s.Allowed = allowedBy(allow, e.Package, e.Test)
				rep.Skips = append(rep.Skips, s)
			}
			delete(output, key)
		case "fail":
			if e.Test == "" {
				c.Elapsed = e.Elapsed
				// A package that fails with no failed test failed to build
				// or died outside a test: its output says why.
				if c.Failed == 0 {
					c.BuildFailed = true
				}
				for _, l := range output[key] {
					fmt.Fprint(w, l)
				}
				fmt.Fprintf(w, "FAIL\t%s\t%.1fs\n", e.Package, e.Elapsed)
			} else {
				c.Failed++
				rep.Failures = append(rep.Failures, key)
				fmt.Fprintf(w, "--- FAIL: %s (%s)\n", e.Test, e.Package)
				for _, l := range output[key] {
					fmt.Fprint(w, l)
				}
			}
			delete(output, key)
		}
	}
	if err := sc.Err(); err != nil {
		return rep, fmt.Errorf("reading go test -json: %w", err)
	}
	// A package that started and never ended was cut off (a killed run).
	for key, lines := range output {
		pkg, test, _ := strings.Cut(key, " ")
		if test != "" {
			continue
		}
		if c := rep.Packages[pkg]; c != nil && c.Elapsed == 0 && !c.BuildFailed && len(lines) > 0 {
			c.BuildFailed = true
			for _, l := range lines {
				fmt.Fprint(w, l)
			}
			fmt.Fprintf(w, "FAIL\t%s\t(no result: the run ended before the package did)\n", pkg)
		}
	}
	sort.Slice(rep.Skips, func(i, j int) bool {
		if rep.Skips[i].Package != rep.Skips[j].Package {
			return rep.Skips[i].Package < rep.Skips[j].Package
		}
		return rep.Skips[i].Test < rep.Skips[j].Test
	})
	return rep, nil
}

// skipLine recognises the line t.Skip writes: "    file_test.go:12: reason".
// The reason is kept for the summary.
func skipLine(out string) (string, bool) {
	s := strings.TrimSpace(out)
	if strings.HasPrefix(s, "---") || strings.HasPrefix(s, "===") {
		return "", false
	}
	_, rest, ok := strings.Cut(s, "_test.go:")
	if !ok {
		return "", false
	}
	_, reason, ok := strings.Cut(rest, ": ")
	return reason, ok
}

func allowedBy(allow []Allowed, pkg, test string) *Allowed {
	for i := range allow {
		a := &allow[i]
		if a.Package != pkg {
			continue
		}
		if ok, _ := path.Match(a.Test, test); ok {
			return a
		}
	}
	return nil
}

// Summary writes the table and the closing line. The closing line is the
// plain "N passed, N failed, N skipped" that CI reads.
func (r *Report) Summary(w io.Writer, strict bool) {
	pkgs := make([]string, 0, len(r.Packages))
	for p := range r.Packages {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-48s %6s %6s %6s %7s\n", "package", "ran", "failed", "skipped", "seconds")
	for _, p := range pkgs {
		c := r.Packages[p]
		if c.Ran()+c.Skipped == 0 && !c.BuildFailed {
			continue
		}
		note := ""
		if c.BuildFailed {
			note = "  (did not build or died outside a test)"
		}
		fmt.Fprintf(w, "%-48s %6d %6d %6d %7.1f%s\n", p, c.Ran(), c.Failed, c.Skipped, c.Elapsed, note)
	}
	if len(r.Skips) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "skipped:")
		for _, s := range r.Skips {
			mark := "allowed: " + oneLine(s.Reason)
			if s.Allowed == nil {
				mark = "NOT ALLOWED: " + oneLine(s.Reason)
				if !strict {
					mark = "skipped: " + oneLine(s.Reason)
				}
			}
			fmt.Fprintf(w, "  %s %s  (%s)\n", s.Package, s.Test, mark)
		}
	}
	t := r.Totals()
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", t.Passed, t.Failed, t.Skipped)
}

// OK says whether the run passed: no failure, every package built, and under
// strict (CI) every skip allowed.
func (r *Report) OK(strict bool) bool {
	t := r.Totals()
	if t.Failed > 0 || t.BuildFailed {
		return false
	}
	return !strict || len(r.Unexpected()) == 0
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return s
}
