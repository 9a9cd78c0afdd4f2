package messaging

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// What the outbox and the consumer show on /metrics, besides
// messaging.outbox.dead_lettered (see RelayOnce). The consumer's one label
// is the topic, one of the service's subscriptions (its consumers filter
// on exactly those): bounded, whatever arrives.
//
// The instruments are made from the meter provider installed
// when they are first needed, and made again if another one is installed
// since: the API would otherwise keep handing them to the first provider
// only, which a test binary running several services has shut down.
type instruments struct {
	provider     metric.MeterProvider
	meter        metric.Meter
	lag          metric.Int64Gauge
	deadLettered metric.Int64Counter
}

var current atomic.Pointer[instruments]

func consumerInstruments() *instruments {
	mp := otel.GetMeterProvider()
	if in := current.Load(); in != nil && in.provider == mp {
		return in
	}
	in := &instruments{provider: mp, meter: mp.Meter("example.com/shop/platform/messaging")}
	in.lag, _ = in.meter.Int64Gauge("messaging.consumer.lag",
		metric.WithDescription("Events of a topic waiting in the broker for this service's consumer, as of the last one delivered."))
	in.deadLettered, _ = in.meter.Int64Counter("messaging.consumer.dead_lettered",
		metric.WithDescription("Events of a topic sent to the dead-letter stream after their handler kept failing."))
	current.Store(in)
	return in
}

// recordLag notes how many events of msg's topic wait behind it.
func recordLag(ctx context.Context, msg jetstream.Msg) {
	if md, err := msg.Metadata(); err == nil {
		consumerInstruments().lag.Record(ctx, int64(md.NumPending), metric.WithAttributes(attribute.String("topic", Topic(msg.Subject()))))
	}
}

// recordDeadLetter counts msg as dead-lettered.
func recordDeadLetter(ctx context.Context, msg jetstream.Msg) {
	consumerInstruments().deadLettered.Add(ctx, 1, metric.WithAttributes(attribute.String("topic", Topic(msg.Subject()))))
}

// observeBacklog shows how many events wait in the outbox, counted when
// /metrics is read, as messaging.outbox.backlog; the function it returns
// stops that.
func observeBacklog(o *Outbox) func() {
	meter := consumerInstruments().meter
	backlog, err := meter.Int64ObservableGauge("messaging.outbox.backlog",
		metric.WithDescription("Events in the outbox that the broker has not acknowledged yet."))
	if err != nil {
		return func() {}
	}
	reg, err := meter.RegisterCallback(func(ctx context.Context, obs metric.Observer) error {
		// A scrape must not hang on a busy database.
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		n, err := o.Unsent(ctx)
		if err != nil {
			return err
		}
		obs.ObserveInt64(backlog, int64(n))
		return nil
	}, backlog)
	if err != nil {
		return func() {}
	}
	return func() { _ = reg.Unregister() }
}
