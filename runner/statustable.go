package runner

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/msx-dev/msx/termtext"
)

// WriteStatusTable writes the status as msx ps shows it, a row per
// container: aligned on a terminal, tab-separated otherwise, the header
// line in both unless header is false, so that a piped msx ps still says
// what each column is.
func WriteStatusTable(out io.Writer, list []ServiceStatus, tty, header bool) error {
	var w io.Writer = out
	var tw *tabwriter.Writer
	if tty {
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		w = tw
	}
	if header {
		fmt.Fprintln(w, "SERVICE\tSTATE\tREADY\tPORTS\tRESTARTS\tUPTIME\tBREAKERS\tFAULTS\tEVENTS")
	}
	for _, s := range list {
		state := s.State
		if s.State == "exited" {
			state = "exited (" + strconv.Itoa(s.ExitCode) + ")"
		}
		ready := "no"
		if s.Ready {
			ready = "yes"
		}
		ports := make([]string, 0, len(s.Ports))
		for _, p := range s.Ports {
			ports = append(ports, fmt.Sprintf("%s:%d->%d", p.HostIP, p.HostPort, p.ContainerPort))
		}
		portStr := strings.Join(ports, ",")
		uptime := ""
		if s.State == "running" {
			uptime = (time.Duration(s.UptimeSeconds) * time.Second).String()
		}
		if tty {
			portStr = orDash(portStr)
			uptime = orDash(uptime)
		}
		// Breaker names and faults are what the programs' admin
		// listeners said: shown, not interpreted.
		breakers, faults := termtext.Line(breakerSummary(s.Breakers)), ""
		if s.Faults != nil {
			faults = termtext.Line(s.Faults.String())
		}
		events := ""
		if c := s.Consumer; c != nil {
			events = fmt.Sprintf("pending %d, redelivered %d", c.Pending, c.Redelivered)
		}
		if tty {
			breakers, faults, events = orDash(breakers), orDash(faults), orDash(events)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", s.Service, state, ready, portStr, s.Restarts, uptime, breakers, faults, events)
	}
	if tw != nil {
		if err := tw.Flush(); err != nil {
			return err
		}
		// On a terminal only: piped, the rows stay rows (--json has it).
		for _, s := range list {
			if s.GraphQL != "" {
				fmt.Fprintf(out, "\n%s serves GraphQL at %s", s.Service, s.GraphQL)
			}
		}
		if slices.ContainsFunc(list, func(s ServiceStatus) bool { return s.GraphQL != "" }) {
			fmt.Fprintln(out)
		}
	}
	return nil
}

// breakerSummary names the breakers that are not closed, "orders:open",
// sorted; "" when all are closed.
func breakerSummary(states map[string]string) string {
	var out []string
	for name, st := range states {
		if st != "closed" {
			out = append(out, name+":"+st)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
