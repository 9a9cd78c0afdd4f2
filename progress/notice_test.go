package progress

import (
	"testing"
	"time"

	"github.com/msx-dev/msx/internal/syncbuf"
)

// "compiling" from the builder is said only when the compile lasts: a go
// build that finds the reader in its cache says nothing.
func TestNoticeOnlyWhenSlow(t *testing.T) {
	var out syncbuf.Buffer
	n := NewNotice(&out, time.Hour, "compiling")
	n.Report(Step{Kind: Compiling, Name: "eventtap"})
	n.Report(Step{Kind: UpToDate, Name: "eventtap"})
	if out.String() != "" {
		t.Errorf("a fast compile printed %q", out.String())
	}

	n = NewNotice(&out, time.Millisecond, "compiling")
	n.Report(Step{Kind: Compiling, Name: "eventtap"})
	for deadline := time.Now().Add(5 * time.Second); out.String() == ""; {
		if time.Now().After(deadline) {
			t.Fatal("a slow compile printed nothing")
		}
		time.Sleep(time.Millisecond)
	}
	n.Report(Step{Kind: Built, Name: "eventtap", Duration: 3 * time.Second})
	if got := out.String(); got != "compiling\n" {
		t.Errorf("a slow compile printed %q, want the notice once", got)
	}
}
