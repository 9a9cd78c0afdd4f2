package cmd

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msx-dev/msx/eventlog"
	"github.com/msx-dev/msx/progress"
)

func TestPrintEvent(t *testing.T) {
	e := eventlog.Entry{Seq: 3, Time: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC), Subject: "orders.item.created",
		ID: "abc", Type: "item.created", Source: "orders", Data: json.RawMessage(`{"item_id":1}`)}
	var b bytes.Buffer
	if err := printEvent(&b, e, false); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "2026-01-02T03:04:05.006Z\torders.item.created\tabc\t{\"item_id\":1}\n"; got != want {
		t.Errorf("plain = %q, want %q", got, want)
	}
	b.Reset()
	if err := printEvent(&b, e, true); err != nil {
		t.Fatal(err)
	}
	var back eventlog.Entry
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || back.ID != "abc" || back.Seq != 3 || back.Source != "orders" {
		t.Errorf("json = %s (%v)", b.String(), err)
	}
}

// The plain lines come under a header naming their columns; --json lines
// have none.
func TestEventsHeader(t *testing.T) {
	e := eventlog.Entry{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Subject: "orders.item.created", ID: "a", Data: json.RawMessage(`{}`)}
	var b bytes.Buffer
	p := &eventPrinter{w: &b}
	for i := 0; i < 2; i++ {
		if err := p.print(e); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || lines[0] != "TIME\tSUBJECT\tID\tDATA" || !strings.HasPrefix(lines[1], "2026-01-02T03:04:05.000Z\t") {
		t.Errorf("plain output:\n%s", b.String())
	}
	b.Reset()
	p = &eventPrinter{w: &b, json: true}
	if err := p.print(e); err != nil || strings.Contains(b.String(), "SUBJECT") {
		t.Errorf("json output %q (%v)", b.String(), err)
	}
}

// syncBuffer is a bytes.Buffer safe for the notice's timer goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// "compiling" from the builder is said only when the compile lasts: a go
// build that finds the reader in its cache says nothing.
func TestCompileNoticeOnlyWhenSlow(t *testing.T) {
	var out syncBuffer
	n := &compileNotice{w: &out, delay: time.Hour, msg: "compiling"}
	n.progress(progress.Step{Kind: progress.Compiling, Name: "eventtap"})
	n.progress(progress.Step{Kind: progress.UpToDate, Name: "eventtap"})
	if out.String() != "" {
		t.Errorf("a fast compile printed %q", out.String())
	}

	n = &compileNotice{w: &out, delay: time.Millisecond, msg: "compiling"}
	n.progress(progress.Step{Kind: progress.Compiling, Name: "eventtap"})
	for deadline := time.Now().Add(5 * time.Second); out.String() == ""; {
		if time.Now().After(deadline) {
			t.Fatal("a slow compile printed nothing")
		}
		time.Sleep(time.Millisecond)
	}
	n.progress(progress.Step{Kind: progress.Built, Name: "eventtap", Duration: 3 * time.Second})
	if got := out.String(); got != "compiling\n" {
		t.Errorf("a slow compile printed %q, want the notice once", got)
	}
}
