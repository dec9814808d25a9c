package decisionlog

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ageassure/ageassure/service/logentry"
)

// benchAppend appends b.N entries with the given settings and parallelism
// (goroutines per GOMAXPROCS; 0 = one goroutine, serial) and reports
// appends/s. Serial durable ns/op is the latency one decision sees.
func benchAppend(b *testing.B, async bool, age time.Duration, parallelism int) {
	opts := testOptions(b.TempDir())
	opts.Async, opts.BatchMaxAge = async, age
	opts.CheckpointInterval = time.Second
	l := openLog(b, opts)
	ctx := context.Background()
	b.ReportAllocs()
	cpu0 := processCPU(b)
	b.ResetTimer()
	var overloaded atomic.Int64
	// appendOne appends, waiting out ErrOverloaded as a caller retrying
	// after its 503 would: an async producer outruns the disk and meets
	// the queue's bound, and what is measured is then the rate the log
	// sustains.
	appendOne := func(i int) error {
		for {
			_, _, err := l.Append(ctx, testEntry(i))
			if !errors.Is(err, ErrOverloaded) {
				return err
			}
			overloaded.Add(1)
			time.Sleep(time.Millisecond)
		}
	}
	if parallelism == 0 {
		for i := 0; b.Loop(); i++ {
			if err := appendOne(i); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		b.SetParallelism(parallelism)
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if err := appendOne(i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	b.ReportMetric(float64(overloaded.Load())/float64(b.N), "overloaded/op")
	// CPU of the whole process (Tessera's sequencer included) per append:
	// the cost a decision pays for the log, whoever's goroutine pays it.
	b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/append")
	closeLog(b, l)
}

// BenchmarkAppendDurable: Append waiting for durable sequencing, at the
// default batch age, from one goroutine (latency) and from many
// (throughput: concurrent decisions share a batch).
func BenchmarkAppendDurable(b *testing.B) {
	b.Run("serial", func(b *testing.B) { benchAppend(b, false, DefaultBatchMaxAge, 0) })
	b.Run("parallel=64xCPU", func(b *testing.B) { benchAppend(b, false, DefaultBatchMaxAge, 64) })
}

// BenchmarkAppendAsync: Append returning once queued.
func BenchmarkAppendAsync(b *testing.B) {
	b.Run("serial", func(b *testing.B) { benchAppend(b, true, DefaultBatchMaxAge, 0) })
	b.Run("parallel=64xCPU", func(b *testing.B) { benchAppend(b, true, DefaultBatchMaxAge, 64) })
}

// BenchmarkDurableLatency: what durable mode adds to one decision (serial
// ns/op) at several batch ages; compare with BenchmarkAppendAsync/serial.
func BenchmarkDurableLatency(b *testing.B) {
	for _, age := range []time.Duration{time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond} {
		b.Run(fmt.Sprintf("age=%s", age), func(b *testing.B) { benchAppend(b, false, age, 0) })
	}
}

// BenchmarkDurableThroughput: appends/s with 64 goroutines per CPU waiting
// durably, at several batch ages. Tessera writes one batch at a time, so a
// batch age shorter than one batch's write (fsyncs: a few ms on SSD) gives
// more, smaller batches and less throughput.
func BenchmarkDurableThroughput(b *testing.B) {
	for _, age := range []time.Duration{time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond} {
		b.Run(fmt.Sprintf("age=%s", age), func(b *testing.B) { benchAppend(b, false, age, 64) })
	}
}

// BenchmarkAsyncPacing: CPU per append in async mode at a fixed offered
// rate, by pacing (--log-batch-age). A load test offers a rate, not a
// backlog, so the batches are as large as rate x pacing and the per-batch
// cost is shared by that many; a producer running flat out (the other
// benchmarks) fills every batch to the cap whatever the pacing. Entries
// are built before the clock starts. 20ms/256 is the durable default
// applied to async, as before DefaultAsyncBatchMaxAge existed.
func BenchmarkAsyncPacing(b *testing.B) {
	entries := make([]*logentry.Entry, 1024)
	for i := range entries {
		entries[i] = testEntry(i)
	}
	for _, rate := range []int{2500, 8000} {
		for _, c := range []struct {
			age  time.Duration
			size int
		}{{20 * time.Millisecond, DefaultBatchMaxSize}, {DefaultAsyncBatchMaxAge, DefaultAsyncBatchMaxSize}, {250 * time.Millisecond, DefaultAsyncBatchMaxSize}} {
			b.Run(fmt.Sprintf("rate=%d/age=%s/size=%d", rate, c.age, c.size), func(b *testing.B) {
				opts := testOptions(b.TempDir())
				opts.Async, opts.BatchMaxAge, opts.BatchMaxSize = true, c.age, c.size
				opts.CheckpointInterval = time.Second
				l := openLog(b, opts)
				ctx := context.Background()
				// 16 appends per tick: a ticker at the full rate would cost
				// more than what is measured.
				const perTick = 16
				tick := time.NewTicker(time.Second * perTick / time.Duration(rate))
				defer tick.Stop()
				cpu0 := processCPU(b)
				b.ResetTimer()
				for i := 0; i < b.N; {
					<-tick.C
					for k := 0; k < perTick && i < b.N; k, i = k+1, i+1 {
						if _, _, err := l.Append(ctx, entries[i%len(entries)]); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.StopTimer()
				// Close writes what waits: part of the cost of what was appended.
				closeLog(b, l)
				b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/append")
			})
		}
	}
}

// processCPU is the user and system CPU time the process has used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
