package devenv

import (
	"fmt"
	"slices"
	"strings"
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
