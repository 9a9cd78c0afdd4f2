package messaging

import (
	"context"
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
var (
	meter = otel.Meter("example.com/shop/platform/messaging")

	consumerLag, _ = meter.Int64Gauge("messaging.consumer.lag",
		metric.WithDescription("Events of a topic waiting in the broker for this service's consumer, as of the last one delivered."))
	consumerDeadLettered, _ = meter.Int64Counter("messaging.consumer.dead_lettered",
		metric.WithDescription("Events of a topic sent to the dead-letter stream after their handler kept failing."))
)

// recordLag notes how many events of msg's topic wait behind it.
func recordLag(ctx context.Context, msg jetstream.Msg) {
	if md, err := msg.Metadata(); err == nil {
		consumerLag.Record(ctx, int64(md.NumPending), metric.WithAttributes(attribute.String("topic", Topic(msg.Subject()))))
	}
}

// recordDeadLetter counts msg as dead-lettered.
func recordDeadLetter(ctx context.Context, msg jetstream.Msg) {
	consumerDeadLettered.Add(ctx, 1, metric.WithAttributes(attribute.String("topic", Topic(msg.Subject()))))
}

// observeBacklog shows how many events wait in the outbox, counted when
// /metrics is read, as messaging.outbox.backlog; the function it returns
// stops that.
func observeBacklog(o *Outbox) func() {
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
