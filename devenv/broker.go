package devenv

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The broker's credentials. Every program that talks to the broker has a
// NATS user of its own, an nkey: msx generates its seed (the private key)
// into .msx/secrets and gives it to that program alone as a file, and the
// broker's configuration holds only the public keys, with each user's
// permissions. A container without a seed cannot connect; a seed lets its
// program publish only its own subjects and consume only what msx.yaml
// says it subscribes to.
const (
	// BrokerConfigSecret is the broker's configuration file: listeners,
	// JetStream, and the users (public keys and permissions). It holds
	// no secret, but it is made with the seeds, so it travels as one.
	BrokerConfigSecret = "nats-server.conf"
	// BrokerMonitorSecret is the broker's monitoring base path, without
	// its slash: a random name msx generates into .msx/secrets, under
	// which alone the monitoring port answers (http_base_path). nats-server
	// cannot check the Host header, so a port published on 127.0.0.1 would
	// serve /varz, /connz and /jsz to any web page that rebinds a name of
	// its own to 127.0.0.1; such a page cannot guess the path.
	BrokerMonitorSecret = "nats-monitor-path"
	// BrokerSeedFile is where a program finds its seed under SecretsDir.
	BrokerSeedFile = "nats.nk"
	// BrokerStoreDir is JetStream's store: a folder of the broker's
	// volume that the runner makes, owned by the broker's user, since the
	// volume's root belongs to root (the official image makes no /data).
	BrokerStoreDir = "store"
	// EventStream and DeadLetterStream are the streams of the generated
	// platform/messaging; events are published under EventPrefix, dead
	// letters under DeadLetterPrefix.
	EventStream      = "EVENTS"
	DeadLetterStream = "DEADLETTER"
	EventPrefix      = "events."
	DeadLetterPrefix = "deadletter."
)

// Ways msx makes a secret that .msx/secrets does not hold yet (SecretRef.Gen).
const (
	// GenPassword is a random password, the default.
	GenPassword = ""
	// GenNKey is a NATS user nkey's seed.
	GenNKey = "nkey"
	// GenBrokerConfig is the broker's configuration, made from the plan's
	// BrokerUsers and the public keys of their seeds each time.
	GenBrokerConfig = "broker-config"
)

// BrokerSeedSecret is the name under .msx/secrets of a program's seed:
// nats-orders.nk.
func BrokerSeedSecret(user string) string { return "nats-" + user + ".nk" }

// BrokerSeed is the seed a program gets as BrokerSeedFile under SecretsDir.
func BrokerSeed(user string) SecretRef {
	return SecretRef{Name: BrokerSeedSecret(user), File: BrokerSeedFile, Gen: GenNKey}
}

// InboxPrefix is a program's own prefix for the replies it gets (the
// broker's answers, the events it pulls): its connection uses it, and it
// may subscribe under it alone, so that no program reads another's
// replies. _INBOX_orders.
func InboxPrefix(user string) string { return "_INBOX_" + user }

// ConsumerName is the durable consumer of one topic of a subscribing
// service: one per topic, so that the broker can check the filter subject
// a service asks for (it is part of the API subject it publishes to,
// $JS.API.CONSUMER.CREATE.EVENTS.NAME.FILTER) against its permissions.
// ledger's consumer of orders.item.created is ledger_orders_item_created;
// a service name has no underscore, so the first one ends it.
func ConsumerName(service, topic string) string {
	return service + "_" + strings.ReplaceAll(topic, ".", "_")
}

// ConsumerService is the service a consumer name belongs to, as
// ConsumerName made it; "" for another name.
func ConsumerService(consumer string) string {
	s, _, ok := strings.Cut(consumer, "_")
	if !ok {
		return ""
	}
	return s
}

// BrokerUser is one program's NATS user: its permissions, by subject.
type BrokerUser struct {
	Name      string
	Publish   []string
	Subscribe []string
}

