package devenv

import (
	"slices"

	"github.com/msx-dev/msx/msxerr"
)

// DatabaseName is the service name of a service's database, "orders-db":
// its network alias, the name msx logs and msx ps show, and the last part
// of its container's name. The Postgres kind's instance names it; the name
// is reserved (names.Validate) for a service's SQLite file too.
func DatabaseName(service string) string {
	return instance(&Postgres, service).Service
}

// ContainerServices are the service names of every container the
// workspace may run, in the order log prefixes take their colours:
// services, the gateway, the collector, then the Postgres databases.
func (m *Manifest) ContainerServices() []string {
	out := append(m.ServiceNames(), GatewayName, CollectorName)
	for _, n := range m.ServiceNames() {
		if m.Services[n].DB == DBPostgres {
			out = append(out, DatabaseName(n))
		}
	}
	return out
}

// CheckContainerServices refuses names that are neither a service of
// msx.yaml, its database (NAME-db), the gateway nor the trace collector:
// what msx logs and msx trace --service take.
func (m *Manifest) CheckContainerServices(names []string) error {
	known := append(m.ServiceNames(), GatewayName, CollectorName)
	for _, n := range m.ServiceNames() {
		known = append(known, DatabaseName(n))
	}
	for _, n := range names {
		if !slices.Contains(known, n) {
			return msxerr.New("run msx ps to see the services", "there is no service %s in %s", n, FileName)
		}
	}
	return nil
}
