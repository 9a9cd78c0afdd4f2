package session

import (
	"testing"
	"time"
)

// Up to sixteen containers are sampled every DefaultSampleEvery; more
// stretch the period, at most samplesPerSecond a second; a period set
// longer stays.
func TestSampleEveryGrowsWithContainers(t *testing.T) {
	for _, c := range []struct {
		every time.Duration
		n     int
		want  time.Duration
	}{
		{0, 5, DefaultSampleEvery},
		{0, 16, DefaultSampleEvery},
		{0, 53, 53 * time.Second / samplesPerSecond},
		{time.Second, 6, time.Second},
		{10 * time.Second, 53, 10 * time.Second},
	} {
		if got := sampleEvery(c.every, c.n); got != c.want {
			t.Errorf("sampleEvery(%v, %d) = %v, want %v", c.every, c.n, got, c.want)
		}
	}
}
