package devenv

import (
	"fmt"
	"slices"
	"strings"
)

// Events every service with a database publishes for its sample resource.
// A subject is SOURCE.EVENT: orders.item.created.
var Events = []string{"item.created", "item.deleted"}

// Publishes reports whether a service publishes events: it has a database
// (its outbox lives there) and some service subscribes to one of its
// subjects. A project where nothing subscribes runs no broker.
func (m *Manifest) Publishes(name string) bool {
	s, ok := m.Services[name]
	if !ok || s.DB == DBNone {
		return false
	}
	for _, other := range m.Services {
		for _, sub := range other.Subscribes {
			if src, _, _ := strings.Cut(sub, "."); src == name {
				return true
			}
		}
	}
	return false
}

// UsesEvents reports whether a service publishes or subscribes: whether it
// needs the broker.
func (m *Manifest) UsesEvents(name string) bool {
	return len(m.Services[name].Subscribes) > 0 || m.Publishes(name)
}

// CheckSubject checks one subject a service subscribes to against the
// manifest: SOURCE.EVENT, SOURCE another service with a database, EVENT
// one it publishes.
func (m *Manifest) CheckSubject(subscriber, subject string) error {
	src, ev, ok := strings.Cut(subject, ".")
	if !ok || !slices.Contains(Events, ev) {
		return fmt.Errorf("service %s subscribes to %q; use SERVICE.EVENT with EVENT one of %s, such as orders.item.created",
			subscriber, subject, strings.Join(Events, ", "))
	}
	s, found := m.Services[src]
	switch {
	case src == subscriber:
		return fmt.Errorf("service %s subscribes to its own events (%s); subscribe to another service's", subscriber, subject)
	case !found:
		return fmt.Errorf("service %s subscribes to %s, but %s is not a service of this workspace", subscriber, subject, src)
	case s.DB == DBNone:
		return fmt.Errorf("service %s subscribes to %s, but %s has no database and publishes no events; give it --db sqlite or postgres", subscriber, subject, src)
	}
	return nil
}

func (m *Manifest) checkSubscribes(name string, s Service) error {
	if len(s.Subscribes) > 0 && s.DB == DBNone {
		return fmt.Errorf("service %s subscribes to events but has no database to record them in; give it --db sqlite or postgres", name)
	}
	seen := map[string]bool{}
	for _, sub := range s.Subscribes {
		if err := m.CheckSubject(name, sub); err != nil {
			return err
		}
		if seen[sub] {
			return fmt.Errorf("service %s subscribes to %s twice", name, sub)
		}
		seen[sub] = true
	}
	return nil
}

// EventTapName is the build target and image name of the program msx
// events runs on the project network to read the event stream: the
// broker's client port is never published to the host.
const EventTapName = "msx-events"

// RoleTool is the role of a short-lived container msx runs for one
// command (msx events' reader): no service, removed when the command ends,
// or by down.
const RoleTool = "tool"

// EventTap is the container that reads the project's events for msx
// events, named name: on the project network, beside the broker, with
// what it reads in its environment (SUBJECT as msx events takes it, empty
// for all) and confined like every program msx compiles. Its image is
// built from source msx embeds.
func (m *Manifest) EventTap(name, subject string, follow bool, msxVersion string) *Container {
	broker := Instance{Kind: &NATS, Service: NATS.Name}
	env := map[string]string{
		"MSX_EVENTS_URL":     NATS.Client(broker)["NATS_URL"],
		"NATS_NKEY_FILE":     NATS.Client(broker)["NATS_NKEY_FILE"],
		"MSX_EVENTS_SUBJECT": subject,
		"MSX_EVENTS_FOLLOW":  "0",
	}
	if follow {
		env["MSX_EVENTS_FOLLOW"] = "1"
	}
	hd := hardening(Limits{})
	hd.RestartOnFailure = 0 // it ends, and msx reads how
	hd.Healthcheck = nil
	return &Container{
		Name:      name,
		Service:   EventTapName,
		Role:      RoleTool,
		Image:     ImageRef{Build: EventTapName, Pkg: "."},
		Env:       envList(env),
		User:      ContainerUser,
		Networks:  []Attachment{{Network: NetworkName(m.Project)}},
		Hardening: hd,
		// Its own broker user, which may read the stream and nothing else.
		Secrets: []SecretRef{NATS.Credential(EventTapName)},
		SwapDir: SwapDir, // the image runs SwapDir/app
		Labels: map[string]string{
			LabelProject:   m.Project,
			LabelWorkspace: m.Dir,
			LabelVersion:   msxVersion,
			LabelRole:      RoleTool,
		},
	}
}
