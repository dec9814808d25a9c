package decisionlog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	flog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"

	"github.com/ageassure/ageassure/service/logentry"
)

// Log appends decision entries to a Tessera POSIX log and serves it.
// It is safe for concurrent use.
type Log struct {
	opts     Options
	key      *noteKey
	origin   string
	appender *tessera.Appender
	shutdown func(context.Context) error
	reader   tessera.LogReader
	root     *os.Root
	cancel   context.CancelFunc
	commit   *committer

	closed atomic.Bool
	failed atomic.Uint64 // async appends that failed
}

// Open opens (or creates) the log in opts.Dir and starts Tessera's
// sequencer and checkpoint publisher. The log runs until Close, even if ctx
// is cancelled first: a cancelled request or signal context must not stop
// the sequencer before pending entries are written, so only Close ends it.
func Open(ctx context.Context, opts Options) (*Log, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	defaultKey := opts.KeyFile == filepath.Join(opts.Dir, keyDirName, keyFileName)
	// Before the key or Tessera writes anything: Tessera panics rather
	// than fail on a folder it cannot lock (see guard).
	g := newGuard(opts.Dir)
	if err := prepareFolder(opts.Dir, g); err != nil { // makes opts.Dir too
		return nil, unwritableFolder(opts.Dir, err)
	}
	key, err := loadOrCreateKey(opts, defaultKey)
	if err != nil {
		return nil, err
	}
	origin := key.signer.Name()
	if opts.Origin != "" && opts.Origin != origin {
		return nil, fmt.Errorf("%w: key %s names origin %q but the log is configured as %q; the note key's name must be the origin",
			ErrKey, opts.KeyFile, origin, opts.Origin)
	}
	opts.Origin = origin
	if err := checkExistingCheckpoint(opts.Dir, key, origin); err != nil {
		return nil, err
	}

	driver, err := posix.New(ctx, posix.Config{Path: opts.Dir})
	if err != nil {
		return nil, fmt.Errorf("decisionlog: posix storage %s: %w", opts.Dir, err)
	}
	aopts := tessera.NewAppendOptions().
		WithCheckpointSigner(key.signer).
		WithBatching(uint(opts.BatchMaxSize), tesseraLinger).
		WithCheckpointInterval(opts.CheckpointInterval)
	if opts.CheckpointInterval > tessera.DefaultCheckpointRepublishInterval {
		// Tessera requires republishing no more often than publishing.
		aopts = aopts.WithCheckpointRepublishInterval(opts.CheckpointInterval)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	appender, shutdown, reader, err := newAppender(runCtx, opts.Dir, driver, aopts)
	if err != nil {
		cancel()
		return nil, err
	}
	root, err := os.OpenRoot(opts.Dir)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("decisionlog: %w", err)
	}
	l := &Log{
		opts: opts, key: key, origin: origin,
		appender: appender, shutdown: shutdown, reader: reader,
		root: root, cancel: cancel,
	}
	l.commit = newCommitter(appender.Add, opts.BatchMaxSize, opts.MaxPending, opts.BatchMaxAge, l.asyncFailed, probing{
		check: g.check, idle: idleProbeInterval, retryMin: retryMin, retryMax: retryMax,
		onChange: l.healthChanged,
	})
	size, _ := reader.IntegratedSize(runCtx)
	opts.Logger.Info("decision log open", slog.Any("config", opts), slog.Uint64("size", size))
	return l, nil
}

// newAppender starts Tessera's appender. Tessera opens its lock file while
// it initialises, on this goroutine, and panics if it cannot; Open has
// just probed that file, but a panic here would still end the process
// (the CLI's one-line error becomes a stack trace), so it is recovered and
// returned. Nothing runs yet when it panics: Tessera starts its
// goroutines only after initialising.
func newAppender(ctx context.Context, dir string, driver tessera.Driver, aopts *tessera.AppendOptions) (a *tessera.Appender, shutdown func(context.Context) error, r tessera.LogReader, err error) {
	defer func() {
		if v := recover(); v != nil {
			a, shutdown, r = nil, nil, nil
			if perr, ok := v.(error); ok {
				err = unwritableFolder(dir, perr)
			} else {
				err = fmt.Errorf("decisionlog: starting tessera: panic: %v", v)
			}
		}
	}()
	a, shutdown, r, err = tessera.NewAppender(ctx, driver, aopts)
	if err != nil {
		err = fmt.Errorf("decisionlog: starting tessera: %w", err)
	}
	return a, shutdown, r, err
}

// unwritableFolder is Open's error for a folder it cannot write.
func unwritableFolder(dir string, err error) error {
	return fmt.Errorf("%w: log folder %s cannot be written (%s): %w", ErrUnavailable, dir, classify(err), err)
}

// healthChanged logs a change of the log's state: once when it starts
// refusing entries, once when it accepts them again.
func (l *Log) healthChanged(from, to string, cause error) {
	switch {
	case to == StateOK:
		l.opts.Logger.Info("decision log writable again; accepting entries", slog.String("was", from))
	case from == StateOK:
		l.opts.Logger.Error("decision log cannot write; refusing entries until it can",
			slog.String("state", to), slog.Any("error", cause))
	default:
		l.opts.Logger.Warn("decision log still cannot write", slog.String("state", to), slog.Any("error", cause))
	}
}

