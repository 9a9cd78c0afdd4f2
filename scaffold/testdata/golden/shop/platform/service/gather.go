package service

import (
	"context"
	"sync"

	"example.com/shop/platform/httpjson"
)

// Gather runs every call concurrently and returns each one's result by
// name, or httpjson.ErrorBody{Error: ...} for those that failed. Answer
// it with status 200 even when some failed: a 5xx would count against the
// whole caller in the gateway's breaker because one dependency is down.
func Gather(ctx context.Context, calls map[string]func(context.Context) (any, error)) map[string]any {
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		out = make(map[string]any, len(calls))
	)
	for name, call := range calls {
		wg.Go(func() {
			v, err := call(ctx)
			if err != nil {
				v = httpjson.ErrorBody{Error: Describe(err)} // never the address dialled
			}
			mu.Lock()
			defer mu.Unlock()
			out[name] = v
		})
	}
	wg.Wait()
	return out
}