// BrokerUsers are the users of the project's broker: every service that
// publishes or subscribes, and msx events' reader (EventTapName), sorted
// by name. They depend on msx.yaml alone, not on the services an up
// selects, so that starting a subset does not change the broker.
func (m *Manifest) BrokerUsers() []BrokerUser {
	var out []BrokerUser
	for _, name := range m.ServiceNames() {
		if m.UsesEvents(name) {
			out = append(out, m.brokerUser(name))
		}
	}
	out = append(out, eventTapUser())
	slices.SortFunc(out, func(a, b BrokerUser) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// brokerUser is a service's permissions: what the generated
// platform/messaging calls, and nothing more.
func (m *Manifest) brokerUser(name string) BrokerUser {
	api := "$JS.API."
	u := BrokerUser{Name: name}
	// Connect makes sure the two streams exist (create, or update to the
	// current settings).
	for _, s := range []string{EventStream, DeadLetterStream} {
		u.Publish = append(u.Publish, api+"STREAM.CREATE."+s, api+"STREAM.UPDATE."+s)
	}
	// Its outbox publishes its own events, and only them: the subject is
	// the source a subscriber believes.
	u.Publish = append(u.Publish, EventPrefix+name+".>")
	subs := slices.Clone(m.Services[name].Subscribes)
	slices.Sort(subs)
	if len(subs) > 0 {
		// Dead letters of its own consumers.
		u.Publish = append(u.Publish, DeadLetterPrefix+name+".>")
	}
	for _, t := range subs {
		c := ConsumerName(name, t)
		u.Publish = append(u.Publish,
			// The filter subject is part of the API subject: a consumer of
			// another topic is refused.
			api+"CONSUMER.CREATE."+EventStream+"."+c+"."+EventPrefix+t,
			api+"CONSUMER.MSG.NEXT."+EventStream+"."+c,
			// A pull consumer checks that its consumer still exists.
			api+"CONSUMER.INFO."+EventStream+"."+c,
			// Ack, nak and term go to the reply subject of each message.
			"$JS.ACK."+EventStream+"."+c+".>",
		)
	}
	// Answers of the broker and pulled events, under its own prefix.
	u.Subscribe = []string{InboxPrefix(name) + ".>"}
	return u
}

// eventTapUser is msx events' reader: it reads the event stream message by
// message, which creates nothing and acknowledges nothing, and publishes
// no event.
func eventTapUser() BrokerUser {
	return BrokerUser{
		Name: EventTapName,
		Publish: []string{
			"$JS.API.STREAM.INFO." + EventStream,
			"$JS.API.STREAM.MSG.GET." + EventStream,
		},
		Subscribe: []string{InboxPrefix(EventTapName) + ".>"},
	}
}

// BrokerConfig is the broker's configuration file for users, each with
// the public key of its seed (publicKey(user)): JetStream on the store of
// the broker's volume, the monitoring port answering under monitorPath
// alone (the value of BrokerMonitorSecret), and no connection without a
// user's key. Same users, keys and path, same bytes.
func BrokerConfig(users []BrokerUser, monitorPath string, publicKey func(user string) (string, error)) (string, error) {
	if !ValidMonitorPath(monitorPath) {
		return "", fmt.Errorf("the broker's monitoring path %q is not a plain path segment", monitorPath)
	}
	var b strings.Builder
	b.WriteString("# Written by msx from msx.yaml and the secrets under .msx/secrets; msx writes it again.\n")
	fmt.Fprintf(&b, "server_name: %q\n", "msx")
	fmt.Fprintf(&b, "listen: %q\n", "0.0.0.0:"+strconv.Itoa(NATS.Port))
	fmt.Fprintf(&b, "http_port: %d\n", NATS.MonitorPort)
	fmt.Fprintf(&b, "http_base_path: %q\n", "/"+monitorPath)
	fmt.Fprintf(&b, "jetstream {\n  store_dir: %q\n}\n", NATS.DataDir+"/"+BrokerStoreDir)
	b.WriteString("authorization {\n  users = [\n")
	for _, u := range users {
		key, err := publicKey(u.Name)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "    # %s\n    {\n      nkey: %q\n      permissions: {\n", u.Name, key)
		fmt.Fprintf(&b, "        publish: { allow: %s }\n", quoteList(u.Publish))
		fmt.Fprintf(&b, "        subscribe: { allow: %s }\n", quoteList(u.Subscribe))
		b.WriteString("      }\n    }\n")
	}
	b.WriteString("  ]\n}\n")
	return b.String(), nil
}

// ValidMonitorPath reports whether p can be the broker's monitoring path:
// one path segment of letters, digits, '-' and '_', which needs no escaping
// in a URL or the configuration, and at least 16 of them, too many to guess.
func ValidMonitorPath(p string) bool {
	if len(p) < 16 || len(p) > 128 {
		return false
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
