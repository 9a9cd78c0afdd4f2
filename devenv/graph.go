package devenv

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/msx-dev/msx/msxerr"
)

// CycleError is a dependency cycle; Path starts and ends at the same service.
type CycleError struct{ Path []string }

func (e *CycleError) Error() string {
	return "dependency cycle: " + strings.Join(e.Path, " -> ")
}

// StartOrder returns the services in an order where each comes after all it
// depends on; ties are broken by name, so the order is stable.
func (m *Manifest) StartOrder() ([]string, error) {
	const (
		unseen = iota
		visiting
		done
	)
	state := map[string]int{}
	var order, stack []string
	var visit func(string) error
	visit = func(n string) error {
		switch state[n] {
		case done:
			return nil
		case visiting:
			i := slices.Index(stack, n)
			path := append(slices.Clone(stack[i:]), n)
			return &CycleError{Path: path}
		}
		state[n] = visiting
		stack = append(stack, n)
		deps := slices.Clone(m.Services[n].DependsOn)
		slices.Sort(deps)
		for _, d := range deps {
			if _, ok := m.Services[d]; !ok {
				return fmt.Errorf("service %s depends on %s, which is not a service of this workspace", n, d)
			}
			if err := visit(d); err != nil {
				return err
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
		order = append(order, n)
		return nil
	}
	for _, n := range m.ServiceNames() {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// Closure returns the services to start for want: those named and all they
// depend on, or every service when want is empty. An unknown name is a
// usage error that lists the services there are.
func (m *Manifest) Closure(want []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(want) == 0 {
		for n := range m.Services {
			out[n] = true
		}
		return out, nil
	}
	var add func(string)
	add = func(n string) {
		if out[n] {
			return
		}
		out[n] = true
		for _, d := range m.Services[n].DependsOn {
			add(d)
		}
	}
	for _, n := range want {
		if _, ok := m.Services[n]; !ok {
			return nil, msxerr.Usage("%s is not a service of this workspace (services: %s)", n, listOr(m.ServiceNames()))
		}
		add(n)
	}
	return out, nil
}

// listOr lists names for a message, or says there are none yet.
func listOr(names []string) string {
	if len(names) == 0 {
		return "none yet"
	}
	return strings.Join(names, ", ")
}

// CheckServiceFolders reports the first service of msx.yaml whose folder
// services/NAME is missing, before anything tries to compile it.
func (m *Manifest) CheckServiceFolders() error {
	for _, n := range m.ServiceNames() {
		if st, err := os.Stat(filepath.Join(m.Dir, "services", n)); err != nil || !st.IsDir() {
			return msxerr.New("restore the folder, or take the service out with msx remove service "+n,
				"service %s is in %s but its folder services/%s is missing", n, FileName, n)
		}
	}
	return nil
}
