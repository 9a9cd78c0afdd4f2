package spans

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// maxRecord bounds a record of a segment file when read back: larger
// than MaxBody, which collectors before it allowed.
const maxRecord = 32 << 20

// Segments is how many parts the store's bound is cut into: when the store
// is full, the oldest part, about a quarter of the spans, is dropped at
// once, with its file.
const Segments = 4

// Store keeps the most recent spans, at most about MaxSpans of them, in
// memory and, when it has a directory, in segment files there that a new
// Store reads back: spans survive a restart of the collector. It is safe
// for concurrent use.
type Store struct {
	dir     string
	max     int
	segSize int
	// maxBytes bounds the memory the spans take, about; 0 is no bound.
	maxBytes int
	bytes    int
	mu       sync.RWMutex
	segs     []*segment // oldest first; the last is written to
	traces   map[TraceID]*traceEntry
	order    []*traceEntry // by first arrival
	dead     int           // entries of order that were dropped
	// The indexes of List, kept as spans arrive so that a filtered list
	// walks only the traces that may match: the traces with a span of
	// each service, and the traces with a span in error, each in the
	// order of order. An entry may stay in them after it stopped matching
	// (its spans were dropped): List checks every entry it takes, and the
	// indexes are compacted with order.
	byService map[string][]*traceEntry
	errored   []*traceEntry
	seq       uint64 // the next trace's arrival number
	total     int
	nextSeg   uint64
	file      *os.File // the last segment's file
	writeBuf  []byte
}

type segment struct {
	id      uint64
	path    string
	spans   int
	bytes   int
	batches [][]Span
}

type traceEntry struct {
	id       TraceID
	seq      uint64 // arrival number: its place in order and the indexes
	spans    []*Span
	services []string // of its spans, sorted, once each
	start    int64
	end      int64
	errors   int
	dead     bool
	// indexed are the services under which the entry is in byService,
	// and inErrored whether it is in errored: an entry is never listed
	// twice.
	indexed   []string
	inErrored bool
}

// Options configure a Store.
type Options struct {
	// Dir holds the segment files; empty keeps spans in memory only.
	Dir string
	// MaxSpans bounds the spans kept; the oldest are dropped first.
	MaxSpans int
	// MaxBytes bounds, about, the memory the kept spans take, for spans
	// as large as a span may be (32 attributes of 256-byte keys and
	// values are 16 KiB); the oldest go first. 0 is no bound but MaxSpans.
	MaxBytes int
}

