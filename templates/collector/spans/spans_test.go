package spans

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// The sdk-N.pb files are request bodies the real OpenTelemetry Go SDK
// (otlptracehttp v1.47.0, WithSyncer) sent: the gateway's client span in
// error, its server span, then a span of orders with array, bool and
// float attributes.
func readSDK(t testing.TB, n int) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", fmt.Sprintf("sdk-%d.pb", n)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeAll(t *testing.T, body []byte, ct string) []Span {
	t.Helper()
	td, err := Decode(body, ct)
	if err != nil {
		t.Fatal(err)
	}
	return Flatten(td, nil)
}

func attr(s Span, key string) string {
	for _, a := range s.Attrs {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}

func TestDecodeSDKProtobuf(t *testing.T) {
	client := decodeAll(t, readSDK(t, 1), "application/x-protobuf")
	root := decodeAll(t, readSDK(t, 2), "application/x-protobuf")
	orders := decodeAll(t, readSDK(t, 3), "application/x-protobuf")
	if len(client) != 1 || len(root) != 1 || len(orders) != 1 {
		t.Fatalf("spans: %d %d %d, want one each", len(client), len(root), len(orders))
	}
	c, r, o := client[0], root[0], orders[0]
	if c.TraceID != r.TraceID || c.Parent != r.SpanID || !r.Parent.IsZero() {
		t.Errorf("client %s/%s parent %s; root %s/%s: want the client under the root", c.TraceID, c.SpanID, c.Parent, r.TraceID, r.SpanID)
	}
	if r.Name != "GET /api/orders/" || r.Service != "gateway" || r.Kind != "server" || attr(r, "http.response.status_code") != "500" {
		t.Errorf("root = %+v", r)
	}
	if c.Name != "HTTP GET" || c.Kind != "client" || !c.Error || c.Status != "upstream failed" || c.Duration() < 2*time.Millisecond {
		t.Errorf("client = %+v", c)
	}
	if o.Service != "orders" || o.Name != "GET /items/{id}" || attr(o, "tags") != "[a,b]" || attr(o, "cached") != "true" || attr(o, "ratio") != "0.5" {
		t.Errorf("orders = %+v", o)
	}
	if o.TraceID == r.TraceID {
		t.Error("orders' span should be a trace of its own")
	}
}

func TestDecodeJSON(t *testing.T) {
	body, err := os.ReadFile("testdata/otlp.json")
	if err != nil {
		t.Fatal(err)
	}
	got := decodeAll(t, body, "application/json; charset=utf-8")
	if len(got) != 2 {
		t.Fatalf("%d spans, want 2", len(got))
	}
	root, child := got[0], got[1]
	if root.TraceID.String() != "5b8efff798038103d269b633813fc60c" || root.SpanID.String() != "eee19b7ec3c1b174" {
		t.Errorf("IDs: %s %s", root.TraceID, root.SpanID)
	}
	if root.Service != "checkout" || root.Kind != "server" || !root.Error || root.Status != "payments unavailable" ||
		root.Duration() != time.Second || attr(root, "http.response.status_code") != "503" {
		t.Errorf("root = %+v", root)
	}
	if child.Parent != root.SpanID || child.Kind != "client" || child.Duration() != 200*time.Millisecond {
		t.Errorf("child = %+v", child)
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, tt := range []struct{ name, body, ct, want string }{
		{"garbage protobuf", "\xff\xff\xff", ContentProtobuf, "not an OTLP protobuf"},
		{"not JSON", "{", ContentJSON, "not an OTLP JSON"},
		{"two documents", "{} {}", ContentJSON, "data after"},
		{"bad hex ID", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz","spanId":"eee19b7ec3c1b174"}]}]}]}`, ContentJSON, "traceId"},
		{"short ID", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"eeee"}]}]}]}`, ContentJSON, "spanId"},
		{"wrong field type", `{"resourceSpans":"x"}`, ContentJSON, "not an OTLP JSON"},
		{"deep nesting", strings.Repeat("[", 100) + strings.Repeat("]", 100), ContentJSON, "not an OTLP JSON"},
		{"content type", "{}", "text/plain", "content type"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.body), tt.ct)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
	// Spans without valid IDs are skipped, not stored.
	td := &tracepb.TracesData{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
		{TraceId: make([]byte, 16), SpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
		{TraceId: []byte{1}, SpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
	}}}}}}
	if got := Flatten(td, nil); len(got) != 0 {
		t.Errorf("stored %d spans without valid IDs", len(got))
	}
}

// fakeTrace builds a request of n spans in trace tid: a root of service
// svc and its children, the i-th child starting i ms after the root.
func fakeTrace(tid byte, svc string, n int, start time.Time, dur time.Duration, errs bool) *tracepb.TracesData {
	var spans []*tracepb.Span
	for i := 0; i < n; i++ {
		s := &tracepb.Span{
			TraceId:           []byte{tid, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
			SpanId:            []byte{byte(i + 1), 0, 0, 0, 0, 0, 0, tid},
			Name:              fmt.Sprintf("op%d", i),
			StartTimeUnixNano: uint64(start.Add(time.Duration(i) * time.Millisecond).UnixNano()),
			EndTimeUnixNano:   uint64(start.Add(dur).UnixNano()),
		}
		if i == 0 {
			s.Name = "GET /api/" + svc + "/"
			s.Attributes = []*commonpb.KeyValue{{Key: "url.path", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "/api/" + svc + "/items"}}}}
		} else {
			s.ParentSpanId = []byte{1, 0, 0, 0, 0, 0, 0, tid}
		}
		if errs && i == n-1 {
			s.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "boom"}
		}
		spans = append(spans, s)
	}
	return &tracepb.TracesData{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: svc}}}}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}},
	}}}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func mustAdd(t *testing.T, s *Store, td *tracepb.TracesData) {
	t.Helper()
	if _, err := s.Add(td, nil); err != nil {
		t.Fatal(err)
	}
}

func TestStoreQueries(t *testing.T) {
	s, err := Open(Options{MaxSpans: 1000})
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, s, fakeTrace(1, "orders", 3, t0, 10*time.Millisecond, false))
	mustAdd(t, s, fakeTrace(2, "payments", 2, t0.Add(time.Second), 300*time.Millisecond, true))
	mustAdd(t, s, fakeTrace(3, "orders", 4, t0.Add(2*time.Second), 50*time.Millisecond, false))
	ids := func(list []Summary) string {
		var out []string
		for _, x := range list {
			out = append(out, x.TraceID[:2])
		}
		return strings.Join(out, ",")
	}
	for _, tt := range []struct {
		q    Query
		want string
	}{
		{Query{}, "03,02,01"},
		{Query{Limit: 2}, "03,02"},
		{Query{Service: "orders"}, "03,01"},
		{Query{MinDuration: 40 * time.Millisecond}, "03,02"},
		{Query{Errors: true}, "02"},
		{Query{Service: "nobody"}, ""},
	} {
		if got := ids(s.List(tt.q)); got != tt.want {
			t.Errorf("List(%+v) = %s, want %s", tt.q, got, tt.want)
		}
	}
	sum := s.List(Query{Errors: true})[0]
	if sum.Root != "GET /api/payments/" || sum.Path != "/api/payments/items" || sum.RootService != "payments" || sum.Spans != 2 || sum.Errors != 1 ||
		sum.DurationNS != int64(300*time.Millisecond) || !sum.Start.Equal(t0.Add(time.Second)) || strings.Join(sum.Services, ",") != "payments" {
		t.Errorf("summary = %+v", sum)
	}

	tr, err := s.Get("0300")
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Spans) != 4 || tr.Spans[0].Name != "GET /api/orders/" || tr.Spans[1].ParentID != tr.Spans[0].SpanID {
		t.Errorf("trace = %+v", tr)
	}
	if _, err := s.Get(tr.TraceID); err != nil {
		t.Errorf("full ID: %v", err)
	}
	if _, err := s.Get("0"); err != ErrAmbiguous {
		t.Errorf("Get(0) = %v, want ErrAmbiguous", err)
	}
	for _, id := range []string{"04", "zz", "", strings.Repeat("0", 33)} {
		if _, err := s.Get(id); err != ErrNotFound {
			t.Errorf("Get(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func TestStoreDropsOldestFirst(t *testing.T) {
	s, err := Open(Options{MaxSpans: 20}) // segments of 5 spans
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 12; i++ {
		mustAdd(t, s, fakeTrace(byte(i), "orders", 5, t0.Add(time.Duration(i)*time.Second), time.Millisecond, false))
		if s.Len() > 20 {
			t.Fatalf("after %d traces the store holds %d spans, more than 20", i, s.Len())
		}
	}
	list := s.List(Query{Limit: 100})
	if len(list) != 4 || list[0].TraceID[:2] != "0c" || list[3].TraceID[:2] != "09" {
		t.Errorf("kept %v, want the 4 newest traces", list)
	}
	if _, err := s.Get("01"); err != ErrNotFound {
		t.Errorf("the oldest trace is still there: %v", err)
	}
}

func TestStoreTraceAcrossSegments(t *testing.T) {
	// A trace whose spans arrive in two requests loses only the spans of
	// the dropped segment.
	s, _ := Open(Options{MaxSpans: 8}) // segments of 2
	full := fakeTrace(1, "orders", 4, t0, time.Millisecond, false)
	spans := full.ResourceSpans[0].ScopeSpans[0].Spans
	first := proto.Clone(full).(*tracepb.TracesData)
	first.ResourceSpans[0].ScopeSpans[0].Spans = spans[:2]
	second := proto.Clone(full).(*tracepb.TracesData)
	second.ResourceSpans[0].ScopeSpans[0].Spans = spans[2:]
	mustAdd(t, s, first)
	mustAdd(t, s, second)
	mustAdd(t, s, fakeTrace(2, "payments", 2, t0, time.Millisecond, false))
	mustAdd(t, s, fakeTrace(3, "payments", 2, t0, time.Millisecond, false))
	mustAdd(t, s, fakeTrace(4, "payments", 2, t0, time.Millisecond, false)) // drops the first segment
	tr, err := s.Get("01")
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Spans) != 2 || tr.Spans[0].Name != "op2" {
		t.Errorf("trace 01 kept %+v, want the spans of its second request", tr.Spans)
	}
	if got := s.List(Query{Service: "orders"}); len(got) != 1 || got[0].Spans != 2 || got[0].Root != "op2" {
		t.Errorf("list = %+v", got)
	}
}

func TestStorePersists(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, MaxSpans: 20})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 6; i++ {
		mustAdd(t, s, fakeTrace(byte(i), "orders", 5, t0.Add(time.Duration(i)*time.Second), time.Millisecond, i == 6))
	}
	before := s.List(Query{Limit: 100})
	s.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "seg-*.otlp"))
	if len(files) != 4 {
		t.Errorf("%d segment files, want 4 (the oldest dropped with its spans)", len(files))
	}
	// A record cut short by a kill is dropped, the rest kept.
	last := files[len(files)-1]
	f, _ := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{0, 0, 1, 0, 1, 2})
	f.Close()

	s2, err := Open(Options{Dir: dir, MaxSpans: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	after := s2.List(Query{Limit: 100})
	bj, _ := json.Marshal(before)
	aj, _ := json.Marshal(after)
	if !bytes.Equal(bj, aj) {
		t.Errorf("after reopening:\n%s\nwant\n%s", aj, bj)
	}
	mustAdd(t, s2, fakeTrace(7, "orders", 5, t0.Add(7*time.Second), time.Millisecond, false))
	if got := s2.List(Query{Limit: 1}); len(got) != 1 || got[0].TraceID[:2] != "07" {
		t.Errorf("after a new request: %+v", got)
	}
	// A smaller bound on reopening drops the oldest.
	s2.Close()
	s3, err := Open(Options{Dir: dir, MaxSpans: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	if s3.Len() > 10+10/Segments {
		t.Errorf("reopened with a bound of 10, holds %d", s3.Len())
	}
}

func TestHandler(t *testing.T) {
	s, _ := Open(Options{MaxSpans: 1000})
	var forwarded [][]byte
	srv := httptest.NewServer(NewHandler(s, func(b []byte) { forwarded = append(forwarded, b) }, nil))
	defer srv.Close()
	post := func(body []byte, ct, enc string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/traces", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		if enc != "" {
			req.Header.Set("Content-Encoding", enc)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for n := 1; n <= 3; n++ {
		if resp := post(readSDK(t, n), ContentProtobuf, ""); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ContentProtobuf {
			t.Errorf("sdk-%d: %s %s", n, resp.Status, resp.Header.Get("Content-Type"))
		}
	}
	js, _ := os.ReadFile("testdata/otlp.json")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(js)
	zw.Close()
	if resp := post(gz.Bytes(), ContentJSON, "gzip"); resp.StatusCode != 200 {
		t.Errorf("gzip JSON: %s", resp.Status)
	}
	if resp := post([]byte("{"), ContentJSON, ""); resp.StatusCode != 400 {
		t.Errorf("bad JSON: %s", resp.Status)
	}
	if resp := post([]byte("{}"), "text/plain", ""); resp.StatusCode != 415 {
		t.Errorf("text/plain: %s", resp.Status)
	}
	if resp := post([]byte("{}"), ContentJSON, "br"); resp.StatusCode != 400 {
		t.Errorf("br: %s", resp.Status)
	}
	if s.Len() != 5 || len(forwarded) != 4 {
		t.Errorf("stored %d spans, forwarded %d requests; want 5 and 4", s.Len(), len(forwarded))
	}
	// The JSON request is forwarded as protobuf.
	if _, err := DecodeProtobuf(forwarded[3]); err != nil {
		t.Errorf("forwarded JSON request is not protobuf: %v", err)
	}

	get := func(path string, v any) int {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if v != nil {
			json.NewDecoder(resp.Body).Decode(v)
		}
		return resp.StatusCode
	}
	var list []Summary
	if code := get("/api/traces?errors=true&limit=5", &list); code != 200 || len(list) != 2 {
		t.Errorf("list: %d %+v", code, list)
	}
	var tr Trace
	if code := get("/api/traces/5b8efff7", &tr); code != 200 || len(tr.Spans) != 2 || tr.Spans[0].Service != "checkout" {
		t.Errorf("get: %d %+v", code, tr)
	}
	for path, want := range map[string]int{
		"/api/traces/ffff":               404,
		"/api/traces?limit=0":            400,
		"/api/traces?min_duration=x":     400,
		"/api/traces?errors=maybe":       400,
		"/api/traces?min_duration=500ms": 200,
		"/healthz":                       200,
		"/readyz":                        200,
	} {
		if code := get(path, nil); code != want {
			t.Errorf("GET %s = %d, want %d", path, code, want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for n := 1; n <= 3; n++ {
		f.Add(readSDK(f, n), true)
	}
	js, _ := os.ReadFile("testdata/otlp.json")
	f.Add(js, false)
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"","kind":99}]}]}]}`), false)
	f.Fuzz(func(t *testing.T, body []byte, protobuf bool) {
		ct := ContentJSON
		if protobuf {
			ct = ContentProtobuf
		}
		td, err := Decode(body, ct)
		if err != nil {
			return
		}
		s, _ := Open(Options{MaxSpans: 100})
		if _, err := s.Add(td, nil); err != nil {
			t.Fatal(err)
		}
		for _, sum := range s.List(Query{Limit: 100}) {
			if _, err := s.Get(sum.TraceID); err != nil {
				t.Fatalf("listed trace %s cannot be read: %v", sum.TraceID, err)
			}
		}
	})
}

