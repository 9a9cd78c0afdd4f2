package logs

import (
	"context"
	"errors"
	"strings"
	"time"
)

// TraceWindow is how long before a trace's first span its log lines are
// read from: a program may log a request's line before its span starts.
const TraceWindow = 5 * time.Second

// TraceLines are the log lines of the trace traceID from every container
// of the workspace (opts' project and dir), read from TraceWindow before
// start, rendered as msx logs renders lines with prefixes for services (in
// their colour order): what msx trace prints under a waterfall. It is ""
// when there are none, or no containers to read.
func TraceLines(ctx context.Context, src Source, opts ShowOptions, services []string, traceID string, start time.Time, color bool) (string, error) {
	var buf strings.Builder
	p := NewPrinter(&buf, services, PrinterOptions{Color: color, Filter: Filter{TraceID: traceID}})
	opts.Since, opts.Tail, opts.Follow = start.Add(-TraceWindow), -1, false
	if err := Show(ctx, src, p, opts); err != nil && !errors.Is(err, ErrNoContainers) {
		return "", err
	}
	return buf.String(), nil
}
