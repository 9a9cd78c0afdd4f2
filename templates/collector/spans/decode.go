package spans

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

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

// MaxMessages bounds the messages (resource spans, spans, attributes,
// values...) of one request. Decoded, a message takes a few hundred bytes
// however few it took on the wire (an empty span is 2 bytes), so the count,
// not the body's size, is what bounds the memory a request takes. A batch
// of 512 spans with a dozen attributes each is about 13,000.
const MaxMessages = 1 << 17

// maxDepth bounds nesting (an attribute value can hold arrays of values).
const maxDepth = 32

// ErrTooLarge is the error of a request the collector will not decode: a
// body or a message count past the bounds. It is answered 413.
var ErrTooLarge = errors.New("request too large")

var tracesDesc = (&tracepb.TracesData{}).ProtoReflect().Descriptor()

// DecodeProtobuf decodes an OTLP/HTTP protobuf request body. Its shape is
// checked on the wire first (a walk that allocates nothing), so that a
// small body that would decode into a huge tree is refused before any of
// it is built.
func DecodeProtobuf(body []byte) (*tracepb.TracesData, error) {
	left := MaxMessages
	if err := checkWire(body, tracesDesc, 0, &left); err != nil {
		return nil, err
	}
	var td tracepb.TracesData
	if err := (proto.UnmarshalOptions{RecursionLimit: maxDepth + 2}).Unmarshal(body, &td); err != nil {
		return nil, fmt.Errorf("not an OTLP protobuf trace request: %w", err)
	}
	return &td, nil
}

// checkWire walks a message of type md on the wire, counting the messages
// it holds against left.
func checkWire(b []byte, md protoreflect.MessageDescriptor, depth int, left *int) error {
	if depth > maxDepth {
		return errors.New("not an OTLP protobuf trace request: nested too deeply")
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("not an OTLP protobuf trace request: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return fmt.Errorf("not an OTLP protobuf trace request: %w", protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return fmt.Errorf("not an OTLP protobuf trace request: %w", protowire.ParseError(n))
		}
		b = b[n:]
		fd := md.Fields().ByNumber(num)
		if fd == nil || fd.Kind() != protoreflect.MessageKind {
			continue // bytes, a string, packed numbers or an unknown field: held as they are
		}
		if *left--; *left < 0 {
			return fmt.Errorf("%w: more than %d messages", ErrTooLarge, MaxMessages)
		}
		if err := checkWire(v, fd.Message(), depth+1, left); err != nil {
			return err
		}
	}
	return nil
}

// DecodeJSON decodes an OTLP/HTTP JSON request body. OTLP's JSON differs
// from protobuf's canonical JSON in one way: trace and span IDs are hex,
// not base64. They are rewritten token by token, never as a tree of
// values, and the objects and arrays are counted as the protobuf path
// counts messages, before protojson reads the result.
func DecodeJSON(body []byte) (*tracepb.TracesData, error) {
	fixed, err := hexIDsToBase64(body)
	if err != nil {
		return nil, err
	}
	var td tracepb.TracesData
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true, RecursionLimit: maxDepth + 2}).Unmarshal(fixed, &td); err != nil {
		return nil, fmt.Errorf("not an OTLP JSON trace request: %w", err)
	}
	return &td, nil
}

var idKeys = map[string]int{
	"traceId": 16, "trace_id": 16, "spanId": 8, "span_id": 8, "parentSpanId": 8, "parent_span_id": 8,
}

// jsonFrame is an object or array being rewritten.
type jsonFrame struct {
	object  bool
	n       int    // members or elements written so far
	inValue bool   // in an object, a key was read: its value comes next
	key     string // that key
}

// hexIDsToBase64 copies one JSON document, with the values of ID keys
// turned from hex to base64. Depth and the number of objects and arrays
// are bounded, so that a hostile document can exhaust neither the stack
// nor the heap.
func hexIDsToBase64(body []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	out := make([]byte, 0, len(body)+len(body)/8)
	var stack []jsonFrame
	left := MaxMessages
	for {
		tok, err := dec.Token()
		if err == io.EOF && len(stack) == 0 && len(out) > 0 {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("not an OTLP JSON trace request: %w", err)
		}
		if len(stack) == 0 && len(out) > 0 {
			return nil, errors.New("not an OTLP JSON trace request: data after the object")
		}
		var top *jsonFrame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			out = append(out, byte(d))
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				stack[len(stack)-1].inValue = false
			}
			continue
		}
		if top != nil && top.object && !top.inValue {
			// A key (the decoder checked it is a string).
			k, _ := tok.(string)
			if top.n > 0 {
				out = append(out, ',')
			}
			top.n++
			out = append(appendJSONString(out, k), ':')
			top.key, top.inValue = k, true
			continue
		}
		// A value: of an object's key, an array's element, or the document.
		key := ""
		switch {
		case top == nil:
		case top.object:
			key, top.inValue = top.key, false
		default:
			if top.n > 0 {
				out = append(out, ',')
			}
			top.n++
		}
		switch v := tok.(type) {
		case json.Delim:
			if len(stack) >= maxDepth {
				return nil, errors.New("not an OTLP JSON trace request: nested too deeply")
			}
			if left--; left < 0 {
				return nil, fmt.Errorf("%w: more than %d objects and arrays", ErrTooLarge, MaxMessages)
			}
			out = append(out, byte(v))
			stack = append(stack, jsonFrame{object: v == '{'})
		case string:
			if n, ok := idKeys[key]; ok && v != "" {
				b, err := hex.DecodeString(v)
				if err != nil || len(b) != n {
					return nil, fmt.Errorf("%s %q is not %d hexadecimal bytes", key, clip(v), n)
				}
				v = base64.StdEncoding.EncodeToString(b)
			}
			out = appendJSONString(out, v)
		case json.Number:
			out = append(out, v...)
		case bool:
			out = strconv.AppendBool(out, v)
		case nil:
			out = append(out, "null"...)
		}
	}
}

// appendJSONString appends s as a JSON string.
func appendJSONString(out []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(out, b...)
}

// Decode decodes a request body of the given content type.
func Decode(body []byte, contentType string) (*tracepb.TracesData, error) {
	kind, err := contentKind(contentType)
	if err != nil {
		return nil, err
	}
	if kind == ContentJSON {
		return DecodeJSON(body)
	}
	return DecodeProtobuf(body)
}

// contentKind is ContentProtobuf or ContentJSON, for a request's
// Content-Type, or an error naming the ones accepted.
func contentKind(contentType string) (string, error) {
	ct, _, _ := strings.Cut(contentType, ";")
	switch strings.TrimSpace(strings.ToLower(ct)) {
	case ContentProtobuf, "application/protobuf":
		return ContentProtobuf, nil
	case ContentJSON:
		return ContentJSON, nil
	}
	return "", fmt.Errorf("content type %q is neither %s nor %s", contentType, ContentProtobuf, ContentJSON)
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

// clip bounds s, in a copy of its own when cut: a slice of a long string
// would keep the whole of it alive in the store.
func clip(s string) string {
	if len(s) > maxValue {
		return strings.Clone(s[:maxValue])
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
