// Package model is the dashboard's state, fed by session events: each
// service's state, last build, restarts, resources and a bounded buffer of
// its log lines. It imports no UI code, so every transition is testable
// without a terminal; the dashboard package renders it.
package model

import (
	"strconv"
	"strings"
	"time"

	"github.com/msx-dev/msx/activity"
	"github.com/msx-dev/msx/logs"
	"github.com/msx-dev/msx/termtext"
)

// State is what a service is doing, as the table shows it.
type State int

// The states of a service. Waiting means no event has named it yet.
const (
	Waiting State = iota
	Building
	Starting
	Ready
	Unhealthy
	Crashed
	Stopping
	Stopped
)

var stateNames = [...]string{
	Waiting: "waiting", Building: "building", Starting: "starting", Ready: "ready",
	Unhealthy: "unhealthy", Crashed: "crashed", Stopping: "stopping", Stopped: "stopped",
}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// LineKind says where a line in the log buffer came from.
type LineKind int

// Kinds of line: the service's own output, or words msx adds about it.
const (
	Stdout     LineKind = iota
	Stderr              // the service's standard error
	Note                // something msx reports: built, restarted, exited
	BuildError          // one line of the compiler's output
)

// Line is one entry of a log buffer. Seq orders lines across services.
type Line struct {
	Seq     uint64
	Time    time.Time
	Service string // empty for project-wide messages
	Kind    LineKind
	Text    string
	// memo caches whether the line matches the project's current filter:
	// generation<<1 | match, 0 for not yet known.
	memo uint32
}

// Build is the result of a service's last finished build.
type Build struct {
	Done     bool // false until a build finished
	OK       bool
	Time     time.Time
	Duration time.Duration
	Errors   []string // the compiler's output when !OK
}

// Service is one row of the table.
type Service struct {
	Name     string
	Runtime  State // the container's state, whatever the build is doing
	Building bool
	Build    Build
	Restarts int
	ExitCode int      // of the last crash
	Output   []string // last lines reported with the last crash
	HasStats bool
	CPU      float64 // percent of one core
	Memory   uint64  // bytes
	Port     int     // published host port, 0 if unknown
	Logs     *Ring
	// found remembers, for the project's current filter, the newest line
	// of Logs searched and the newest match found (see Matching).
	found struct {
		gen       uint32
		upto, hit uint64
	}
}

// State is the state the table shows: building while a build runs (the
// previous version keeps serving), otherwise the container's.
func (s *Service) State() State {
	if s.Building {
		return Building
	}
	return s.Runtime
}

// Failing reports whether the service needs the user: crashed, unhealthy or
// its last build failed.
func (s *Service) Failing() bool {
	return s.Runtime == Crashed || s.Runtime == Unhealthy || (s.Build.Done && !s.Build.OK)
}

// Project is the whole dashboard state.
type Project struct {
	services []*Service
	index    map[string]*Service
	project  *Ring // project-wide messages
	capacity int
	seq      uint64
	filter   string // the filter whose results the lines' memos hold
	gen      uint32 // its generation, 1 and up
	// render turns a program's slog JSON lines into what msx logs
	// prints, into scratch.
	render  logs.Renderer
	scratch []byte
	// Notice is the last project-wide warning or message, for the header.
	Notice string
	// noticeBuild is set when Notice came while a build was failing (the
	// session's "the build failed" warning): the next good builds that
	// leave no build failing clear it.
	noticeBuild bool
}

// New returns a project listing names in order, keeping at most capacity
// log lines per service.
func New(names []string, capacity int) *Project {
	if capacity < 1 {
		capacity = 1
	}
	p := &Project{index: map[string]*Service{}, capacity: capacity, project: NewRing(capacity)}
	for _, n := range names {
		p.service(n)
	}
	return p
}

func (p *Project) service(name string) *Service {
	if s, ok := p.index[name]; ok {
		return s
	}
	s := &Service{Name: name, Logs: NewRing(p.capacity)}
	p.index[name] = s
	p.services = append(p.services, s)
	return s
}

