package spans

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
)

// MaxBody bounds an OTLP request body, after decompression: a batch of
// 512 spans is well under 1 MiB.
const MaxBody = 8 << 20

// Decoders is how many requests are read and decoded at once. With
// MaxBody and MaxMessages it bounds the memory that requests take,
// however many arrive: the others wait their turn, holding nothing.
const Decoders = 2

// Handler serves OTLP/HTTP on POST /v1/traces, the query API on
// GET /api/traces and GET /api/traces/{id}, and GET /healthz and /readyz.
type Handler struct {
	Store *Store
	// Forward, when set, receives each accepted request's protobuf body.
	Forward func(body []byte)
	Log     *slog.Logger
	// Hosts are the names the query API answers to: a page in a browser
	// on another site must not read traces through DNS rebinding.
	Hosts    []string
	mux      *http.ServeMux
	decoding chan struct{}
}

// NewHandler returns the collector's HTTP handler over store.
func NewHandler(store *Store, forward func([]byte), log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	h := &Handler{Store: store, Forward: forward, Log: log, mux: http.NewServeMux(), decoding: make(chan struct{}, Decoders),
		Hosts: []string{"127.0.0.1", "localhost", "::1", "collector"}}
	h.mux.HandleFunc("POST /v1/traces", h.receive)
	h.mux.HandleFunc("GET /api/traces", h.local(h.list))
	h.mux.HandleFunc("GET /api/traces/{id}", h.local(h.get))
	health := func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "service": "collector", "spans": store.Len()})
	}
	h.mux.HandleFunc("GET /healthz", health)
	h.mux.HandleFunc("GET /readyz", health)
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// local refuses a request whose Host is not one of h.Hosts (any port).
func (h *Handler) local(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if hp, _, err := net.SplitHostPort(host); err == nil {
			host = hp
		}
		host = strings.ToLower(strings.Trim(host, "[]"))
		if !slices.Contains(h.Hosts, host) {
			writeJSON(w, http.StatusMisdirectedRequest, map[string]string{"error": "the collector does not answer to that host name"})
			return
		}
		next(w, r)
	}
}

// receive accepts one OTLP export request.
func (h *Handler) receive(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > MaxBody {
		http.Error(w, fmt.Sprintf("body larger than %d bytes", MaxBody), http.StatusRequestEntityTooLarge)
		return
	}
	// One of Decoders turns: the body is read and decoded within it.
	select {
	case h.decoding <- struct{}{}:
		defer func() { <-h.decoding }()
	case <-r.Context().Done():
		return
	}
	ct := r.Header.Get("Content-Type")
	if _, err := contentKind(ct); err != nil {
		http.Error(w, err.Error(), http.StatusUnsupportedMediaType)
		return
	}
	body, err := readBody(r)
	if err != nil {
		http.Error(w, err.Error(), statusOf(err))
		return
	}
	td, err := Decode(body, ct)
	if err != nil {
		http.Error(w, err.Error(), statusOf(err))
		return
	}
	raw := body
	if !strings.HasPrefix(strings.ToLower(ct), ContentProtobuf) {
		if raw, err = proto.Marshal(td); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	if _, err := h.Store.Add(td, raw); err != nil {
		h.Log.Error("storing spans failed", "error", err.Error())
		http.Error(w, "storing spans failed", http.StatusInternalServerError)
		return
	}
	if h.Forward != nil {
		h.Forward(raw)
	}
	// An empty ExportTraceServiceResponse: full success.
	if strings.HasPrefix(strings.ToLower(ct), ContentJSON) {
		w.Header().Set("Content-Type", ContentJSON)
		io.WriteString(w, "{}")
		return
	}
	w.Header().Set("Content-Type", ContentProtobuf)
	w.WriteHeader(http.StatusOK)
}

// statusOf is the status of a request the collector refused.
func statusOf(err error) int {
	var tooBig *http.MaxBytesError
	if errors.Is(err, ErrTooLarge) || errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

func readBody(r *http.Request) ([]byte, error) {
	var src io.Reader = http.MaxBytesReader(nil, r.Body, MaxBody)
	switch strings.ToLower(r.Header.Get("Content-Encoding")) {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, fmt.Errorf("body is not gzip: %w", err)
		}
		defer zr.Close()
		src = zr
	default:
		return nil, fmt.Errorf("content encoding %q is not supported; use gzip or none", r.Header.Get("Content-Encoding"))
	}
	hint := 64 << 10
	if r.ContentLength > 0 && r.Header.Get("Content-Encoding") == "" {
		hint = int(r.ContentLength) // at most MaxBody: checked on arrival
	}
	return readAtMost(src, hint, MaxBody)
}

// readAtMost reads all of r when it holds at most limit bytes. Its buffer
// doubles from hint but never past limit+1 bytes, so that reading what
// turns out too long allocates at most about twice limit, whatever r holds.
func readAtMost(r io.Reader, hint, limit int) ([]byte, error) {
	// One byte more than the hint: the EOF is read without growing.
	buf := make([]byte, 0, min(max(hint, 512)+1, limit+1))
	for {
		if len(buf) == cap(buf) {
			if len(buf) > limit {
				return nil, fmt.Errorf("%w: body larger than %d bytes once decompressed", ErrTooLarge, limit)
			}
			grown := make([]byte, len(buf), min(2*cap(buf), limit+1))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			if len(buf) > limit {
				return nil, fmt.Errorf("%w: body larger than %d bytes once decompressed", ErrTooLarge, limit)
			}
			return buf, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the body: %w", err)
		}
	}
}

// list answers GET /api/traces?service=S&min_duration=D&errors=true&limit=N.
func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	q := Query{Service: r.URL.Query().Get("service")}
	if v := r.URL.Query().Get("min_duration"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			http.Error(w, "min_duration is not a duration", http.StatusBadRequest)
			return
		}
		q.MinDuration = d
	}
	if v := r.URL.Query().Get("errors"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			http.Error(w, "errors is not true or false", http.StatusBadRequest)
			return
		}
		q.Errors = b
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			http.Error(w, "limit is not a positive number", http.StatusBadRequest)
			return
		}
		q.Limit = n
	}
	writeJSON(w, http.StatusOK, h.Store.List(q))
}

// get answers GET /api/traces/{id}; id may be a prefix.
func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	t, err := h.Store.Get(r.PathValue("id"))
	switch {
	case errors.Is(err, ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
	case errors.Is(err, ErrAmbiguous):
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusOK, t)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", ContentJSON)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
