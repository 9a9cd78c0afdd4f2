package logging

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingWriter records each write it gets.
type countingWriter struct {
	mu     sync.Mutex
	writes int
	buf    bytes.Buffer
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	return c.buf.Write(p)
}

func (c *countingWriter) snapshot() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes, c.buf.String()
}

func TestBufferedBatchesLinesInOrder(t *testing.T) {
	var out countingWriter
	b := NewBuffered(&out, time.Hour) // only Close flushes here
	for i := range 1000 {
		fmt.Fprintf(b, "line %d\n", i)
	}
	if n, _ := out.snapshot(); n != 0 {
		t.Fatalf("%d writes before the batch was full or flushed, want 0", n)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	n, got := out.snapshot()
	if n != 1 {
		t.Errorf("1000 short lines took %d writes, want 1", n)
	}
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 1000 || lines[0] != "line 0" || lines[999] != "line 999" {
		t.Errorf("got %d lines, first %q, last %q", len(lines), lines[0], lines[len(lines)-1])
	}
}

func TestBufferedWritesAFullBatchAtOnce(t *testing.T) {
	var out countingWriter
	b := NewBuffered(&out, time.Hour)
	defer b.Close()
	line := strings.Repeat("x", 1023) + "\n"
	for range batchSize / len(line) {
		b.Write([]byte(line))
	}
	if n, got := out.snapshot(); n != 1 || len(got) != batchSize {
		t.Errorf("after %d bytes: %d writes of %d bytes, want 1 of all", batchSize, n, len(got))
	}
}

func TestBufferedFlushesWithinTheInterval(t *testing.T) {
	var out countingWriter
	b := NewBuffered(&out, time.Millisecond)
	defer b.Close()
	b.Write([]byte("hello\n"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, got := out.snapshot(); got == "hello\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the line was not written within 5s of a 1ms interval")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBufferedConcurrentWritersLoseNothing(t *testing.T) {
	var out countingWriter
	b := NewBuffered(&out, time.Millisecond)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				fmt.Fprintf(b, "w%d %d\n", w, i)
			}
		}()
	}
	wg.Wait()
	b.Close()
	_, got := out.snapshot()
	last := map[string]int{}
	for _, l := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		var w string
		var i int
		if _, err := fmt.Sscanf(l, "%s %d", &w, &i); err != nil {
			t.Fatalf("torn line %q", l)
		}
		if prev, ok := last[w]; ok && i != prev+1 {
			t.Fatalf("%s: line %d after %d", w, i, prev)
		}
		last[w] = i
	}
	for w := range 8 {
		if last[fmt.Sprintf("w%d", w)] != 499 {
			t.Errorf("writer %d: last line %d, want 499", w, last[fmt.Sprintf("w%d", w)])
		}
	}
}

func TestBufferedAfterCloseWritesAtOnce(t *testing.T) {
	var out countingWriter
	b := NewBuffered(&out, time.Hour)
	b.Close()
	b.Write([]byte("late\n"))
	if _, got := out.snapshot(); got != "late\n" {
		t.Errorf("after Close, a write left %q, want it written", got)
	}
}
