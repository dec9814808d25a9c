package decisionlog

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"time"
)

// Defaults. See Options for why each was chosen.
const (
	// DefaultOrigin names a log when neither Options.Origin nor an existing
	// key says otherwise. Production logs should use the service's public
	// host and path, e.g. "ageassure.acme.example/log".
	DefaultOrigin = "ageassure.example/log"
	// DefaultBatchMaxAge is the shortest time between the starts of two
	// batches, so the longest an entry waits for its batch to start while
	// the disk keeps up. An entry that finds the log idle is written at
	// once; under load, entries arriving during one write form the next
	// batch, so this bounds batches per second and with it the per-batch
	// cost. That cost is large: Tessera's POSIX driver creates, writes,
	// fsyncs and renames a file per tile and bundle, ~5 ms of CPU per batch
	// on a cloud VM whatever its size. Measured with Redis and the load
	// tester on 2 vCPUs (5 ms -> 20 ms): at 2,000/s server CPU 560 -> 492
	// us per decision, p99 41 -> 67 ms; at 4,000/s 301 -> 286 us, p99
	// 132 -> 158 ms; at 5,000/s offered 4,640/s (behind) -> 4,990/s (kept
	// up). 20 ms buys throughput with latency a signup does not notice.
	DefaultBatchMaxAge = 20 * time.Millisecond
	// DefaultAsyncBatchMaxAge is the pacing in async mode, where no
	// answer waits for a batch: pacing then costs no latency, only the
	// decisions a crash would lose (those answered in the last batch age
	// and the write in flight). Each batch has a fixed CPU cost (the
	// files, fsyncs and renames above), which at 20 ms dominates at
	// moderate rates. Measured on 2 vCPUs (BenchmarkAsyncPacing, CPU per
	// append, 20 ms/256 -> 100 ms/4,096): at 2,500 appends/s 112-116 ->
	// 55-66 us; at 8,000/s 65-69 -> 41-55 us; 250 ms saved nothing more.
	DefaultAsyncBatchMaxAge = 100 * time.Millisecond
	// DefaultBatchMaxSize caps one durable batch, so a burst is written in
	// a few batches whose callers are answered as each completes rather
	// than all after one long write. At the default pacing a batch holds
	// rate x 20 ms entries (160 at 8,000/s), well under it. A larger cap
	// also costs CPU where batches are paced short: Tessera's queue
	// allocates room for a full batch at every flush (measured at 2,500/s
	// and 20 ms: 256 -> 4,096 added 15-23 us per append).
	DefaultBatchMaxSize = 256
	// DefaultAsyncBatchMaxSize caps one async batch. It must hold what
	// arrives in DefaultAsyncBatchMaxAge (800 entries at 8,000/s), or
	// full batches would skip the pacing and be written back to back.
	DefaultAsyncBatchMaxSize = 4096
	// DefaultMaxPending bounds the entries waiting to be written: at this
	// depth the disk is far behind (tens of durable batches), and failing
	// fast with a 503 beats queueing into timeouts and unbounded memory.
	// It is raised to 4 batches when BatchMaxSize is larger than a
	// quarter of it (4,096).
	DefaultMaxPending = 16384
	// minPendingBatches is how many full batches may wait at least.
	minPendingBatches = 4
	// DefaultCheckpointInterval is how often a new signed checkpoint is
	// published. Durability does not depend on it (sequencing does); it
	// bounds how stale GET /log/checkpoint can be. The POSIX driver refuses
	// anything under 100 ms.
	DefaultCheckpointInterval = time.Second
	// keyDirName and keyFileName place the default note key inside the log
	// folder, in a directory the HTTP handler can never serve.
	keyDirName  = ".ageassure"
	keyFileName = "note.key"
)

// Options configure Open. The zero value of every field but Dir is a
// sensible default, and the zero value of Async is the safe choice.
type Options struct {
	// Dir is the log folder (POSIX storage). Required.
	Dir string
	// KeyFile is the note signing key (the note package's "PRIVATE+KEY+…"
	// text). Default: <Dir>/.ageassure/note.key, created with mode 0600 on
	// the log's first start so the log keeps its key across restarts. An
	// explicit KeyFile must already exist.
	KeyFile string
	// Origin is the log's name: the first line of its checkpoints and the
	// name of its note key (the C2SP convention). Default: the existing
	// key's name, else DefaultOrigin. Open fails if it differs from the
	// key's name.
	Origin string
	// BatchMaxSize and BatchMaxAge bound a sequencing batch and pace
	// batches. Defaults: DefaultBatchMaxSize and DefaultBatchMaxAge when
	// durable, DefaultAsyncBatchMaxSize and DefaultAsyncBatchMaxAge when
	// Async.
	BatchMaxSize int
	BatchMaxAge  time.Duration
	// MaxPending bounds the entries waiting to be written. Default:
	// DefaultMaxPending, or 4 batches of BatchMaxSize if that is more.
	MaxPending int
	// CheckpointInterval is how often checkpoints are published (>= 100 ms).
	CheckpointInterval time.Duration
	// Async makes Append return as soon as the entry is queued, before it
	// is written. Faster, but a crash can lose decisions already answered;
	// the default (false) waits until the entry is durably sequenced.
	Async bool
	// Logger receives operational events (never entry contents). Default:
	// slog.Default().
	Logger *slog.Logger
}

// withDefaults fills unset fields and checks the rest.
func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, fmt.Errorf("%w: no log folder", ErrConfig)
	}
	if o.KeyFile == "" {
		o.KeyFile = filepath.Join(o.Dir, keyDirName, keyFileName)
	}
	if o.BatchMaxSize == 0 {
		o.BatchMaxSize = DefaultBatchMaxSize
		if o.Async {
			o.BatchMaxSize = DefaultAsyncBatchMaxSize
		}
	}
	if o.BatchMaxAge == 0 {
		o.BatchMaxAge = DefaultBatchMaxAge
		if o.Async {
			o.BatchMaxAge = DefaultAsyncBatchMaxAge
		}
	}
	if o.MaxPending == 0 {
		o.MaxPending = max(DefaultMaxPending, minPendingBatches*o.BatchMaxSize)
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = DefaultCheckpointInterval
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch {
	case o.BatchMaxSize < 1:
		return o, fmt.Errorf("%w: batch size %d: want at least 1", ErrConfig, o.BatchMaxSize)
	case o.MaxPending < o.BatchMaxSize:
		return o, fmt.Errorf("%w: max pending %d: want at least the batch size %d", ErrConfig, o.MaxPending, o.BatchMaxSize)
	case o.BatchMaxAge < 0:
		return o, fmt.Errorf("%w: batch age %s: want a positive duration", ErrConfig, o.BatchMaxAge)
	case o.CheckpointInterval < 100*time.Millisecond:
		return o, fmt.Errorf("%w: checkpoint interval %s: the POSIX driver needs at least 100ms", ErrConfig, o.CheckpointInterval)
	}
	return o, nil
}

// LogValue lists the settings for a start-up log line. It holds paths,
// never key material.
func (o Options) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("dir", o.Dir),
		slog.String("key_file", o.KeyFile),
		slog.String("origin", o.Origin),
		slog.Int("batch_max_size", o.BatchMaxSize),
		slog.Duration("batch_max_age", o.BatchMaxAge),
		slog.Int("max_pending", o.MaxPending),
		slog.Duration("checkpoint_interval", o.CheckpointInterval),
		slog.Bool("durable", !o.Async),
	)
}
