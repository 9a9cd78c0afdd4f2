package requestid

import (
	"context"
	"net/http"
	"testing"
)

func TestSetSendsTheIdOnUnlessTheRequestHasOne(t *testing.T) {
	ctx := With(context.Background(), "req-1")
	h := http.Header{}
	Set(ctx, h)
	if got := h.Get(Header); got != "req-1" {
		t.Errorf("header %q, want req-1", got)
	}
	h.Set(Header, "own")
	Set(ctx, h)
	if got := h.Get(Header); got != "own" {
		t.Errorf("header %q, want the request's own id kept", got)
	}
	h = http.Header{}
	Set(context.Background(), h)
	if _, ok := h[Header]; ok {
		t.Error("a context without an id set the header")
	}
}
