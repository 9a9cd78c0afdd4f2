package service

import (
	"context"
	"net/http"
	"sync"
	"time"

	"example.com/shop/platform/httpjson"
)

// Gather runs every call concurrently and answers with each one's result
// by name, or httpjson.ErrorBody{Error: ...} for those that failed: 200,
// or 503 with Retry-After (the longest wait) when a service it called is
// unavailable (httpjson.Unavailable), marked so that no breaker counts it
// against this service, whose other routes still work.
func Gather(w http.ResponseWriter, r *http.Request, calls map[string]func(context.Context) (any, error)) {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		out  = make(map[string]any, len(calls))
		down bool
		wait time.Duration
	)
	for name, call := range calls {
		wg.Go(func() {
			v, err := call(r.Context())
			if err != nil {
				v = httpjson.ErrorBody{Error: Describe(err)} // never the address dialled
			}
			d, unavailable := httpjson.Unavailable(err)
			mu.Lock()
			defer mu.Unlock()
			out[name] = v
			down, wait = down || unavailable, max(wait, d)
		})
	}
	wg.Wait()
	status := http.StatusOK
	if down {
		httpjson.PassOn(w, wait)
		status = http.StatusServiceUnavailable
	}
	httpjson.Write(w, status, out)
}
