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

// BrokerClient reads the broker's monitoring endpoint, published for msx
// on 127.0.0.1.
type BrokerClient interface {
	// Consumers returns the consumers of EventStream by name; monitorURL
	// ends with the secret monitoring path (devenv.BrokerMonitorSecret).
	Consumers(ctx context.Context, monitorURL string) (map[string]ConsumerStatus, error)
}

// HTTPBroker is the BrokerClient of a NATS server's /jsz.
type HTTPBroker struct{ Client *http.Client }

var _ BrokerClient = HTTPBroker{}

// Consumers reads /jsz?consumers=true.
func (b HTTPBroker) Consumers(ctx context.Context, monitorURL string) (map[string]ConsumerStatus, error) {
	c := b.Client
	if c == nil {
		c = &http.Client{Timeout: 2 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, monitorURL+"/jsz?consumers=true", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		// Without the URL, whose path is a secret.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("asking the broker's /jsz: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the broker's /jsz answered %s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	return ParseJSZ(data)
}

// ParseJSZ reads the consumers of EventStream from a NATS server's /jsz
// with consumers=true.
func ParseJSZ(data []byte) (map[string]ConsumerStatus, error) {
	var jsz struct {
		Accounts []struct {
			Streams []struct {
				Name      string `json:"name"`
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
		return nil, fmt.Errorf("reading the broker's /jsz: %w", err)
	}
	out := map[string]ConsumerStatus{}
	for _, a := range jsz.Accounts {
		for _, s := range a.Streams {
			if s.Name != EventStream {
				continue
			}
			for _, c := range s.Consumers {
				out[c.Name] = ConsumerStatus{Pending: c.Pending, AckPending: c.AckPending, Redelivered: c.Redelivered}
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
// consumer, read from the running broker; nothing when there is none.
func (r *Runner) fillConsumers(ctx context.Context, list []ServiceStatus) {
	monitor := ""
	for _, s := range list {
		if s.brokerMonitor != "" {
			monitor = s.brokerMonitor
		}
	}
	if monitor == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	consumers, err := r.broker().Consumers(ctx, monitor)
	if err != nil {
		return
	}
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
