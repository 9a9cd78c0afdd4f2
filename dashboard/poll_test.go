package dashboard

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// readOnce sizes a tab and gives it one reading, read at readAt.
func readOnce[T any](t *polledTab[T], w, h int) {
	t.now = func() time.Time { return readAt }
	t.SetSize(w, h)
	t.Update(t.fetch()())
}

// checkFits checks that view draws in at most each size: no more lines
// than its height, none wider than its width.
func checkFits(t *testing.T, view func(w, h int) string, sizes [][2]int) {
	t.Helper()
	for _, size := range sizes {
		w, h := size[0], size[1]
		got := view(w, h)
		lines := strings.Split(got, "\n")
		if got == "" {
			lines = nil
		}
		if len(lines) > h {
			t.Errorf("%dx%d: %d lines", w, h, len(lines))
		}
		for _, l := range lines {
			if ansi.StringWidth(l) > w {
				t.Errorf("%dx%d: line %q is wider than %d", w, h, l, w)
			}
		}
	}
}

func TestRowsInCountsWhatDoesNotFit(t *testing.T) {
	rows := []string{"a", "b", "c", "d"}
	if got := rowsIn([]string{"head"}, rows, 5); strings.Join(got, ",") != "head,a,b,c,d" {
		t.Errorf("all fit: %q", got)
	}
	if got := rowsIn([]string{"head"}, rows, 4); strings.Join(got, ",") != "head,a,b,… 2 more" {
		t.Errorf("two do not fit: %q", got)
	}
}
