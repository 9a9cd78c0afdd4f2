package msxdir

import (
	"os"
	"testing"
)

func TestWriteFileIsTheOwnersAlone(t *testing.T) {
	s := New(t.TempDir())
	for _, content := range []string{"one\n", "two\n"} {
		p, err := s.WriteFile("orders.pgpass", []byte(content))
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != FileMode {
			t.Fatalf("%s: %v %v", p, st, err)
		}
		if b, _ := os.ReadFile(p); string(b) != content {
			t.Errorf("content %q, want %q", b, content)
		}
	}
	if _, err := s.WriteFile("../x", nil); err == nil {
		t.Error("a name with a path was accepted")
	}
	entries, _ := os.ReadDir(s.Path())
	if len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}
