package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/ageassure/ageassure/adapters/decisionlog"
)

// logFlags are the settings of the decision log.
type logFlags struct {
	Dir                string
	KeyFile            string
	Origin             string
	BatchMaxAge        time.Duration
	BatchMaxSize       int
	CheckpointInterval time.Duration
	Async              bool
}

func (l *logFlags) flags(fs *flag.FlagSet) {
	fs.StringVar(&l.Dir, "log-dir", "./data/log", "`folder` of the decision log (a Tessera POSIX transparency log; created if missing)")
	fs.StringVar(&l.KeyFile, "log-key", "", "checkpoint signing `file` (a note key, PRIVATE+KEY+…) (default: <log-dir>/.ageassure/note.key,\ncreated with mode 0600 on the log's first start)")
	fs.StringVar(&l.Origin, "log-origin", "", "the log's `origin`: first line of its checkpoints and name of its key (default: the key's name,\nor "+decisionlog.DefaultOrigin+" for a new log)")
	fs.DurationVar(&l.BatchMaxAge, "log-batch-age", decisionlog.DefaultBatchMaxAge, "shortest time between two sequencing batches: under load, decisions arriving meanwhile share\nthe next batch and its files and fsyncs; a decision that finds the log idle is written at once")
	fs.IntVar(&l.BatchMaxSize, "log-batch-size", decisionlog.DefaultBatchMaxSize, "most entries in one sequencing batch")
	fs.DurationVar(&l.CheckpointInterval, "log-checkpoint-interval", decisionlog.DefaultCheckpointInterval, "how often a signed checkpoint is published (at least 100ms)")
	fs.BoolVar(&l.Async, "log-async", false, "answer before the entry is durably sequenced: faster, but a crash can lose decisions\nalready answered (default: durable)")
}

// open opens (or creates) the decision log.
func (l *logFlags) open(ctx context.Context, log *slog.Logger) (*decisionlog.Log, error) {
	d, err := decisionlog.Open(ctx, decisionlog.Options{
		Dir:                l.Dir,
		KeyFile:            l.KeyFile,
		Origin:             l.Origin,
		BatchMaxSize:       l.BatchMaxSize,
		BatchMaxAge:        l.BatchMaxAge,
		CheckpointInterval: l.CheckpointInterval,
		Async:              l.Async,
		Logger:             log,
	})
	if err != nil {
		return nil, fmt.Errorf("decision log %s: %w", l.Dir, err)
	}
	log.Info("decision log open", slog.String("dir", l.Dir), slog.String("origin", d.Origin()),
		slog.String("verifier_key", d.VerifierKey()), slog.Bool("durable", !l.Async))
	return d, nil
}
