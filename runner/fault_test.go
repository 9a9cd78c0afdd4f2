package runner

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
)

func TestParseFault(t *testing.T) {
	good := map[string]FaultAction{
		"kill":          {Kind: "kill"},
		"pause":         {Kind: "pause"},
		"resume":        {Kind: "resume"},
		"clear":         {Kind: "clear"},
		"latency 300ms": {Kind: "latency", Latency: 300 * time.Millisecond},
		"errors 30%":    {Kind: "errors", Errors: 0.3},
		"errors 50":     {Kind: "errors", Errors: 0.5},
	}
	for in, want := range good {
		got, err := ParseFault(splitWords(in))
		if err != nil || got != want {
			t.Errorf("%q: %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "explode", "kill now", "latency", "latency soon", "latency -1s", "latency 2h", "errors 0", "errors 150%", "errors x"} {
		if _, err := ParseFault(splitWords(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func splitWords(s string) []string {
	var out []string
	word := ""
	for _, c := range s + " " {
		if c == ' ' {
			if word != "" {
				out = append(out, word)
			}
			word = ""
			continue
		}
		word += string(c)
	}
	return out
}

func TestFaultsString(t *testing.T) {
	if s := (Faults{Latency: "300ms", Errors: 0.3}).String(); s != "latency 300ms, errors 30%" {
		t.Errorf("got %q", s)
	}
	if (Faults{}).Active() {
		t.Error("empty faults active")
	}
}

// TestFaultKillStartsItAgain: the engine never restarts a container it was
// told to kill, so msx fault kill starts it again, as a crash would be.
func TestFaultKillStartsItAgain(t *testing.T) {
	h := newHarness()
	m := manifest(t.TempDir())
	if _, err := h.up(t, m, UpOptions{Services: []string{"catalog"}}); err != nil {
		t.Fatal(err)
	}
	before := len(h.api.callsLike("start shop-catalog"))
	msg, err := h.r.Fault(context.Background(), h.api, m, "catalog", FaultAction{Kind: "kill"})
	if err != nil || !strings.Contains(msg, "started again") {
		t.Errorf("kill = %q, %v", msg, err)
	}
	if got := h.api.callsLike("kill shop-catalog"); len(got) != 1 {
		t.Errorf("kills = %v", got)
	}
	if n := len(h.api.callsLike("start shop-catalog")); n != before+1 {
		t.Errorf("starts after the kill = %d, want 1", n-before)
	}
	if s := h.api.state("shop-catalog"); s != container.StateRunning {
		t.Errorf("catalog is %s after msx fault kill, want running", s)
	}
}
