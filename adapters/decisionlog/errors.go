package decisionlog

import (
	"errors"
	"fmt"
)

// Sentinel errors, wrapped with %w so callers can branch on them.
var (
	// ErrConfig: Options are unusable.
	ErrConfig = errors.New("decisionlog: bad configuration")
	// ErrKey: the note key is missing, unreadable, malformed, or does not
	// belong to this log (another origin, or not the key that signed the
	// existing checkpoint).
	ErrKey = errors.New("decisionlog: note key")
	// ErrClosed: Append after Close.
	ErrClosed = errors.New("decisionlog: log closed")
	// ErrAppend: Tessera could not sequence the entry; the decision must
	// not be answered as logged.
	ErrAppend = errors.New("decisionlog: append failed")
	// ErrOverloaded: too many entries already wait to be written (the disk
	// is not keeping up); the entry was not queued and the decision must
	// not be answered as logged. It wraps ErrAppend.
	ErrOverloaded = fmt.Errorf("%w: too many entries waiting to be written", ErrAppend)
	// ErrUnavailable: the log folder cannot be written now (read-only,
	// permission denied, no file descriptors or space left, or the last
	// batch failed); see Log.Health. Append fails with it at once, and
	// its errors are ErrAppend too; Open fails with it for a folder it
	// cannot write. The log probes the folder again with backoff and
	// accepts entries once it can write.
	ErrUnavailable = errors.New("decisionlog: log unavailable")
	// ErrSource: a log to read could not be opened or fetched.
	ErrSource = errors.New("decisionlog: cannot read log")
	// ErrNotFound: no entry with the requested decision id.
	ErrNotFound = errors.New("decisionlog: decision not in log")
)
