package devenv

import (
	"fmt"
	"strconv"
	"time"
)

// EventRetention bounds what is kept of the project's events (msx.yaml's events:);
// unset keys take the generated platform/messaging defaults. msx up hands
// them to every service that publishes or subscribes, as EVENTS_*
// variables.
type EventRetention struct {
	// StreamMaxAge is how long the broker keeps an event, such as 168h
	// (the default, 7 days); a subscriber away for longer misses the older
	// ones.
	StreamMaxAge string `yaml:"stream_max_age,omitempty"`
	// StreamMaxMB is the most each stream stores, in MiB (default 1024);
	// beyond it the oldest events go.
	StreamMaxMB int `yaml:"stream_max_mb,omitempty"`
	// InboxMaxAge is how long a subscriber remembers the events it
	// handled (default stream_max_age); at least stream_max_age, or an
	// event delivered again after it was forgotten would be applied twice.
	InboxMaxAge string `yaml:"inbox_max_age,omitempty"`
}

// Generated platform/messaging's default stream age, which an unset
// stream_max_age means.
const defaultStreamMaxAge = 7 * 24 * time.Hour

// validate checks events: in msx.yaml.
func (e EventRetention) validate() error {
	streamAge, inboxAge := defaultStreamMaxAge, time.Duration(0)
	for _, f := range []struct {
		key, v string
		d      *time.Duration
	}{{"events.stream_max_age", e.StreamMaxAge, &streamAge}, {"events.inbox_max_age", e.InboxMaxAge, &inboxAge}} {
		if f.v == "" {
			continue
		}
		d, err := time.ParseDuration(f.v)
		if err != nil || d <= 0 {
			return fmt.Errorf("%s: %q is not a duration such as 168h", f.key, f.v)
		}
		*f.d = d
	}
	if e.StreamMaxMB < 0 {
		return fmt.Errorf("events.stream_max_mb is %d; use a positive number of MiB, or leave it out for 1024", e.StreamMaxMB)
	}
	if inboxAge != 0 && inboxAge < streamAge {
		return fmt.Errorf("events.inbox_max_age (%s) is shorter than events.stream_max_age (%s): an event the broker delivers again after the inbox forgot it would be applied twice; make it at least as long", inboxAge, streamAge)
	}
	return nil
}

// env is what a service that publishes or subscribes is given: only the
// keys msx.yaml sets, so that the platform's defaults stay its own.
func (e EventRetention) env() map[string]string {
	env := map[string]string{}
	if e.StreamMaxAge != "" {
		env["EVENTS_STREAM_MAX_AGE"] = e.StreamMaxAge
	}
	if e.StreamMaxMB > 0 {
		env["EVENTS_STREAM_MAX_MB"] = strconv.Itoa(e.StreamMaxMB)
	}
	if e.InboxMaxAge != "" {
		env["EVENTS_INBOX_MAX_AGE"] = e.InboxMaxAge
	}
	return env
}
