package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/msx-dev/msx/devenv"
)

// Sample is one look at a running container: whether it answers its
// readiness check, and its resource counters as the engine's stats read
// them.
type Sample struct {
	// Running is false when the container is stopped or restarting; the
	// other fields are then unset.
	Running bool
	// Ready says it answers its readiness check; Reason says why not.
	Ready  bool
	Reason string
	// Port is the host port the program's port is published on, 0 when
	// it is not published.
	Port int
	// HasStats is false when the engine gave no stats (they are a best
	// effort: a sample without them still tells health).
	HasStats bool
	Read     time.Time // when the engine read the counters, by its clock
	CPU      uint64    // CPU time used since the container started, in ns
	Memory   uint64    // memory in use, the page cache left out, in bytes
}

// Sample inspects the container of c, asks its readiness check once, and,
// with stats, reads its counters from the stats endpoint once (one-shot: the engine
// answers at its next reading, within a second, without the second
// reading a plain stream=false waits for; CPUPercent compares two samples
// instead). Sample containers concurrently, not one after the other.
func (r *Runner) Sample(ctx context.Context, c *devenv.Container, stats bool) (Sample, error) {
	cctx, cancel := context.WithTimeout(ctx, CreateTimeout)
	defer cancel()
	insp, err := r.API.ContainerInspect(cctx, c.Name)
	if err != nil {
		return Sample{}, engineErr(ctx, err, "inspecting "+c.Name)
	}
	if insp.State == nil || !insp.State.Running || insp.State.Restarting {
		return Sample{}, nil
	}
	s := Sample{Running: true}
	if c.Publish {
		s.Port, _ = strconv.Atoi(hostPort(insp, c.Port))
	}
	s.Ready, s.Reason = readiness(cctx, r, c, insp)
	if !stats {
		return s, nil
	}
	st, err := r.API.ContainerStatsOneShot(cctx, c.Name)
	if err != nil {
		return s, nil
	}
	defer st.Body.Close()
	var v container.StatsResponse
	if err := json.NewDecoder(st.Body).Decode(&v); err != nil || v.Read.IsZero() {
		return s, nil
	}
	s.HasStats, s.Read, s.CPU, s.Memory = true, v.Read, v.CPUStats.CPUUsage.TotalUsage, memoryInUse(v.MemoryStats)
	return s, nil
}

// readiness is ready with the reason when it is not.
func readiness(ctx context.Context, r *Runner, c *devenv.Container, insp container.InspectResponse) (bool, string) {
	if len(c.Ready.Healthcheck) > 0 {
		h := insp.State.Health
		if h == nil {
			return false, "it has no health status"
		}
		if h.Status == container.Healthy {
			return true, ""
		}
		why := "its health check says " + h.Status
		if n := len(h.Log); n > 0 && strings.TrimSpace(h.Log[n-1].Output) != "" {
			why += ": " + firstLine(h.Log[n-1].Output)
		}
		return false, why
	}
	if c.Ready.HTTPPath == "" {
		return true, ""
	}
	port := c.Port
	if c.Ready.Port != 0 {
		port = c.Ready.Port
	}
	hp := hostPort(insp, port)
	if hp == "" {
		return false, fmt.Sprintf("its port %d is not published", port)
	}
	path, err := r.probePath("", c.Ready)
	if err != nil {
		return false, "its readiness path is unknown: " + err.Error()
	}
	if err := r.probe(ctx, "http://"+net.JoinHostPort(devenv.LoopbackIP, hp)+path); err != nil {
		// The reason is printed: never with the secret part of the path.
		return false, c.Ready.HTTPPath + " does not answer ready (" + firstLine(hidePath(err, strings.TrimSuffix(path, c.Ready.HTTPPath))) + ")"
	}
	return true, ""
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// memoryInUse is the memory a container uses as docker stats shows it:
// the usage without the inactive page cache (cgroup v2's inactive_file,
// v1's total_inactive_file), which the kernel reclaims at will.
func memoryInUse(m container.MemoryStats) uint64 {
	for _, k := range []string{"inactive_file", "total_inactive_file"} {
		if v, ok := m.Stats[k]; ok && v < m.Usage {
			return m.Usage - v
		}
	}
	return m.Usage
}

// CPUPercent is the CPU a container used between two samples, in percent
// of one core (200 is two cores busy), by the engine's clock; false when
// the samples cannot be compared (no stats, or the counter went back: a
// container started again).
func CPUPercent(prev, cur Sample) (float64, bool) {
	if !prev.HasStats || !cur.HasStats || !cur.Read.After(prev.Read) || cur.CPU < prev.CPU {
		return 0, false
	}
	return float64(cur.CPU-prev.CPU) / float64(cur.Read.Sub(prev.Read).Nanoseconds()) * 100, true
}