// Open returns a store over opts.Dir, reading back the spans stored there.
// A segment whose last record was cut short (the collector was killed
// while writing) is truncated to its last whole record.
func Open(opts Options) (*Store, error) {
	if opts.MaxSpans <= 0 {
		return nil, errors.New("MaxSpans must be positive")
	}
	s := &Store{
		dir:       opts.Dir,
		max:       opts.MaxSpans,
		segSize:   max(opts.MaxSpans/Segments, 1),
		maxBytes:  opts.MaxBytes,
		traces:    map[TraceID]*traceEntry{},
		byService: map[string][]*traceEntry{},
	}
	if s.dir == "" {
		s.segs = []*segment{{}}
		s.nextSeg = 1
		return s, nil
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, err
	}
	paths, err := filepath.Glob(filepath.Join(s.dir, "seg-*.otlp"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths) // zero-padded ids: lexical is numeric order
	for _, p := range paths {
		var id uint64
		if _, err := fmt.Sscanf(filepath.Base(p), "seg-%020d.otlp", &id); err != nil {
			continue
		}
		seg := &segment{id: id, path: p}
		s.segs = append(s.segs, seg)
		s.nextSeg = id + 1
		if err := s.load(seg); err != nil {
			return nil, err
		}
	}
	for s.over() && len(s.segs) > 1 {
		s.dropOldest()
	}
	if len(s.segs) == 0 || s.segFull(s.segs[len(s.segs)-1]) {
		if err := s.rotate(); err != nil {
			return nil, err
		}
	} else {
		last := s.segs[len(s.segs)-1]
		if s.file, err = os.OpenFile(last.path, os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// load reads a segment file's records into memory.
func (s *Store) load(seg *segment) error {
	f, err := os.Open(seg.path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var good int64
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			break
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n > maxRecord {
			break
		}
		rec := make([]byte, n)
		if _, err := io.ReadFull(r, rec); err != nil {
			break
		}
		td, err := DecodeProtobuf(rec)
		if err != nil {
			break
		}
		good += 4 + int64(n)
		s.addLocked(seg, Flatten(td, nil))
	}
	if st, err := f.Stat(); err == nil && st.Size() != good {
		return os.Truncate(seg.path, good)
	}
	return nil
}

// rotate starts a new segment (and file).
func (s *Store) rotate() error {
	seg := &segment{id: s.nextSeg}
	s.nextSeg++
	if s.dir != "" {
		seg.path = filepath.Join(s.dir, fmt.Sprintf("seg-%020d.otlp", seg.id))
		f, err := os.OpenFile(seg.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		if s.file != nil {
			s.file.Close()
		}
		s.file = f
	}
	s.segs = append(s.segs, seg)
	return nil
}

// Add stores the spans of a decoded request. raw is its protobuf encoding
// when the caller has it (nil marshals td): it is what the segment file
// keeps. It returns how many spans were stored.
func (s *Store) Add(td *tracepb.TracesData, raw []byte) (int, error) {
	batch := Flatten(td, nil)
	if len(batch) == 0 {
		return 0, nil
	}
	if s.dir != "" && raw == nil {
		var err error
		if raw, err = proto.Marshal(td); err != nil {
			return 0, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.segFull(s.segs[len(s.segs)-1]) {
		if err := s.rotate(); err != nil {
			return 0, err
		}
	}
	seg := s.segs[len(s.segs)-1]
	if s.file != nil {
		s.writeBuf = binary.BigEndian.AppendUint32(s.writeBuf[:0], uint32(len(raw)))
		s.writeBuf = append(s.writeBuf, raw...)
		if _, err := s.file.Write(s.writeBuf); err != nil {
			return 0, fmt.Errorf("writing spans: %w", err)
		}
	}
	s.addLocked(seg, batch)
	for s.over() && len(s.segs) > 1 {
		s.dropOldest()
	}
	return len(batch), nil
}

// over reports whether the store holds more than its bounds.
func (s *Store) over() bool {
	return s.total > s.max || (s.maxBytes > 0 && s.bytes > s.maxBytes)
}

// segFull reports whether seg holds its share of the bounds.
func (s *Store) segFull(seg *segment) bool {
	return seg.spans >= s.segSize || (s.maxBytes > 0 && seg.bytes >= s.maxBytes/Segments)
}

// spanBytes is about the memory a stored span takes: the span, its
// strings and attributes, and its share of its trace's entry.
func spanBytes(sp *Span) int {
	n := 256 + len(sp.Name) + len(sp.Status) + len(sp.Attrs)*64
	for _, a := range sp.Attrs {
		n += len(a.Key) + len(a.Value)
	}
	return n
}

func (s *Store) addLocked(seg *segment, batch []Span) {
	seg.batches = append(seg.batches, batch)
	seg.spans += len(batch)
	s.total += len(batch)
	for i := range batch {
		sp := &batch[i]
		n := spanBytes(sp)
		seg.bytes += n
		s.bytes += n
		sp.seg = seg.id
		e := s.traces[sp.TraceID]
		if e == nil {
			e = &traceEntry{id: sp.TraceID, seq: s.seq, start: sp.Start, end: sp.End}
			s.seq++
			s.traces[sp.TraceID] = e
			s.order = append(s.order, e)
		}
		e.spans = append(e.spans, sp)
		e.start = min(e.start, sp.Start)
		e.end = max(e.end, sp.End)
		if i, found := slices.BinarySearch(e.services, sp.Service); !found {
			e.services = slices.Insert(e.services, i, sp.Service)
			if !slices.Contains(e.indexed, sp.Service) {
				e.indexed = append(e.indexed, sp.Service)
				s.byService[sp.Service] = insertBySeq(s.byService[sp.Service], e)
			}
		}
		if sp.Error {
			e.errors++
			if !e.inErrored {
				e.inErrored = true
				s.errored = insertBySeq(s.errored, e)
			}
		}
	}
}

// insertBySeq adds e to list, which is in arrival order: at the end but
// for a trace that gains a service or an error after later traces did.
func insertBySeq(list []*traceEntry, e *traceEntry) []*traceEntry {
	i := len(list)
	for i > 0 && list[i-1].seq > e.seq {
		i--
	}
	return slices.Insert(list, i, e)
}

// dropOldest removes the oldest segment, from memory and disk.
func (s *Store) dropOldest() {
	seg := s.segs[0]
	s.segs = s.segs[1:]
	s.total -= seg.spans
	s.bytes -= seg.bytes
	touched := map[*traceEntry]bool{}
	for _, b := range seg.batches {
		for i := range b {
			if e := s.traces[b[i].TraceID]; e != nil {
				touched[e] = true
			}
		}
	}
	for e := range touched {
		kept := e.spans[:0]
		for _, sp := range e.spans {
			if sp.seg != seg.id {
				kept = append(kept, sp)
			}
		}
		clear(e.spans[len(kept):]) // let the dropped spans be collected
		e.spans = kept
		if len(kept) == 0 {
			e.dead = true
			s.dead++
			delete(s.traces, e.id)
			continue
		}
		e.start, e.end, e.errors, e.services = kept[0].Start, kept[0].End, 0, e.services[:0]
		for _, sp := range kept {
			e.start = min(e.start, sp.Start)
			e.end = max(e.end, sp.End)
			if sp.Error {
				e.errors++
			}
			if i, found := slices.BinarySearch(e.services, sp.Service); !found {
				e.services = slices.Insert(e.services, i, sp.Service)
			}
		}
	}
	if s.dead > len(s.order)/2 {
		s.compact()
	}
	if seg.path != "" {
		os.Remove(seg.path)
	}
}

// compact removes dropped traces from order, and from the indexes the
// entries that no longer match.
func (s *Store) compact() {
	s.order = slices.DeleteFunc(s.order, func(e *traceEntry) bool { return e.dead })
	s.dead = 0
	for svc, list := range s.byService {
		list = slices.DeleteFunc(list, func(e *traceEntry) bool { return e.dead || !e.has(svc) })
		if len(list) == 0 {
			delete(s.byService, svc)
		} else {
			s.byService[svc] = list
		}
	}
	s.errored = slices.DeleteFunc(s.errored, func(e *traceEntry) bool { return e.dead || e.errors == 0 })
	for _, e := range s.order {
		e.indexed = append(e.indexed[:0], e.services...)
		e.inErrored = e.errors > 0
	}
}

// has reports whether the trace has a span of service.
func (e *traceEntry) has(service string) bool {
	_, found := slices.BinarySearch(e.services, service)
	return found
}

// Len returns how many spans the store holds.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.total
}

// Close closes the segment file.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	s.file = nil
	return err
}

// Query selects traces for List.
type Query struct {
	Service     string        // with a span of this service
	MinDuration time.Duration // lasting at least this long
	Errors      bool          // with a span in error
	Limit       int           // the most recent Limit (20 when zero)
}

// DefaultLimit is how many traces List returns when the query says not.
const DefaultLimit = 20

// List returns the most recent traces that match q, newest first. It
// walks, newest first, the shortest list of traces that holds every
// match: the traces of q.Service, those in error, or all of them.
func (s *Store) List(q Query) []Summary {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	cands := s.order
	if q.Service != "" {
		cands = s.byService[q.Service]
	}
	if q.Errors && len(s.errored) < len(cands) {
		cands = s.errored
	}
	out := []Summary{}
	for i := len(cands) - 1; i >= 0 && len(out) < limit; i-- {
		e := cands[i]
		if e.dead || (q.Errors && e.errors == 0) || (q.MinDuration > 0 && e.duration() < q.MinDuration) ||
			(q.Service != "" && !e.has(q.Service)) {
			continue
		}
		out = append(out, e.summary())
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.After(out[j].Start) })
	return out
}

func (e *traceEntry) summary() Summary {
	sum := Summary{
		TraceID:    e.id.String(),
		Start:      time.Unix(0, e.start).UTC(),
		DurationNS: int64(e.duration()),
		Spans:      len(e.spans),
		Errors:     e.errors,
	}
	if root := e.root(); root != nil {
		sum.Root, sum.RootService = root.Name, root.Service
		// The route ("GET /api/orders/") groups requests; the path tells
		// /api/orders/items from /api/orders/hello.
		for _, a := range root.Attrs {
			if a.Key == "url.path" {
				sum.Path = a.Value
			}
		}
	}
	sum.Services = slices.Clone(e.services)
	return sum
}

// duration is the time from the first start to the last end; never
// negative, whatever clocks the spans came from.
func (e *traceEntry) duration() time.Duration {
	return time.Duration(max(e.end-e.start, 0))
}

// root returns the earliest span whose parent is not in the trace.
func (e *traceEntry) root() *Span {
	ids := make(map[SpanID]bool, len(e.spans))
	for _, sp := range e.spans {
		ids[sp.SpanID] = true
	}
	var root *Span
	for _, sp := range e.spans {
		if (sp.Parent.IsZero() || !ids[sp.Parent]) && (root == nil || sp.Start < root.Start) {
			root = sp
		}
	}
	return root
}

// Lookup errors.
var (
	ErrNotFound  = errors.New("no such trace")
	ErrAmbiguous = errors.New("more than one trace has that prefix")
)

// Get returns the trace whose ID is id, or starts with id (hex, any case).
func (s *Store) Get(id string) (Trace, error) {
	id = strings.ToLower(id)
	if id == "" || len(id) > 32 || strings.Trim(id, "0123456789abcdef") != "" {
		return Trace{}, ErrNotFound
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var found *traceEntry
	if len(id) == 32 {
		var tid TraceID
		hex.Decode(tid[:], []byte(id))
		found = s.traces[tid]
	} else {
		// Compared as bytes, not hex: the whole bytes of the prefix, then
		// the high half of the next byte for an odd number of digits.
		whole, _ := hex.DecodeString(id[:len(id)&^1])
		var half byte
		odd := len(id)%2 == 1
		if odd {
			b, _ := hex.DecodeString(id[len(id)-1:] + "0")
			half = b[0]
		}
		for tid, e := range s.traces {
			if string(tid[:len(whole)]) != string(whole) || (odd && tid[len(whole)]&0xf0 != half) {
				continue
			}
			if found != nil {
				return Trace{}, ErrAmbiguous
			}
			found = e
		}
	}
	if found == nil {
		return Trace{}, ErrNotFound
	}
	t := Trace{TraceID: found.id.String(), Spans: make([]SpanJSON, 0, len(found.spans))}
	sorted := slices.Clone(found.spans)
	slices.SortStableFunc(sorted, func(a, b *Span) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
	for _, sp := range sorted {
		t.Spans = append(t.Spans, sp.JSON())
	}
	return t, nil
}
