// Command eventtap is what msx events runs beside a project's broker: on
// the project network, it reads the event stream message by message,
// leaving no trace, and writes one JSON object per event to stdout, oldest
// first. The broker's client port
// is never published to the host; msx reads this program's output through
// the engine instead.
//
// Settings: MSX_EVENTS_URL (the broker, nats://nats:4222), NATS_NKEY_FILE
// (its broker user's seed, a file msx writes), MSX_EVENTS_SUBJECT
// (a filter such as orders.>, empty for all) and MSX_EVENTS_FOLLOW (1 waits
// for new events until the container is stopped). Errors go to stderr,
// one line, and the exit code is 1.
//
// It is Go code of msx's own module, compiled and vetted with msx; msx
// lays it out as a module of its own (go.mod.txt and go.sum.txt) for the
// builder to compile into a FROM scratch image, like the trace collector.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The stream and subject prefix of the generated platform/messaging, and
// this program's own prefix for the broker's answers (the only subjects
// its broker user may subscribe to).
const (
	stream        = "EVENTS"
	subjectPrefix = "events."
	inboxPrefix   = "_INBOX_msx-events"
)

// entry is one event as msx events prints it with --json: the shape of
// msx's eventlog.Entry, which msx reads back. This program is a module of
// its own, compiled for the project's engine, so it cannot import it.
type entry struct {
	Seq     uint64          `json:"seq"`
	Time    time.Time       `json:"time"`
	Subject string          `json:"subject"` // orders.item.created
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Source  string          `json:"source"`
	Data    json.RawMessage `json:"data"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	enc := json.NewEncoder(os.Stdout)
	err := tail(ctx, os.Getenv("MSX_EVENTS_URL"), os.Getenv("NATS_NKEY_FILE"), os.Getenv("MSX_EVENTS_SUBJECT"), os.Getenv("MSX_EVENTS_FOLLOW") == "1",
		func(e entry) error { return enc.Encode(e) })
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// tail calls emit for each event of the stream matching subject (all
// when empty), oldest first. Without follow it returns once it reached the
// end; with follow it waits for new events until ctx ends.
//
// It reads the stream message by message (the broker's get of the next
// message on a subject), which needs no consumer: the broker user msx
// gives it (its seed is the file seedFile) may read the stream and do
// nothing else, neither publish an event nor make or ack a consumer.
func tail(ctx context.Context, url, seedFile, subject string, follow bool, emit func(entry) error) error {
	opts := []nats.Option{nats.Timeout(3 * time.Second), nats.Name("msx events"), nats.CustomInboxPrefix(inboxPrefix)}
	if seedFile != "" {
		opt, err := nats.NkeyOptionFromSeed(seedFile)
		if err != nil {
			return fmt.Errorf("cannot read the broker seed: %w", err)
		}
		opts = append(opts, opt)
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("cannot reach the broker at %s: %w", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	filter := subjectPrefix + ">"
	if subject != "" {
		filter = subjectPrefix + subject
	}
	var s jetstream.Stream
	for {
		s, err = js.Stream(ctx, stream)
		if err == nil {
			break
		}
		// No stream yet: nothing was ever published.
		if errors.Is(err, jetstream.ErrStreamNotFound) && !follow {
			return nil
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if !sleep(ctx, 500*time.Millisecond) {
			return nil
		}
	}
	// Without follow, the end is the last message as the stream is now.
	last := s.CachedInfo().State.LastSeq
	for seq := uint64(1); ; {
		if !follow && seq > last {
			return nil
		}
		msg, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			if !follow || !sleep(ctx, 250*time.Millisecond) {
				return nil
			}
			continue
		case err != nil:
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if !follow && msg.Sequence > last {
			return nil
		}
		if err := emit(toEntry(msg)); err != nil {
			if errors.Is(err, io.ErrClosedPipe) {
				return nil
			}
			return err
		}
		seq = msg.Sequence + 1
	}
}

// sleep waits d, or less if ctx ends: false then.
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// toEntry is msg as msx events prints it. The source and type are the
// subject's: the broker lets only the source publish on it, whatever the
// payload claims.
func toEntry(msg *jetstream.RawStreamMsg) entry {
	e := entry{Subject: strings.TrimPrefix(msg.Subject, subjectPrefix), Seq: msg.Sequence, Time: msg.Time.UTC()}
	var ev struct {
		ID   string          `json:"id"`
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(msg.Data, &ev) == nil {
		e.ID, e.Data = ev.ID, ev.Data
	} else {
		e.Data, _ = json.Marshal(string(msg.Data))
	}
	if src, typ, ok := strings.Cut(e.Subject, "."); ok {
		e.Source, e.Type = src, typ
	}
	return e
}
