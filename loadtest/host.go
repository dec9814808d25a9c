package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// The load generator shares its machine with the target in every run this
// project documents, so a report says what the generator itself cost and
// how busy the machine was: a run on a saturated machine measures queueing
// for a CPU as much as the service.

// hostSample is this process' CPU time and the machine's CPU time by state
// at one moment (ok false where the platform does not tell).
type hostSample struct {
	ok      bool
	self    time.Duration // this process, user + system
	cpus    int           // CPUs in the machine's totals
	total   uint64        // every state, in clock ticks
	idle    uint64        // idle + iowait
	steal   uint64        // taken by the hypervisor
	haveCPU bool          // the machine's totals were read
}

// hostCounters sums the growth of the samples over the slices a target
// was attacked.
type hostCounters struct {
	sliceTally
	self               time.Duration
	cpus               int
	total, idle, steal uint64
	machineMissing     bool
}

// add adds the growth between two samples taken around one slice.
func (c *hostCounters) add(before, after hostSample) {
	if !c.count(before.ok && after.ok) {
		return
	}
	c.self += after.self - before.self
	if !before.haveCPU || !after.haveCPU || after.total < before.total {
		c.machineMissing = true
		return
	}
	c.cpus = after.cpus
	c.total += after.total - before.total
	c.idle += after.idle - before.idle
	c.steal += after.steal - before.steal
}

// busyShare is the share of the machine's CPU time spent working (not
// idle, not stolen), and stealShare the share the hypervisor took.
func (c *hostCounters) busyShare() float64 {
	if c.total == 0 {
		return 0
	}
	return float64(c.total-c.idle-c.steal) / float64(c.total)
}

func (c *hostCounters) stealShare() float64 {
	if c.total == 0 {
		return 0
	}
	return float64(c.steal) / float64(c.total)
}

// saturatedShare is the busy share from which a report warns that the
// machine, not only the target, set the latencies.
const saturatedShare = 0.90

// fmtHost shows the generator's CPU per request and the machine's load
// ("" when not measured).
func fmtHost(c hostCounters, requests uint64) string {
	if !c.ok() || requests == 0 {
		return ""
	}
	s := fmt.Sprintf("%.0fµs CPU/req", float64(c.self.Microseconds())/float64(requests))
	if c.machineMissing || c.total == 0 {
		return s
	}
	s += fmt.Sprintf("; machine (%d CPUs) %.0f%% busy, %.1f%% stolen", c.cpus, 100*c.busyShare(), 100*c.stealShare())
	if c.busyShare() >= saturatedShare {
		s += " (saturated: latencies include waiting for a CPU)"
	}
	return s
}

// parseProcStat reads the machine's aggregate "cpu" line and counts the
// per-CPU lines of /proc/stat (Linux, proc(5)): user nice system idle
// iowait irq softirq steal [guest guest_nice], in clock ticks. guest time
// is already counted in user, so it is not added again.
func parseProcStat(r io.Reader, s *hostSample) error {
	sc := bufio.NewScanner(r)
	found := false
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "cpu") {
			continue
		}
		fields := strings.Fields(line)
		if fields[0] != "cpu" {
			s.cpus++
			continue
		}
		if len(fields) < 9 {
			return fmt.Errorf("/proc/stat: short cpu line %q", line)
		}
		var v [8]uint64
		for i := range v {
			n, err := strconv.ParseUint(fields[i+1], 10, 64)
			if err != nil {
				return fmt.Errorf("/proc/stat: %w", err)
			}
			v[i] = n
		}
		for _, n := range v {
			s.total += n
		}
		s.idle, s.steal = v[3]+v[4], v[7]
		found = true
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("/proc/stat: no cpu line")
	}
	return nil
}
