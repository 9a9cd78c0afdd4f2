package dashboard

import (
	"context"
	"errors"
	"time"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/runner"
)

// StatusFunc reads the status of the project's containers, as msx ps does:
// the session's Status, whose reads the breakers and events tabs share
// with the session's own watch of breakers and dead letters.
type StatusFunc func(ctx context.Context) ([]runner.ServiceStatus, error)

// Tabs are the dashboard's pages after the services: traces, breakers, and
// the event consumers when the project runs a broker, the last two read
// from status every interval.
func Tabs(m *devenv.Manifest, status StatusFunc, traces TraceSource, every time.Duration) []Tab {
	tabs := []Tab{
		NewTracesTab(traces),
		NewBreakersTab(func(ctx context.Context) ([]ProgramBreakers, error) {
			list, err := status(ctx)
			if err != nil {
				return nil, err
			}
			return BreakersOf(list), nil
		}, every),
	}
	if len(subscribers(m)) > 0 {
		tabs = append(tabs, NewEventsTab(func(ctx context.Context) ([]EventConsumer, error) {
			list, err := status(ctx)
			if err != nil {
				return nil, err
			}
			return EventConsumersOf(m, list)
		}, every))
	}
	return tabs
}

// subscribers are the services that subscribe to events, in the
// manifest's order; a project without any runs no broker.
func subscribers(m *devenv.Manifest) []string {
	var out []string
	for _, name := range m.ServiceNames() {
		if len(m.Services[name].Subscribes) > 0 {
			out = append(out, name)
		}
	}
	return out
}

// BreakersOf is what the breakers tab shows of a status: the breakers of
// each program (services and the gateway), or why they could not be read.
func BreakersOf(list []runner.ServiceStatus) []ProgramBreakers {
	var out []ProgramBreakers
	for _, st := range list {
		if st.Role != devenv.RoleService && st.Role != devenv.RoleGateway {
			continue
		}
		p := ProgramBreakers{Program: st.Service, Breakers: st.Breakers}
		switch {
		case st.State != "running":
			p.Problem = "not running"
		case st.Breakers == nil:
			p.Problem = "admin listener not answering"
		}
		out = append(out, p)
	}
	return out
}

// EventConsumersOf is what the events tab shows of a status: an error when
// the broker is not there to ask, else a line per subscribing service.
func EventConsumersOf(m *devenv.Manifest, list []runner.ServiceStatus) ([]EventConsumer, error) {
	byName := map[string]runner.ServiceStatus{}
	var broker *runner.ServiceStatus
	for i, st := range list {
		switch {
		case st.Role == devenv.RoleService:
			byName[st.Service] = st
		case st.Role == devenv.RoleInfra && st.Service == devenv.KindNATS:
			broker = &list[i]
		}
	}
	switch {
	case broker == nil || broker.State != "running":
		return nil, errors.New("the broker is not running (msx up starts it)")
	case !broker.Ready:
		return nil, errors.New("the broker is not answering on its monitoring port")
	}
	var out []EventConsumer
	for _, name := range subscribers(m) {
		c := EventConsumer{Service: name, Subscribes: m.Services[name].Subscribes}
		st, ok := byName[name]
		switch {
		case st.Consumer != nil:
			c.Pending, c.Unacked, c.Redelivered = st.Consumer.Pending, st.Consumer.AckPending, st.Consumer.Redelivered
		case !ok || st.State != "running":
			c.Problem = "not running"
		default:
			c.Problem = "no consumer read from the broker"
		}
		out = append(out, c)
	}
	return out, nil
}
