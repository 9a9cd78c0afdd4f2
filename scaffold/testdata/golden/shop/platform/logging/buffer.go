package logging

import (
	"io"
	"sync"
	"time"
)

// Buffered gathers whole log lines and writes them in batches: when a
// batch reaches 32 KiB, and at least every interval otherwise. Under load
// a program then makes one write for many lines instead of one per line,
// and so does whatever reads its output (a container engine's log driver
// reads the pipe once per write). A line waits at most interval; Close,
// or Flush, writes what is waiting.
//
// It is safe for concurrent use, and keeps the order of the lines.
type Buffered struct {
	w         io.Writer
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	mu     sync.Mutex // guards buf and closed
	buf    []byte
	closed bool // after Close, every write goes straight through
	// out serialises the writes to w, so that batches keep their order
	// while new lines gather in buf.
	out   sync.Mutex
	spare []byte
}

// batchSize is the size at which a batch is written without waiting.
const batchSize = 32 << 10

// NewBuffered returns a Buffered writing to w at least every interval.
func NewBuffered(w io.Writer, interval time.Duration) *Buffered {
	b := &Buffered{w: w, stop: make(chan struct{}), done: make(chan struct{}), buf: make([]byte, 0, batchSize)}
	go b.loop(interval)
	return b
}

func (b *Buffered) loop(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.Flush()
		}
	}
}

// Write adds p, which should be whole lines, to the batch.
func (b *Buffered) Write(p []byte) (int, error) {
	b.mu.Lock()
	b.buf = append(b.buf, p...)
	full := b.closed || len(b.buf) >= batchSize
	b.mu.Unlock()
	if full {
		if err := b.Flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes the lines waiting.
func (b *Buffered) Flush() error {
	b.out.Lock()
	defer b.out.Unlock()
	b.mu.Lock()
	batch := b.buf
	b.buf = b.spare[:0]
	b.mu.Unlock()
	var err error
	if len(batch) > 0 {
		_, err = b.w.Write(batch)
	}
	b.spare = batch
	return err
}

// Close stops the timer and writes the lines waiting; later writes are
// written at once, unbatched.
func (b *Buffered) Close() error {
	b.closeOnce.Do(func() {
		close(b.stop)
		<-b.done
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
	})
	return b.Flush()
}
