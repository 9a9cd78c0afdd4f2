package spans

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// Content types of OTLP/HTTP.
const (
	ContentProtobuf = "application/x-protobuf"
	ContentJSON     = "application/json"
)

// MaxAttrs bounds the attributes kept per span: enough for what msx trace
// shows, and a misbehaving exporter cannot blow up the store.
const MaxAttrs = 32

// maxValue bounds an attribute value's text.
const maxValue = 256

// An ExportTraceServiceRequest holds one field, resource_spans = 1, as
// TracesData does: the two have the same wire and JSON forms, and
// TracesData comes without the gRPC packages that the collector service's
// generated code pulls in.

// DecodeProtobuf decodes an OTLP/HTTP protobuf request body.
func DecodeProtobuf(body []byte) (*tracepb.TracesData, error) {
	var td tracepb.TracesData
	if err := proto.Unmarshal(body, &td); err != nil {
		return nil, fmt.Errorf("not an OTLP protobuf trace request: %w", err)
	}
	return &td, nil
}

// DecodeJSON decodes an OTLP/HTTP JSON request body. OTLP's JSON differs
// from protobuf's canonical JSON in one way: trace and span IDs are hex,
// not base64. They are rewritten before protojson reads the rest.
func DecodeJSON(body []byte) (*tracepb.TracesData, error) {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("not an OTLP JSON trace request: %w", err)
	}
	if dec.More() {
		return nil, errors.New("not an OTLP JSON trace request: data after the object")
	}
	if err := hexIDsToBase64(doc, 0); err != nil {
		return nil, err
	}
	fixed, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var td tracepb.TracesData
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(fixed, &td); err != nil {
		return nil, fmt.Errorf("not an OTLP JSON trace request: %w", err)
	}
	return &td, nil
}

var idKeys = map[string]int{
	"traceId": 16, "trace_id": 16, "spanId": 8, "span_id": 8, "parentSpanId": 8, "parent_span_id": 8,
}

// hexIDsToBase64 rewrites ID fields in place. Depth is bounded so that a
// hostile document cannot exhaust the stack.
func hexIDsToBase64(v any, depth int) error {
	if depth > 64 {
		return errors.New("not an OTLP JSON trace request: nested too deeply")
	}
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if n, ok := idKeys[k]; ok {
				s, isStr := val.(string)
				if !isStr {
					return fmt.Errorf("%s is not a string", k)
				}
				if s == "" {
					continue
				}
				b, err := hex.DecodeString(s)
				if err != nil || len(b) != n {
					return fmt.Errorf("%s %q is not %d hexadecimal bytes", k, s, n)
				}
				x[k] = base64.StdEncoding.EncodeToString(b)
				continue
			}
			if err := hexIDsToBase64(val, depth+1); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := hexIDsToBase64(e, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// Decode decodes a request body of the given content type.
func Decode(body []byte, contentType string) (*tracepb.TracesData, error) {
	ct, _, _ := strings.Cut(contentType, ";")
	switch strings.TrimSpace(strings.ToLower(ct)) {
	case ContentProtobuf, "application/protobuf":
		return DecodeProtobuf(body)
	case ContentJSON:
		return DecodeJSON(body)
	}
	return nil, fmt.Errorf("content type %q is neither %s nor %s", contentType, ContentProtobuf, ContentJSON)
}

// Flatten turns decoded resource spans into stored spans. Spans without a
// valid trace or span ID are skipped: nothing could find them.
func Flatten(td *tracepb.TracesData, out []Span) []Span {
	for _, rs := range td.GetResourceSpans() {
		service := "unknown"
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = clip(valueText(kv.GetValue(), 0))
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				var s Span
				if len(sp.GetTraceId()) != 16 || len(sp.GetSpanId()) != 8 {
					continue
				}
				copy(s.TraceID[:], sp.GetTraceId())
				copy(s.SpanID[:], sp.GetSpanId())
				if s.TraceID == (TraceID{}) || s.SpanID.IsZero() {
					continue
				}
				if len(sp.GetParentSpanId()) == 8 {
					copy(s.Parent[:], sp.GetParentSpanId())
				}
				s.Name = clip(sp.GetName())
				s.Service = service
				s.Kind = kindName(sp.GetKind())
				s.Start = clampTime(sp.GetStartTimeUnixNano())
				s.End = clampTime(sp.GetEndTimeUnixNano())
				if st := sp.GetStatus(); st.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
					s.Error = true
					s.Status = clip(st.GetMessage())
				}
				attrs := sp.GetAttributes()
				if len(attrs) > 0 {
					n := min(len(attrs), MaxAttrs)
					s.Attrs = make([]Attr, 0, n)
					for _, kv := range attrs[:n] {
						s.Attrs = append(s.Attrs, Attr{Key: clip(kv.GetKey()), Value: clip(valueText(kv.GetValue(), 0))})
					}
				}
				out = append(out, s)
			}
		}
	}
	return out
}

func clampTime(ns uint64) int64 {
	if ns > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(ns)
}

func clip(s string) string {
	if len(s) > maxValue {
		return s[:maxValue]
	}
	return s
}

func kindName(k tracepb.Span_SpanKind) string {
	switch k {
	case tracepb.Span_SPAN_KIND_SERVER:
		return "server"
	case tracepb.Span_SPAN_KIND_CLIENT:
		return "client"
	case tracepb.Span_SPAN_KIND_PRODUCER:
		return "producer"
	case tracepb.Span_SPAN_KIND_CONSUMER:
		return "consumer"
	case tracepb.Span_SPAN_KIND_INTERNAL:
		return "internal"
	}
	return ""
}

// valueText renders an attribute value as text.
func valueText(v *commonpb.AnyValue, depth int) string {
	if v == nil {
		return ""
	}
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BytesValue:
		return base64.StdEncoding.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		if depth > 4 {
			return "[…]"
		}
		parts := make([]string, 0, len(x.ArrayValue.GetValues()))
		for _, e := range x.ArrayValue.GetValues() {
			parts = append(parts, valueText(e, depth+1))
		}
		return "[" + strings.Join(parts, ",") + "]"
	case *commonpb.AnyValue_KvlistValue:
		if depth > 4 {
			return "{…}"
		}
		parts := make([]string, 0, len(x.KvlistValue.GetValues()))
		for _, kv := range x.KvlistValue.GetValues() {
			parts = append(parts, kv.GetKey()+"="+valueText(kv.GetValue(), depth+1))
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	return ""
}