// Services returns the services in the order they were first named.
func (p *Project) Services() []*Service { return p.services }

// Service returns the named service, or nil.
func (p *Project) Service(name string) *Service { return p.index[name] }

// LastSeq is the sequence number of the newest line, 0 if none.
func (p *Project) LastSeq() uint64 { return p.seq }

// Summary counts services that are ready, building and failing.
func (p *Project) Summary() (ready, building, failing int) {
	for _, s := range p.services {
		switch s.State() {
		case Ready:
			ready++
		case Building:
			building++
		}
		if s.Failing() {
			failing++
		}
	}
	return ready, building, failing
}

// Apply moves the state on by one event. Kinds it does not know are
// ignored, so the session can add kinds before the dashboard shows them.
func (p *Project) Apply(e activity.Event) {
	if e.Service == "" {
		p.applyProject(e)
		return
	}
	s := p.service(e.Service)
	switch e.Kind {
	case activity.Log:
		k := Stdout
		if e.Stream == activity.Stderr {
			k = Stderr
		}
		// Rendered as msx logs and the plain printer render it: time,
		// level, message, fields, trace=ID (the traces tab finds a
		// trace's lines by it).
		p.scratch = p.render.Append(p.scratch[:0], []byte(e.Line))
		p.add(s.Logs, e, k, string(p.scratch))
	case activity.Building:
		s.Building = true
		p.add(s.Logs, e, Note, say("building", 0, e))
	case activity.Built:
		s.Building = false
		s.Build = Build{Done: true, OK: true, Time: e.Time, Duration: e.Duration}
		p.add(s.Logs, e, Note, say("built", e.Duration, e))
		if p.noticeBuild && !p.buildFailing() {
			p.Notice, p.noticeBuild = "", false
		}
	case activity.BuildFailed:
		s.Building = false
		errs := lines(e.Output)
		s.Build = Build{Done: true, Time: e.Time, Duration: e.Duration, Errors: errs}
		p.add(s.Logs, e, Note, "build failed"+took(e.Duration)+detail(e.Detail)+"; the previous version keeps running")
		for _, l := range errs {
			p.add(s.Logs, e, BuildError, l)
		}
	case activity.Starting:
		s.Runtime = Starting
		p.port(s, e)
		p.add(s.Logs, e, Note, say("starting", 0, e))
	case activity.Ready:
		s.Runtime = Ready
		p.port(s, e)
		p.add(s.Logs, e, Note, say("ready", 0, e))
	case activity.Unhealthy:
		s.Runtime = Unhealthy
		p.add(s.Logs, e, Note, say("unhealthy", 0, e))
	case activity.Crashed:
		s.Runtime = Crashed
		s.ExitCode = e.ExitCode
		s.Output = lines(e.Output)
		p.add(s.Logs, e, Note, "exited with code "+itoa(e.ExitCode))
	case activity.Swapped:
		p.add(s.Logs, e, Note, say("swapped", e.Duration, e))
	case activity.Restarted:
		s.Restarts++
		p.add(s.Logs, e, Note, say("restarted", 0, e))
	case activity.Stopping:
		s.Runtime = Stopping
		p.add(s.Logs, e, Note, say("stopping", 0, e))
	case activity.Stopped:
		s.Runtime = Stopped
		p.add(s.Logs, e, Note, say("stopped", 0, e))
	case activity.Info:
		p.add(s.Logs, e, Note, e.Words())
	case activity.Warning:
		p.add(s.Logs, e, Note, "warning: "+e.Detail)
	case activity.Stats:
		s.HasStats, s.CPU, s.Memory = true, e.CPU, e.Memory
		p.port(s, e)
	case activity.BreakerChanged:
		// The upstream's name and the state are what the program's
		// admin listener said: shown (sanitized by add), not interpreted.
		p.add(s.Logs, e, Note, "breaker "+e.Upstream+": "+e.State)
	}
}

