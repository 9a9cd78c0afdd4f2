package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/msx-dev/msx/devenv"
)

// EventStream is the stream of the generated platform/messaging, whose
// durable consumers are named after the services that subscribe and their
// topics (devenv.ConsumerName).
const EventStream = devenv.EventStream

// ConsumerStatus is what the broker says of a subscribing service's
// durable consumer.
type ConsumerStatus struct {
	// Pending is how many events of its subjects it has not been given yet.
	Pending uint64 `json:"pending"`
	// AckPending is how many it was given and has not acknowledged.
	AckPending int `json:"ack_pending"`
	// Redelivered is how many of those were given more than once.
	Redelivered int `json:"redelivered"`
}

// BrokerStatus is what the broker's monitoring endpoint says.
type BrokerStatus struct {
	// Consumers are the consumers of EventStream, by name.
	Consumers map[string]ConsumerStatus
	// DeadLetters is how many events DeadLetterStream holds: events whose
	// handler kept failing, set aside.
	DeadLetters uint64
}

// BrokerClient reads the broker's monitoring endpoint, published for msx
// on 127.0.0.1.
type BrokerClient interface {
	// Read returns the consumers of EventStream and the dead letters;
	// monitorURL ends with the secret monitoring path
	// (devenv.BrokerMonitorSecret).
	Read(ctx context.Context, monitorURL string) (BrokerStatus, error)
}

// HTTPBroker is the BrokerClient of a NATS server's /jsz.
type HTTPBroker struct{ Client *http.Client }

var _ BrokerClient = HTTPBroker{}

// Read reads /jsz?consumers=true.
func (b HTTPBroker) Read(ctx context.Context, monitorURL string) (BrokerStatus, error) {
	c := b.Client
	if c == nil {
		c = &http.Client{Timeout: 2 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, monitorURL+"/jsz?consumers=true", nil)
	if err != nil {
		return BrokerStatus{}, err
	}
	resp, err := c.Do(req)
	if err != nil {
		// Without the URL, whose path is a secret.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return BrokerStatus{}, fmt.Errorf("asking the broker's /jsz: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return BrokerStatus{}, fmt.Errorf("the broker's /jsz answered %s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return BrokerStatus{}, err
	}
	return ParseJSZ(data)
}

// ParseJSZ reads the consumers of EventStream and the size of
// DeadLetterStream from a NATS server's /jsz with consumers=true.
func ParseJSZ(data []byte) (BrokerStatus, error) {
	var jsz struct {
		Accounts []struct {
			Streams []struct {
				Name  string `json:"name"`
				State struct {
					Messages uint64 `json:"messages"`
				} `json:"state"`
				Consumers []struct {
					Name        string `json:"name"`
					Pending     uint64 `json:"num_pending"`
					AckPending  int    `json:"num_ack_pending"`
					Redelivered int    `json:"num_redelivered"`
				} `json:"consumer_detail"`
			} `json:"stream_detail"`
		} `json:"account_details"`
	}
	if err := json.Unmarshal(data, &jsz); err != nil {
		return BrokerStatus{}, fmt.Errorf("reading the broker's /jsz: %w", err)
	}
	out := BrokerStatus{Consumers: map[string]ConsumerStatus{}}
	for _, a := range jsz.Accounts {
		for _, s := range a.Streams {
			if s.Name == devenv.DeadLetterStream {
				out.DeadLetters += s.State.Messages
			}
			if s.Name != EventStream {
				continue
			}
			for _, c := range s.Consumers {
				out.Consumers[c.Name] = ConsumerStatus{Pending: c.Pending, AckPending: c.AckPending, Redelivered: c.Redelivered}
			}
		}
	}
	return out, nil
}

func (r *Runner) broker() BrokerClient {
	if r.Broker != nil {
		return r.Broker
	}
	return HTTPBroker{}
}

// fillConsumers gives each subscribing service the status of its durable
// consumer, and the broker its dead letters, read from the running broker;
// nothing when there is none.
func (r *Runner) fillConsumers(ctx context.Context, list []ServiceStatus) {
	var broker *ServiceStatus
	for i := range list {
		if list[i].brokerMonitor != "" {
			broker = &list[i]
		}
	}
	if broker == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := r.broker().Read(ctx, broker.brokerMonitor)
	if err != nil {
		return
	}
	broker.DeadLetters = &st.DeadLetters
	consumers := st.Consumers
	// A service has a consumer per topic: it shows their sum.
	sum := map[string]*ConsumerStatus{}
	for name, c := range consumers {
		s := devenv.ConsumerService(name)
		if s == "" {
			continue
		}
		t := sum[s]
		if t == nil {
			t = &ConsumerStatus{}
			sum[s] = t
		}
		t.Pending += c.Pending
		t.AckPending += c.AckPending
		t.Redelivered += c.Redelivered
	}
	for i := range list {
		if c, ok := sum[list[i].Service]; ok && list[i].Role == devenv.RoleService {
			list[i].Consumer = c
		}
	}
}
