package runner

import (
	"testing"
	"time"
)

func TestPollDelayStartsFastAndBacksOff(t *testing.T) {
	r := &Runner{}
	var got []time.Duration
	for i := 0; i < 7; i++ {
		got = append(got, r.pollDelay(i))
	}
	want := []time.Duration{10, 20, 40, 80, 100, 100, 100}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("delays = %v, want %v ms", got, want)
		}
	}
	r.PollInterval = time.Second
	if r.pollDelay(0) != time.Second || r.pollDelay(9) != time.Second {
		t.Error("a PollInterval set on the runner is not used as it is")
	}
}
