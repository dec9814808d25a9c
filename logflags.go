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
	BatchMaxAge        modeDuration // 0: the mode's default
	BatchMaxSize       int          // 0: the mode's default
	CheckpointInterval time.Duration
	Async              bool
}

func (l *logFlags) flags(fs *flag.FlagSet) {
	fs.StringVar(&l.Dir, "log-dir", "./data/log", "`folder` of the decision log (a Tessera POSIX transparency log; created if missing)")
	fs.StringVar(&l.KeyFile, "log-key", "", "checkpoint signing `file` (a note key, PRIVATE+KEY+…) (default: <log-dir>/.ageassure/note.key,\ncreated with mode 0600 on the log's first start)")
	fs.StringVar(&l.Origin, "log-origin", "", "the log's `origin`: first line of its checkpoints and name of its key (default: the key's name,\nor "+decisionlog.DefaultOrigin+" for a new log)")
	fs.Var(&l.BatchMaxAge, "log-batch-age", fmt.Sprintf("shortest `duration` between two sequencing batches: under load, decisions arriving meanwhile share\n"+
		"the next batch and its files and fsyncs; a decision that finds the log idle is written at once\n(default: %s, or %s with --log-async, where no answer waits for it)",
		decisionlog.DefaultBatchMaxAge, decisionlog.DefaultAsyncBatchMaxAge))
	fs.IntVar(&l.BatchMaxSize, "log-batch-size", 0, fmt.Sprintf("most entries in one sequencing batch (default: %d, or %d with --log-async)",
		decisionlog.DefaultBatchMaxSize, decisionlog.DefaultAsyncBatchMaxSize))
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
		BatchMaxAge:        time.Duration(l.BatchMaxAge),
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

// modeDuration is a duration flag whose zero value means "the default of
// the mode chosen by another flag": it prints no default of its own, so
// the help can name both, and refuses what is not positive.
type modeDuration time.Duration

func (d *modeDuration) String() string {
	if d == nil || *d == 0 {
		return ""
	}
	return time.Duration(*d).String()
}

func (d *modeDuration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if v <= 0 {
		return fmt.Errorf("want a positive duration, got %s", s)
	}
	*d = modeDuration(v)
	return nil
}
