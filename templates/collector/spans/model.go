// Package spans is the heart of the trace collector msx runs beside a
// project: it decodes OTLP/HTTP trace requests (protobuf and JSON), keeps
// the spans in a bounded store persisted on disk, answers queries, and
// serves both over HTTP. msx embeds this source and compiles it into the
// collector's image; msx trace reads the query API and draws what it gets.
//
// It imports only the standard library and the OTLP protobuf types, so
// that it builds as its own small module.
package spans

import (
	"encoding/hex"
	"time"
)

// TraceID and SpanID are OTLP's identifiers.
type (
	TraceID [16]byte
	SpanID  [8]byte
)

func (t TraceID) String() string { return hex.EncodeToString(t[:]) }
func (s SpanID) String() string  { return hex.EncodeToString(s[:]) }

// IsZero reports an absent span ID (a root span's parent).
func (s SpanID) IsZero() bool { return s == SpanID{} }

// Attr is one attribute, its value as text.
type Attr struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Span is one stored span.
type Span struct {
	TraceID TraceID
	SpanID  SpanID
	Parent  SpanID
	Name    string
	Service string
	Kind    string // server, client, internal, producer, consumer
	Start   int64  // Unix nanoseconds
	End     int64
	Error   bool
	Status  string // the status message of an error
	Attrs   []Attr

	seg uint64 // the store segment that holds it
}

// Duration is End - Start, never negative.
func (s *Span) Duration() time.Duration {
	if s.End < s.Start {
		return 0
	}
	return time.Duration(s.End - s.Start)
}

// SpanJSON is a span as the query API returns it.
type SpanJSON struct {
	TraceID    string    `json:"trace_id"`
	SpanID     string    `json:"span_id"`
	ParentID   string    `json:"parent_id,omitempty"`
	Name       string    `json:"name"`
	Service    string    `json:"service"`
	Kind       string    `json:"kind,omitempty"`
	Start      time.Time `json:"start"`
	DurationNS int64     `json:"duration_ns"`
	Error      bool      `json:"error,omitempty"`
	Status     string    `json:"status_message,omitempty"`
	Attrs      []Attr    `json:"attributes,omitempty"`
}

// JSON returns the span's API form.
func (s *Span) JSON() SpanJSON {
	j := SpanJSON{
		TraceID:    s.TraceID.String(),
		SpanID:     s.SpanID.String(),
		Name:       s.Name,
		Service:    s.Service,
		Kind:       s.Kind,
		Start:      time.Unix(0, s.Start).UTC(),
		DurationNS: int64(s.Duration()),
		Error:      s.Error,
		Status:     s.Status,
		Attrs:      s.Attrs,
	}
	if !s.Parent.IsZero() {
		j.ParentID = s.Parent.String()
	}
	return j
}

// Summary is one trace in a list.
type Summary struct {
	TraceID     string    `json:"trace_id"`
	Root        string    `json:"root"`           // the root span's name: the route
	Path        string    `json:"path,omitempty"` // the root span's url.path: the request's own path
	RootService string    `json:"root_service"`   // who served it first
	Start       time.Time `json:"start"`
	DurationNS  int64     `json:"duration_ns"`
	Spans       int       `json:"spans"`
	Errors      int       `json:"errors"`
	Services    []string  `json:"services"`
}

// Trace is every stored span of one trace, ordered by start.
type Trace struct {
	TraceID string     `json:"trace_id"`
	Spans   []SpanJSON `json:"spans"`
}
