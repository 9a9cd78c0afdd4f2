// Command eventtap is what msx events runs beside a project's broker: on
// the project network, it reads the event stream through a consumer of its
// own that leaves no trace (an ordered, ephemeral consumer) and writes one
// JSON object per event to stdout, oldest first. The broker's client port
// is never published to the host; msx reads this program's output through
// the engine instead.
//
// Settings: MSX_EVENTS_URL (the broker, nats://nats:4222), MSX_EVENTS_SUBJECT
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

// The stream and subject prefix of the generated platform/messaging.
const (
	stream        = "EVENTS"
	subjectPrefix = "events."
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
	err := tail(ctx, os.Getenv("MSX_EVENTS_URL"), os.Getenv("MSX_EVENTS_SUBJECT"), os.Getenv("MSX_EVENTS_FOLLOW") == "1",
		func(e entry) error { return enc.Encode(e) })
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// tail calls emit for each event of the stream matching subject (all
// when empty), oldest first. Without follow it returns once it reached the
// end; with follow it waits for new events until ctx ends.
func tail(ctx context.Context, url, subject string, follow bool, emit func(entry) error) error {
	nc, err := nats.Connect(url, nats.Timeout(3*time.Second), nats.Name("msx events"))
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
	var cons jetstream.Consumer
	for {
		cons, err = js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{filter},
			DeliverPolicy:  jetstream.DeliverAllPolicy,
		})
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
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
	if !follow {
		info, err := cons.Info(ctx)
		if err != nil {
			return err
		}
		if info.NumPending == 0 {
			return nil
		}
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	defer it.Stop()
	go func() {
		<-ctx.Done()
		it.Stop()
	}()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return err
		}
		if err := emit(toEntry(msg)); err != nil {
			if errors.Is(err, io.ErrClosedPipe) {
				return nil
			}
			return err
		}
		if md, err := msg.Metadata(); err == nil && !follow && md.NumPending == 0 {
			return nil
		}
	}
}

func toEntry(msg jetstream.Msg) entry {
	e := entry{Subject: strings.TrimPrefix(msg.Subject(), subjectPrefix)}
	if md, err := msg.Metadata(); err == nil {
		e.Seq, e.Time = md.Sequence.Stream, md.Timestamp.UTC()
	}
	var ev struct {
		ID     string          `json:"id"`
		Type   string          `json:"type"`
		Source string          `json:"source"`
		Data   json.RawMessage `json:"data"`
	}
	if json.Unmarshal(msg.Data(), &ev) == nil {
		e.ID, e.Type, e.Source, e.Data = ev.ID, ev.Type, ev.Source, ev.Data
	} else {
		e.Data, _ = json.Marshal(string(msg.Data()))
	}
	return e
}