// TestStoreIndexesMatchAScan adds spans of a few long-lived traces in a
// random order to a small store, so that traces gain services and errors
// after later traces did and lose spans to dropped segments, and checks
// after every request that each filtered List answers what a scan of
// every span answers.
func TestStoreIndexesMatchAScan(t *testing.T) {
	s, err := Open(Options{MaxSpans: 40})
	if err != nil {
		t.Fatal(err)
	}
	services := []string{"gateway", "orders", "payments", "catalog"}
	queries := []Query{{}, {Limit: 3}, {Errors: true}, {MinDuration: 5 * time.Millisecond}, {Service: "nobody"}}
	for _, svc := range services {
		queries = append(queries, Query{Service: svc}, Query{Service: svc, Limit: 2},
			Query{Service: svc, Errors: true}, Query{Service: svc, Errors: true, MinDuration: 3 * time.Millisecond})
	}
	rnd := uint32(1)
	next := func(n int) int { // a fixed xorshift sequence: the test is the same every run
		rnd ^= rnd << 13
		rnd ^= rnd >> 17
		rnd ^= rnd << 5
		return int(rnd % uint32(n))
	}
	for i := 0; i < 1200; i++ {
		tid := byte(next(12) + i/100*12) // a dozen live traces at a time
		var list []*tracepb.Span
		for j := 0; j <= next(3); j++ {
			sp := &tracepb.Span{
				TraceId:           []byte{tid, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
				SpanId:            []byte{byte(i), byte(i >> 8), byte(j), 0, 0, 0, 0, 1},
				Name:              "op",
				StartTimeUnixNano: uint64(t0.Add(time.Duration(i) * time.Millisecond).UnixNano()),
				EndTimeUnixNano:   uint64(t0.Add(time.Duration(i+next(8)) * time.Millisecond).UnixNano()),
			}
			if next(10) == 0 {
				sp.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR}
			}
			list = append(list, sp)
		}
		svc := services[next(len(services))]
		mustAdd(t, s, &tracepb.TracesData{ResourceSpans: []*tracepb.ResourceSpans{{
			Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: svc}}}}},
			ScopeSpans: []*tracepb.ScopeSpans{{Spans: list}},
		}}})
		for _, q := range queries {
			got, want := s.List(q), scanList(s, q)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("after request %d, List(%+v) =\n%v\nwant (a scan)\n%v", i, q, got, want)
			}
		}
	}
}

// scanList is List without the indexes: every trace, every span.
func scanList(s *Store, q Query) []Summary {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	out := []Summary{}
	for i := len(s.order) - 1; i >= 0 && len(out) < limit; i-- {
		e := s.order[i]
		if e.dead || (q.MinDuration > 0 && e.duration() < q.MinDuration) {
			continue
		}
		var svc, errs bool
		services := map[string]bool{}
		for _, sp := range e.spans {
			svc = svc || sp.Service == q.Service
			errs = errs || sp.Error
			services[sp.Service] = true
		}
		if (q.Service != "" && !svc) || (q.Errors && !errs) {
			continue
		}
		sum := e.summary()
		if len(sum.Services) != len(services) {
			panic(fmt.Sprintf("trace %s: services %v, its spans have %v", sum.TraceID, sum.Services, services))
		}
		out = append(out, sum)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.After(out[j].Start) })
	return out
}
