package main

import (
	"os"
	"syscall"
	"time"
)

// sampleHost reads this process' CPU time (getrusage) and the machine's
// (/proc/stat).
func sampleHost() hostSample {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return hostSample{}
	}
	s := hostSample{ok: true, self: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
	f, err := os.Open("/proc/stat")
	if err != nil {
		return s
	}
	defer f.Close()
	s.haveCPU = parseProcStat(f, &s) == nil
	return s
}
