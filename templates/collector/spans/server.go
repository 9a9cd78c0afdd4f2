package spans

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
)

// MaxBody bounds an OTLP request body, after decompression.
const MaxBody = 32 << 20

// Handler serves OTLP/HTTP on POST /v1/traces, the query API on
// GET /api/traces and GET /api/traces/{id}, and GET /healthz and /readyz.
type Handler struct {
	Store *Store
	// Forward, when set, receives each accepted request's protobuf body.
	Forward func(body []byte)
	Log     *slog.Logger
	mux     *http.ServeMux
}

// NewHandler returns the collector's HTTP handler over store.
func NewHandler(store *Store, forward func([]byte), log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	h := &Handler{Store: store, Forward: forward, Log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /v1/traces", h.receive)
	h.mux.HandleFunc("GET /api/traces", h.list)
	h.mux.HandleFunc("GET /api/traces/{id}", h.get)
	health := func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "service": "collector", "spans": store.Len()})
	}
	h.mux.HandleFunc("GET /healthz", health)
	h.mux.HandleFunc("GET /readyz", health)
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// receive accepts one OTLP export request.
func (h *Handler) receive(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ct := r.Header.Get("Content-Type")
	td, err := Decode(body, ct)
	if err != nil {
		status := http.StatusBadRequest
		if strings.HasPrefix(err.Error(), "content type") {
			status = http.StatusUnsupportedMediaType
		}
		http.Error(w, err.Error(), status)
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
	var buf bytes.Buffer
	if r.ContentLength > 0 && r.ContentLength <= MaxBody {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := io.Copy(&buf, io.LimitReader(src, MaxBody+1)); err != nil {
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	if buf.Len() > MaxBody {
		return nil, fmt.Errorf("body larger than %d bytes", MaxBody)
	}
	return buf.Bytes(), nil
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
