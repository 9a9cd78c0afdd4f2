package testreport

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strings"
)

// ParseAllowlist reads the allowlist: one intended skip a line, as
//
//	PACKAGE TEST-PATTERN  # why this skip is intended
//
// Blank lines and lines starting with # are comments. Every entry must say
// why: an allowlist entry without a reason is an error, so that the list
// stays a list of decisions rather than of silenced tests.
func ParseAllowlist(r io.Reader) ([]Allowed, error) {
	var out []Allowed
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		spec, why, _ := strings.Cut(line, "#")
		why = strings.TrimSpace(why)
		fields := strings.Fields(spec)
		if len(fields) != 2 {
			return nil, fmt.Errorf("allowlist line %d: want \"PACKAGE TEST  # why\", got %q", n, line)
		}
		if why == "" {
			return nil, fmt.Errorf("allowlist line %d: %s %s has no reason after #: say why the skip is intended", n, fields[0], fields[1])
		}
		if _, err := path.Match(fields[1], ""); err != nil {
			return nil, fmt.Errorf("allowlist line %d: bad pattern %q: %v", n, fields[1], err)
		}
		out = append(out, Allowed{Package: fields[0], Test: fields[1], Why: why})
	}
	return out, sc.Err()
}