// checkExistingCheckpoint refuses a key that did not sign the log's current
// checkpoint: appending under another identity would make the log
// unverifiable from its own history.
func checkExistingCheckpoint(dir string, key *noteKey, origin string) error {
	raw, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("decisionlog: reading checkpoint: %w", err)
	}
	v, err := note.NewVerifier(key.verifier)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrKey, err)
	}
	if _, _, _, err := flog.ParseCheckpoint(raw, origin, v); err != nil {
		return fmt.Errorf("%w: the existing checkpoint in %s is not signed by this key for origin %q (%v)", ErrKey, dir, origin, err)
	}
	return nil
}

// Append validates e, encodes it canonically and adds it to the log.
//
// Durable mode (the default): Append returns once the entry is sequenced
// and written, with its index and known == true. Async mode: it returns at
// once with known == false; the index is assigned in the background and a
// failure is logged and counted (see Failed), never returned. Append does
// not wait for a checkpoint; one covering the entry follows within
// Options.CheckpointInterval.
//
// ctx is not used to abandon a write in progress: once queued the entry is
// written whatever happens to the request. Entries are written in groups,
// one group at a time (see committer); when Options.MaxPending entries
// already wait, Append fails at once with ErrOverloaded. While the folder
// cannot be written (see Health) it fails at once with ErrUnavailable, and
// a durable Append waiting when the log finds it cannot write fails with
// it too.
func (l *Log) Append(ctx context.Context, e *logentry.Entry) (index uint64, known bool, err error) {
	if err := e.Validate(); err != nil {
		return 0, false, fmt.Errorf("decisionlog: %w", err)
	}
	b, err := e.Marshal()
	if err != nil {
		return 0, false, fmt.Errorf("decisionlog: %w", err)
	}
	g, pos, err := l.commit.enqueue(b, !l.opts.Async)
	if err != nil {
		return 0, false, err
	}
	if l.opts.Async {
		return 0, false, nil
	}
	idx, err := g.result(pos)
	if err != nil {
		if errors.Is(err, ErrAppend) || errors.Is(err, ErrClosed) {
			return 0, false, err
		}
		return 0, false, fmt.Errorf("%w: %v", ErrAppend, err)
	}
	return idx, true, nil
}

// asyncFailed records n async entries lost to a failed batch.
func (l *Log) asyncFailed(n int, err error) {
	l.failed.Add(uint64(n))
	l.opts.Logger.Error("decision log append failed", slog.Int("entries", n), slog.Any("error", err))
}

// Failed counts async appends that failed since Open (always 0 in durable
// mode, where failures are returned). Export it as a metric: every count is
// a decision answered but missing from the log.
func (l *Log) Failed() uint64 { return l.failed.Load() }

// Origin is the log's origin: the first line of its checkpoints.
func (l *Log) Origin() string { return l.origin }

// VerifierKey is the note verifier key ("<origin>+<hash>+<key>") that
// checks the log's checkpoints; publish it to auditors (GET /log/key,
// `ageassure audit key`).
func (l *Log) VerifierKey() string { return l.key.verifier }

// Checkpoint returns the latest published checkpoint.
func (l *Log) Checkpoint(ctx context.Context) ([]byte, error) {
	return l.reader.ReadCheckpoint(ctx)
}

// Close stops accepting entries, writes every queued one (async appends
// included), then lets Tessera integrate everything pending and publish a checkpoint
// covering it (its shutdown function), and stops the background work. Give
// ctx a deadline: at least CheckpointInterval plus a batch.
func (l *Log) Close(ctx context.Context) error {
	if l.closed.Swap(true) {
		return nil
	}
	err := l.commit.close(ctx)
	if err == nil {
		err = l.shutdown(ctx)
	}
	if err == nil {
		err = l.awaitFinalCheckpoint(ctx)
	}
	l.cancel()
	if cerr := l.root.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		l.opts.Logger.Error("decision log did not drain", slog.Any("error", err))
		return fmt.Errorf("decisionlog: close: %w", err)
	}
	size, _ := l.reader.IntegratedSize(context.Background())
	l.opts.Logger.Info("decision log closed", slog.Uint64("size", size))
	return nil
}

// awaitFinalCheckpoint waits until the published checkpoint covers the whole
// integrated tree. Tessera's shutdown only waits for entries added in this
// session; entries sequenced by a process that was killed before
// publishing are integrated on disk but would stay uncovered by a
// checkpoint if this process, too, stopped before the next publication.
func (l *Log) awaitFinalCheckpoint(ctx context.Context) error {
	v, err := note.NewVerifier(l.key.verifier)
	if err != nil {
		return err
	}
	tick := time.NewTicker(l.opts.CheckpointInterval / 4)
	defer tick.Stop()
	for {
		size, err := l.reader.IntegratedSize(ctx)
		if err != nil {
			return err
		}
		raw, err := l.reader.ReadCheckpoint(ctx)
		if err == nil {
			cp, perr := ParseCheckpoint(raw, v)
			if perr == nil && cp.Size >= size {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for a checkpoint covering %d entries: %w", size, ctx.Err())
		case <-tick.C:
		}
	}
}
