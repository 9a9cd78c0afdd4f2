package engine

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// tracer writes one line per Engine API call: method, path, status and how
// long the engine took to answer (to the response's headers: a stream such
// as a log follow is timed to its start). It is what msx -v shows.
type tracer struct {
	next http.RoundTripper
	mu   *sync.Mutex
	w    io.Writer
	now  func() time.Time
}

func (t *tracer) RoundTrip(req *http.Request) (*http.Response, error) {
	start := t.now()
	res, err := t.next.RoundTrip(req)
	took := t.now().Sub(start)
	status := "error: " + fmt.Sprint(err)
	if err == nil {
		status = res.Status
	}
	t.mu.Lock()
	fmt.Fprintf(t.w, "msx: engine: %s %s %s in %s\n", req.Method, apiPath(req.URL.Path), status, took.Round(10*time.Microsecond))
	t.mu.Unlock()
	return res, err
}

// apiPath drops the API version prefix (/v1.47), which every call has.
func apiPath(p string) string {
	if strings.HasPrefix(p, "/v1.") {
		if i := strings.IndexByte(p[1:], '/'); i >= 0 {
			return p[i+1:]
		}
	}
	return p
}