// applyProject records an event about the project as a whole (or about
// something that is not a service: a step about a network, a volume, an
// image): a line in the project's buffer, and the header's notice. Stats
// of no service mean nothing and are dropped; any other kind, including
// kinds added after this code, shows its words.
func (p *Project) applyProject(e activity.Event) {
	var text string
	switch e.Kind {
	case activity.Stats:
		return
	case activity.Log:
		text = e.Line
	case activity.Info:
		text = e.Words()
	case activity.Warning:
		text = "warning: " + e.Detail
	case activity.DeadLettered:
		n := " events"
		if e.Count == 1 {
			n = " event"
		}
		text = strconv.FormatUint(e.Count, 10) + n + " dead-lettered (" + strconv.FormatUint(e.Total, 10) + " in all): a handler kept failing"
	default:
		text = say(e.Kind.String(), 0, e)
	}
	if name := e.Subject(); name != "" {
		text = name + ": " + text
	}
	p.Notice = sanitize(text)
	p.noticeBuild = e.Kind == activity.Warning && p.buildFailing()
	p.add(p.project, e, Note, text)
}

// buildFailing reports whether some service's last build failed.
func (p *Project) buildFailing() bool {
	for _, s := range p.services {
		if s.Build.Done && !s.Build.OK {
			return true
		}
	}
	return false
}

// say words a note. A runner's or builder's step says itself, as the
// plain printer prints it ("compiling", "built in 1.2s", "created");
// otherwise the kind's word, how long it took, and the session's detail,
// without repeating the word when the session's detail is a whole phrase
// that starts with it ("restarted on request").
func say(word string, d time.Duration, e activity.Event) string {
	if e.Step.Kind != 0 {
		return e.Step.String()
	}
	detail := e.Detail
	switch {
	case detail == "":
		return word + took(d)
	case strings.HasPrefix(detail, word):
		return detail
	}
	return word + took(d) + ": " + detail
}

func (p *Project) port(s *Service, e activity.Event) {
	if e.Port != 0 {
		s.Port = e.Port
	}
}

func (p *Project) add(r *Ring, e activity.Event, k LineKind, text string) {
	p.seq++
	text = sanitize(text)
	r.Push(Line{Seq: p.seq, Time: e.Time, Service: e.Service, Kind: k, Text: text})
}

