// Package inbound is the middleware a service's public listener runs
// around its routes: the caller's deadline, the caller's identity (and,
// for a protected service, its enforcement), the faults msx injects, JSON
// bodies only, and JSON errors from the router.
package inbound

import (
	"encoding/json"
	"mime"
	"net/http"
	"strings"

	"example.com/shop/platform/auth"
	"example.com/shop/platform/deadline"
	"example.com/shop/platform/fault"
)

// Options configures Wrap.
type Options struct {
	// Protected refuses requests that carry no verified identity token.
	Protected bool
	// Keys verify the identity tokens of requests and sign the calls made
	// while serving them; nil verifies and signs nothing.
	Keys *auth.Keys
	// Faults injects msx's faults; nil when fault injection is off.
	Faults *fault.Injector
	// MaxBodyBytes refuses larger request bodies with 413. Default 1 MiB.
	MaxBodyBytes int64
}

// Wrap returns h behind the service's inbound middleware.
func Wrap(h http.Handler, opts Options) http.Handler {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	h = requireJSON(opts.MaxBodyBytes, h)
	h = auth.Middleware(opts.Protected, opts.Keys)(h)
	// Faults come before the identity check: a failing service fails for
	// every caller, authenticated or not.
	h = opts.Faults.Middleware(h)
	h = deadline.Middleware(h)
	return JSONErrors(h)
}

// requireJSON refuses a request body that is not JSON (415) or is too
// large (413). The type must parse as application/json: a missing type, or
// application/jsonx, would let a browser post here across sites without
// asking first.
func requireJSON(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mt != "application/json" {
				writeError(w, http.StatusUnsupportedMediaType, "the Content-Type must be application/json")
				return
			}
			if r.ContentLength > max {
				writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, max)
		}
		next.ServeHTTP(w, r)
	})
}

// JSONErrors turns the plain-text errors of net/http (the router's 404 and
// 405, http.Error) into JSON {"error": "..."}, without echoing the path.
func JSONErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&jsonErrorWriter{ResponseWriter: w}, r)
	})
}

type jsonErrorWriter struct {
	http.ResponseWriter
	wroteHeader bool
	swallow     bool
}

func (j *jsonErrorWriter) WriteHeader(code int) {
	if j.wroteHeader {
		return
	}
	j.wroteHeader = true
	h := j.ResponseWriter.Header()
	if code >= 400 && strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		j.swallow = true
		h.Del("Content-Length")
		writeError(j.ResponseWriter, code, strings.ToLower(http.StatusText(code)))
		return
	}
	j.ResponseWriter.WriteHeader(code)
}

func (j *jsonErrorWriter) Write(b []byte) (int, error) {
	if !j.wroteHeader {
		j.WriteHeader(http.StatusOK)
	}
	if j.swallow {
		return len(b), nil
	}
	return j.ResponseWriter.Write(b)
}

func (j *jsonErrorWriter) Unwrap() http.ResponseWriter { return j.ResponseWriter }

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
