// Package deadline passes a caller's remaining time budget to the services
// it calls, so that a callee stops working when nobody waits any more and
// retries do not multiply across hops.
//
// The budget travels as a number of milliseconds, not a point in time, so
// that clocks that disagree between containers do not matter.
package deadline

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// Header carries the caller's remaining budget in milliseconds.
const Header = "X-Msx-Deadline-Ms"

// max bounds what a caller may ask for, so that a huge value cannot keep
// a request running for ever.
const max = 5 * time.Minute

// Set writes ctx's remaining budget into h, if ctx has a deadline.
func Set(ctx context.Context, h http.Header) {
	d, ok := ctx.Deadline()
	if !ok {
		return
	}
	ms := time.Until(d).Milliseconds()
	if ms < 1 {
		ms = 1
	}
	h.Set(Header, strconv.FormatInt(ms, 10))
}

// Middleware gives each request the deadline its caller passed in Header.
// A malformed value is ignored: the server's own timeouts still apply.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.Header.Get(Header)
		if v == "" {
			next.ServeHTTP(w, r)
			return
		}
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ms <= 0 {
			next.ServeHTTP(w, r)
			return
		}
		d := min(time.Duration(ms)*time.Millisecond, max)
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