// Tail returns, oldest first, at most n lines of service (all services and
// project messages when service is empty) that contain filter, that are no
// newer than anchor (0: the newest), skipping the skip newest matches.
// Each buffer is read backwards from the anchor only until it has given
// skip+n matches, so an unfiltered redraw costs the visible window, not the
// buffer. A filter that matches little reads every line, but each line is
// searched once per filter: the result is kept in the line, so a redraw
// under a log flood searches only the lines that arrived since the last.
func (p *Project) Tail(service, filter string, anchor uint64, skip, n int) []Line {
	if n <= 0 {
		return nil
	}
	var rings []*Ring
	if service == "" {
		rings = append(rings, p.project)
		for _, s := range p.services {
			rings = append(rings, s.Logs)
		}
	} else if s := p.index[service]; s != nil {
		rings = []*Ring{s.Logs}
	}
	match := p.matcher(filter)
	want := skip + n
	// Each ring's newest matches, newest first.
	var lists [][]Line
	for _, r := range rings {
		var got []Line
		for i := r.Len() - 1; i >= 0 && len(got) < want; i-- {
			l := r.ref(i)
			if anchor != 0 && l.Seq > anchor {
				continue
			}
			if match(l) {
				got = append(got, *l)
			}
		}
		if len(got) > 0 {
			lists = append(lists, got)
		}
	}
	// Merge them, newest first, by sequence number.
	out := make([]Line, 0, n)
	pos := make([]int, len(lists))
	for len(out) < n {
		best := -1
		for i, l := range lists {
			if pos[i] < len(l) && (best < 0 || l[pos[i]].Seq > lists[best][pos[best]].Seq) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		l := lists[best][pos[best]]
		pos[best]++
		if skip > 0 {
			skip--
			continue
		}
		out = append(out, l)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// Matching returns the services a filter narrows the table to, in table
// order: those whose name contains it, and those holding a log line that
// does (the lines the log pane shows under that filter). All of them when
// filter is empty. Each redraw searches only the lines that arrived since
// the last, as Tail does.
func (p *Project) Matching(filter string) []*Service {
	if filter == "" {
		return p.services
	}
	match := p.matcher(filter)
	name := contains(filter)
	var out []*Service
	for _, s := range p.services {
		if name(s.Name) || p.holdsMatch(s, match) {
			out = append(out, s)
		}
	}
	return out
}

// holdsMatch reports whether s's buffer holds a line that match accepts.
func (p *Project) holdsMatch(s *Service, match func(*Line) bool) bool {
	f := &s.found
	r := s.Logs
	if f.gen != p.gen || (f.hit != 0 && (r.Len() == 0 || r.At(0).Seq > f.hit)) {
		// Another filter, or the match found was pushed out: search again.
		f.gen, f.upto, f.hit = p.gen, 0, 0
	}
	if r.Len() == 0 {
		return false
	}
	newest := r.At(r.Len() - 1).Seq
	if f.hit == 0 {
		for i := r.Len() - 1; i >= 0; i-- {
			l := r.ref(i)
			if l.Seq <= f.upto {
				break
			}
			if match(l) {
				f.hit = l.Seq
				break
			}
		}
	}
	f.upto = newest
	return f.hit != 0
}

// contains is the filter's substring test: ignoring case unless the filter
// has an upper-case letter.
func contains(filter string) func(string) bool {
	if strings.ToLower(filter) == filter {
		return func(s string) bool { return strings.Contains(strings.ToLower(s), filter) }
	}
	return func(s string) bool { return strings.Contains(s, filter) }
}

// matcher is a substring match, ignoring case unless the filter has an
// upper-case letter (as less and vim's smartcase do), remembered in each
// line for as long as the filter stays the same.
func (p *Project) matcher(filter string) func(*Line) bool {
	if filter == "" {
		return func(*Line) bool { return true }
	}
	if filter != p.filter || p.gen == 0 {
		p.filter = filter
		p.gen++
		if p.gen >= 1<<31 { // never in practice; memos of 0 mean unknown
			p.gen = 1
		}
	}
	gen := p.gen
	contains := contains(filter)
	return func(l *Line) bool {
		if l.memo>>1 == gen {
			return l.memo&1 == 1
		}
		// The filter narrows to the services it names as well as to
		// the lines that contain it (see Matching).
		hit := contains(l.Text) || (l.Service != "" && contains(l.Service))
		l.memo = gen << 1
		if hit {
			l.memo |= 1
		}
		return hit
	}
}

// sanitize keeps what programs print (log lines, the last lines of a
// crash, a health check's words) from moving the cursor or changing
// colours under the renderer: controls are shown escaped, as msx logs
// shows them, and tabs become spaces so that widths add up.
func sanitize(s string) string {
	s = termtext.Line(s)
	if strings.IndexByte(s, '\t') >= 0 {
		s = strings.ReplaceAll(s, "\t", "    ")
	}
	return s
}

// lines splits a program's or the compiler's output into lines, each
// sanitized.
func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	out := strings.Split(s, "\n")
	for i, l := range out {
		out[i] = sanitize(l)
	}
	return out
}

func took(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return " in " + Seconds(d)
}

func detail(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

// Seconds formats a duration as seconds with two decimals ("0.80s").
func Seconds(d time.Duration) string {
	cs := (d + 5*time.Millisecond) / (10 * time.Millisecond)
	return itoa(int(cs/100)) + "." + pad2(int(cs%100)) + "s"
}

func pad2(n int) string {
	if n < 10 {
		return "0" + itoa(n)
	}
	return itoa(n)
}

func itoa(n int) string { return strconv.Itoa(n) }
