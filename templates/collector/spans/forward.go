package spans

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Forwarder sends accepted requests on to another OTLP/HTTP endpoint, in
// the background: a slow or absent endpoint never slows the services
// down. When its queue is full, requests are dropped and counted.
type Forwarder struct {
	url    string
	queue  chan []byte
	client *http.Client
	log    *slog.Logger
}

// NewForwarder forwards to endpoint (http://host:4318; /v1/traces is
// added unless the endpoint already ends with it).
func NewForwarder(endpoint string, log *slog.Logger) *Forwarder {
	u := strings.TrimRight(endpoint, "/")
	if !strings.HasSuffix(u, "/v1/traces") {
		u += "/v1/traces"
	}
	return &Forwarder{url: u, queue: make(chan []byte, 256), client: &http.Client{Timeout: 10 * time.Second}, log: log}
}

// Send queues body; it never blocks.
func (f *Forwarder) Send(body []byte) {
	select {
	case f.queue <- bytes.Clone(body):
	default:
		f.log.Warn("forward queue full: spans dropped", "endpoint", f.url)
	}
}

// Run sends queued requests until ctx is done.
func (f *Forwarder) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case body := <-f.queue:
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(body))
			if err != nil {
				f.log.Warn("forwarding failed", "endpoint", f.url, "error", err.Error())
				continue
			}
			req.Header.Set("Content-Type", ContentProtobuf)
			resp, err := f.client.Do(req)
			if err != nil {
				f.log.Warn("forwarding failed", "endpoint", f.url, "error", err.Error())
				continue
			}
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				f.log.Warn("forwarding refused", "endpoint", f.url, "status", resp.StatusCode)
			}
		}
	}
}
