package model

import (
	"fmt"
	"testing"
)

// A full project (10 services, full rings) and the redraw's read of the
// log pane: 40 lines, unfiltered and with a filter that matches nothing,
// the worst case, which reads every line held.
func fullProject() *Project {
	names := make([]string, 10)
	for i := range names {
		names[i] = fmt.Sprintf("service%02d", i)
	}
	p := New(names, 2000)
	for i := 0; i < 2000*len(names); i++ {
		n := names[i%len(names)]
		p.Apply(logLine(n, fmt.Sprintf(`{"time":"2026-11-25T12:00:00.000Z","level":"INFO","msg":"request","method":"GET","path":"/api/%s/items/%d","status":200,"duration_ms":1.2}`, n, i)))
	}
	return p
}

func BenchmarkTail(b *testing.B) {
	p := fullProject()
	for _, c := range []struct{ name, filter string }{{"all", ""}, {"filter-none-match", "zzz"}, {"filter-some-match", "items/1999"}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				p.Tail("", c.filter, 0, 0, 40)
			}
		})
	}
}
