// Command natsprobe is what the broker e2e test runs in a container on a
// project's network to play a program with a broker seed, or one without:
//
//	natsprobe connect
//	natsprobe publish SUBJECT PAYLOAD
//	natsprobe consume CONSUMER FILTER
//
// NATS_URL is the broker, NATS_NKEY_FILE the seed (none when empty) and
// NATS_INBOX the inbox prefix. It prints one line, "ok" or what failed,
// and exits 0 either way: the test reads the line.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func main() {
	fmt.Println(run(os.Args[1:]))
}

func run(args []string) string {
	if len(args) == 0 {
		return "usage: natsprobe connect|publish|consume"
	}
	denied := make(chan error, 16)
	opts := []nats.Option{nats.Timeout(3 * time.Second), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case denied <- err:
		default:
		}
	})}
	if p := os.Getenv("NATS_INBOX"); p != "" {
		opts = append(opts, nats.CustomInboxPrefix(p))
	}
	if f := os.Getenv("NATS_NKEY_FILE"); f != "" {
		o, err := nats.NkeyOptionFromSeed(f)
		if err != nil {
			return "seed: " + err.Error()
		}
		opts = append(opts, o)
	}
	nc, err := nats.Connect(os.Getenv("NATS_URL"), opts...)
	if err != nil {
		return "connect: " + err.Error()
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var op error
	switch args[0] {
	case "connect":
		op = nc.Flush()
	case "publish":
		m := nats.NewMsg(args[1])
		m.Data = []byte(args[2])
		_, op = js.PublishMsg(ctx, m, jetstream.WithMsgID(fmt.Sprint(time.Now().UnixNano())))
	case "consume":
		_, op = js.CreateOrUpdateConsumer(ctx, "EVENTS", jetstream.ConsumerConfig{Durable: args[1], FilterSubject: args[2], AckPolicy: jetstream.AckExplicitPolicy})
	default:
		return "unknown " + args[0]
	}
	select {
	case err := <-denied:
		return "denied: " + err.Error()
	case <-time.After(200 * time.Millisecond):
	}
	if op != nil {
		if errors.Is(op, context.DeadlineExceeded) {
			return "no answer: " + op.Error()
		}
		return "error: " + op.Error()
	}
	return "ok"
}
