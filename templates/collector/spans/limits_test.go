package spans

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// allocated returns the bytes the heap allocated while f ran: an upper
// bound on how much f grew the heap at any moment.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func postTo(t *testing.T, h http.Handler, body io.Reader, length int64, ct, encoding string) int {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/v1/traces", body)
	r.ContentLength = length
	r.Header.Set("Content-Type", ct)
	if encoding != "" {
		r.Header.Set("Content-Encoding", encoding)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// emptySpans is a protobuf request of n empty spans: 2 bytes each on the
// wire, a few hundred once decoded.
func emptySpans(n int) []byte {
	spans := bytes.Repeat([]byte{0x12, 0x00}, n) // ScopeSpans.spans = 2, empty
	scope := append(appendLen([]byte{0x12}, len(spans)), spans...)
	return append(appendLen([]byte{0x0a}, len(scope)), scope...) // resource_spans = 1
}

func appendLen(b []byte, n int) []byte {
	for n >= 0x80 {
		b = append(b, byte(n)|0x80)
		n >>= 7
	}
	return append(b, byte(n))
}

func newLimitHandler(t *testing.T) *Handler {
	t.Helper()
	s, err := Open(Options{MaxSpans: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return NewHandler(s, nil, nil)
}

func TestGzipBombIsRefusedWithBoundedMemory(t *testing.T) {
	h := newLimitHandler(t)
	// 32 MiB of empty resource spans, gzipped to about 32 KiB.
	bomb := gzipped(t, bytes.Repeat([]byte{0x0a, 0x00}, 16<<20))
	t.Logf("bomb: %d bytes gzipped", len(bomb))
	var code int
	n := allocated(func() { code = postTo(t, h, bytes.NewReader(bomb), int64(len(bomb)), ContentProtobuf, "gzip") })
	t.Logf("the gzip bomb: %d, %d KiB allocated", code, n>>10)
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("gzip bomb: %d, want 413", code)
	}
	if n > 24<<20 {
		t.Errorf("the gzip bomb took %d MiB of heap, want at most 24", n>>20)
	}
}

func TestMessageBombIsRefusedWithBoundedMemory(t *testing.T) {
	h := newLimitHandler(t)
	// Under MaxBody once decompressed, but four times MaxMessages spans:
	// decoded, hundreds of MiB.
	body := gzipped(t, emptySpans(4*MaxMessages))
	var code int
	n := allocated(func() { code = postTo(t, h, bytes.NewReader(body), int64(len(body)), ContentProtobuf, "gzip") })
	t.Logf("many empty spans: %d, %d KiB allocated", code, n>>10)
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("a small body of many empty spans: %d, want 413", code)
	}
	if n > 16<<20 {
		t.Errorf("it took %d MiB of heap, want at most 16", n>>20)
	}
	// The same in JSON: many empty objects.
	js := []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[` + strings.Repeat("{},", 4*MaxMessages) + `{}]}]}]}`)
	n = allocated(func() { code = postTo(t, h, bytes.NewReader(js), int64(len(js)), ContentJSON, "") })
	t.Logf("many empty JSON spans: %d, %d KiB allocated", code, n>>10)
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("a JSON body of many empty spans: %d, want 413", code)
	}
	if n > 48<<20 {
		t.Errorf("the JSON one took %d MiB of heap, want at most 48", n>>20)
	}
}

func TestTheLargestAcceptedRequestTakesBoundedMemory(t *testing.T) {
	h := newLimitHandler(t)
	// Just under MaxMessages spans, each with IDs and a name: accepted,
	// and the most a request can make the collector hold while decoding.
	span := []byte{0x0a, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0x12, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0x2a, 1, 'x'}
	one := append(appendLen([]byte{0x12}, len(span)), span...)
	spans := bytes.Repeat(one, MaxMessages-2)
	scope := append(appendLen([]byte{0x12}, len(spans)), spans...)
	body := append(appendLen([]byte{0x0a}, len(scope)), scope...)
	var code int
	n := allocated(func() { code = postTo(t, h, bytes.NewReader(body), int64(len(body)), ContentProtobuf, "") })
	t.Logf("%d spans in %d KiB: %d, %d MiB allocated", MaxMessages-2, len(body)>>10, code, n>>20)
	if code != http.StatusOK {
		t.Errorf("%d spans: %d, want 200", MaxMessages-2, code)
	}
	if n > 160<<20 {
		t.Errorf("the largest request took %d MiB of heap, want at most 160", n>>20)
	}
}

func TestBigBodyIsRefusedWithBoundedMemory(t *testing.T) {
	h := newLimitHandler(t)
	// 31 MiB of JSON, told by its length, then streamed without one.
	big := []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"` + strings.Repeat("x", 31<<20) + `"}]}]}]}`)
	for _, length := range []int64{int64(len(big)), -1} {
		var code int
		n := allocated(func() { code = postTo(t, h, bytes.NewReader(big), length, ContentJSON, "") })
		t.Logf("31 MiB body (length %d): %d, %d KiB allocated", length, code, n>>10)
		if code != http.StatusRequestEntityTooLarge {
			t.Errorf("31 MiB body (length %d): %d, want 413", length, code)
		}
		if n > 24<<20 {
			t.Errorf("31 MiB body (length %d) took %d MiB of heap, want at most 24", length, n>>20)
		}
	}
}

