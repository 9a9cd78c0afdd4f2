package export

import (
	"strings"
	"testing"

	"github.com/msx-dev/msx/devenv"
)

func TestKeylessWarning(t *testing.T) {
	m := &devenv.Manifest{Services: map[string]devenv.Service{
		"orders":   {Protected: true},
		"payments": {},
		"admin":    {Protected: true},
	}}
	w := KeylessWarning(m, nil)
	if !strings.Contains(w, "the protected routes of admin, orders will refuse every request") || !strings.Contains(w, ".msx/secrets/") {
		t.Errorf("no keys: %q", w)
	}
	if w := KeylessWarning(m, []string{"gateway-api-keys"}); w != "" {
		t.Errorf("with a key: %q, want nothing", w)
	}
	if w := KeylessWarning(&devenv.Manifest{Services: map[string]devenv.Service{"orders": {}}}, nil); w != "" {
		t.Errorf("nothing protected: %q, want nothing", w)
	}
}
