// Package eventlog reads a project's event stream from its broker: what
// msx events prints. It speaks to the NATS server that msx runs on the
// client port published on 127.0.0.1, through a consumer of its own that
// leaves no trace (an ordered, ephemeral consumer).
package eventlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The stream and subject prefix of the generated platform/messaging.
const (
	Stream        = "EVENTS"
	SubjectPrefix = "events."
)

// Entry is one event of the stream.
type Entry struct {
	Seq     uint64          `json:"seq"`
	Time    time.Time       `json:"time"`
	Subject string          `json:"subject"` // orders.item.created
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Source  string          `json:"source"`
	Data    json.RawMessage `json:"data"`
}

// CheckSubject accepts what msx events takes as its filter: dot-separated
// tokens, * for one token and > for the rest (orders.item.created,
// orders.>, *.item.deleted).
func CheckSubject(s string) error {
	toks := strings.Split(s, ".")
	for i, t := range toks {
		if t == "" || strings.ContainsAny(t, " \t\r\n") || (t == ">" && i != len(toks)-1) ||
			(len(t) > 1 && strings.ContainsAny(t, "*>")) {
			return fmt.Errorf("%q is not a subject; use SERVICE.EVENT such as orders.item.created, with * for one part and > for the rest", s)
		}
	}
	return nil
}

// Tail calls emit for each event of the stream matching subject (all
// when empty), oldest first. Without follow it returns once it reached the
// end; with follow it waits for new events until ctx ends.
func Tail(ctx context.Context, url, subject string, follow bool, emit func(Entry) error) error {
	nc, err := nats.Connect(url, nats.Timeout(3*time.Second), nats.Name("msx events"))
	if err != nil {
		return fmt.Errorf("cannot reach the broker at %s: %w", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	filter := SubjectPrefix + ">"
	if subject != "" {
		filter = SubjectPrefix + subject
	}
	var cons jetstream.Consumer
	for {
		cons, err = js.OrderedConsumer(ctx, Stream, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{filter},
			DeliverPolicy:  jetstream.DeliverAllPolicy,
		})
		if err == nil {
			break
		}
		// No stream yet: nothing was ever published.
		if !errors.Is(err, jetstream.ErrStreamNotFound) || !follow {
			if errors.Is(err, jetstream.ErrStreamNotFound) {
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
		e := entry(msg)
		if err := emit(e); err != nil {
			return err
		}
		if md, err := msg.Metadata(); err == nil && !follow && md.NumPending == 0 {
			return nil
		}
	}
}

func entry(msg jetstream.Msg) Entry {
	e := Entry{Subject: strings.TrimPrefix(msg.Subject(), SubjectPrefix)}
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