func TestQueryAPIChecksHost(t *testing.T) {
	h := newLimitHandler(t)
	for host, want := range map[string]int{
		"127.0.0.1:4318": 200, "localhost:4318": 200, "[::1]:4318": 200, "collector:4318": 200,
		"evil.example:4318": http.StatusMisdirectedRequest, "evil.example": http.StatusMisdirectedRequest,
	} {
		r := httptest.NewRequest(http.MethodGet, "/api/traces", nil)
		r.Host = host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("Host %s: %d, want %d", host, w.Code, want)
		}
	}
}

func TestClippedValuesDoNotKeepTheWholeString(t *testing.T) {
	long := strings.Repeat("v", 1<<20)
	c := clip(long)
	if c != long[:maxValue] {
		t.Fatalf("clip kept %d bytes, want the first %d", len(c), maxValue)
	}
	// A copy, not a slice of long: the store keeps 256 bytes, not 1 MiB.
	if unsafe.StringData(c) == unsafe.StringData(long) {
		t.Error("the clipped value shares the long string's memory")
	}
}

func TestStoreMemoryIsBoundedBySpanSizeToo(t *testing.T) {
	const maxBytes = 8 << 20
	s, err := Open(Options{MaxSpans: 200000, MaxBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	// Spans as large as they may be: 32 attributes of 256-byte keys and
	// values, 100 a request, 10 times the bound in all.
	attrs := make([]*commonpb.KeyValue, MaxAttrs)
	for i := range attrs {
		attrs[i] = &commonpb.KeyValue{Key: fmt.Sprint(i, strings.Repeat("k", 300)),
			Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: strings.Repeat("v", 300)}}}
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for r := range 50 {
		var list []*tracepb.Span
		for i := range 100 {
			list = append(list, &tracepb.Span{TraceId: bytes.Repeat([]byte{byte(r + 1)}, 16), SpanId: []byte{1, 2, 3, 4, 5, 6, byte(r), byte(i + 1)},
				Name: "big", Attributes: attrs})
		}
		td := &tracepb.TracesData{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: list}}}}}
		if _, err := s.Add(td, nil); err != nil {
			t.Fatal(err)
		}
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d spans kept, about %d KiB counted, heap grown by %d KiB", s.Len(), s.bytes>>10, grown>>10)
	if s.bytes > maxBytes || s.Len() >= 5000 {
		t.Errorf("%d spans, %d bytes counted, want at most %d bytes", s.Len(), s.bytes, maxBytes)
	}
	if grown > 2*maxBytes {
		t.Errorf("the heap grew by %d MiB, want at most twice the bound", grown>>20)
	}
}
