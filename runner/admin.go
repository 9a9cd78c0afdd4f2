package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxdir"
)

// AdminClient reads and sets what a program shows on its admin listener,
// published on 127.0.0.1 for msx.
type AdminClient interface {
	Breakers(ctx context.Context, adminURL string) (map[string]string, error)
	Faults(ctx context.Context, adminURL string) (Faults, error)
	SetFaults(ctx context.Context, adminURL string, f Faults) (Faults, error)
}

// Faults are the faults injected into a service by its fault middleware.
type Faults struct {
	Latency string  `json:"latency"` // "300ms", or "" for none
	Errors  float64 `json:"errors"`  // share of requests answered 500
}

// Active reports whether any fault is injected.
func (f Faults) Active() bool { return f.Latency != "" || f.Errors > 0 }

// String is how msx ps shows the faults: "latency 300ms, errors 30%".
func (f Faults) String() string {
	s := ""
	if f.Latency != "" {
		s = "latency " + f.Latency
	}
	if f.Errors > 0 {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("errors %g%%", f.Errors*100)
	}
	return s
}

// HTTPAdmin is the AdminClient over HTTP.
type HTTPAdmin struct {
	Client *http.Client
	// Token is the project's admin token, which the admin listeners ask
	// for on /debug/fault and the profiler; "" sends none.
	Token string
}

// admin returns the client of the admin listeners of m's programs, with
// the admin token msx up generated into .msx/secrets (none before the
// first up: the programs then have none either).
func (r *Runner) admin(m *devenv.Manifest) AdminClient {
	if r.Admin != nil {
		return r.Admin
	}
	token, _, _ := msxdir.New(m.Dir).Lookup(devenv.AdminTokenSecret)
	return HTTPAdmin{Token: token}
}

var _ AdminClient = HTTPAdmin{}

func (a HTTPAdmin) client() *http.Client {
	if a.Client != nil {
		return a.Client
	}
	return &http.Client{Timeout: 2 * time.Second}
}

// Breakers returns the states of the program's breakers by name.
func (a HTTPAdmin) Breakers(ctx context.Context, adminURL string) (map[string]string, error) {
	var out map[string]string
	err := a.call(ctx, http.MethodGet, adminURL+"/debug/breakers", nil, &out)
	return out, err
}

// Faults returns the faults injected now.
func (a HTTPAdmin) Faults(ctx context.Context, adminURL string) (Faults, error) {
	var out Faults
	err := a.call(ctx, http.MethodGet, adminURL+"/debug/fault", nil, &out)
	return out, err
}

// SetFaults replaces the injected faults and returns them as applied.
func (a HTTPAdmin) SetFaults(ctx context.Context, adminURL string, f Faults) (Faults, error) {
	body, _ := json.Marshal(f)
	var out Faults
	err := a.call(ctx, http.MethodPut, adminURL+"/debug/fault", body, &out)
	return out, err
}

func (a HTTPAdmin) call(ctx context.Context, method, url string, body []byte, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.Token != "" {
		req.Header.Set("Authorization", "Bearer "+a.Token)
	}
	resp, err := a.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s %s: %s", method, url, e.Error)
		}
		return fmt.Errorf("%s %s: %s", method, url, resp.Status)
	}
	return json.Unmarshal(data, v)
}
