package decisionlog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Health states, as Log.Health reports them. Every state but StateOK means
// the log refuses entries (Append fails at once with ErrUnavailable) and
// the instance should not be taking decisions.
const (
	// StateOK: the folder can be written; entries are accepted.
	StateOK = "ok"
	// StateUnwritable: the folder cannot be written: read-only file
	// system, permission denied, or Tessera's .state folder is missing.
	StateUnwritable = "unwritable"
	// StateOutOfDescriptors: the process (EMFILE) or the system (ENFILE)
	// has no file descriptors to spare.
	StateOutOfDescriptors = "out_of_descriptors"
	// StateDiskFull: no space (ENOSPC) or quota (EDQUOT) left.
	StateDiskFull = "disk_full"
	// StateFailing: the last batch failed although the folder looks
	// writable (an I/O error, a damaged tile); the log waits before trying
	// again.
	StateFailing = "failing"
	// StateClosed: Close was called.
	StateClosed = "closed"
)

// Guard settings.
const (
	// stateDirName and treeStateLockName are where Tessera's POSIX driver
	// keeps its tree state, and the lock file it opens before every batch
	// (and on open). Opening that file is the one step of a write Tessera
	// does not return an error for: it panics, on its own goroutine.
	stateDirName      = ".state"
	treeStateLockName = "treeState.lock"
	// probeFileName is the file the thorough probe writes, syncs and
	// removes in the .state folder. The handler never serves .state.
	probeFileName = "ageassure.probe"
	// fdHeadroom is how many free descriptors the quick probe wants before
	// a batch goes to Tessera. One would do if nothing else ran; the
	// margin is for what the rest of the process (accepted connections,
	// Redis, the checkpoint publisher) opens between the probe and
	// Tessera's own open, about a millisecond later.
	fdHeadroom = 32
	// idleProbeInterval: how often the quick probe runs while the log is
	// healthy and idle, so Health notices a folder that turned read-only
	// even when no decision arrives.
	idleProbeInterval = time.Second
	// retryMin and retryMax bound the wait before the log, while it
	// refuses entries, probes again: it doubles with each failure in a
	// row, so a lasting fault costs one probe every retryMax.
	retryMin = 50 * time.Millisecond
	retryMax = 2 * time.Second
)

// guard keeps Tessera's POSIX driver away from the conditions it panics on
// instead of returning an error. Tessera v1.0.4 (the newest release)
// opens <dir>/.state/treeState.lock with O_CREAT|O_RDWR at the start of
// every batch, in (*appender).sequenceBatch on its queue's flush goroutine,
// and panics if that fails — EMFILE, ENFILE, EROFS, EACCES, ENOENT alike;
// nothing in this process can recover that panic. The guard opens the same
// file the same way first (the quick probe) and holds the batch back when
// it cannot. See doc.go for the window that remains.
//
// The probes open and close the lock file Tessera locks with fcntl, and
// closing any descriptor of a file drops the process's fcntl locks on it.
// That is safe only because every probe runs on the committer's goroutine
// between batches, when Tessera holds no lock on it: Tessera's queue only
// runs a batch the committer handed it, and the committer waits for every
// entry of a batch before it probes again.
type guard struct {
	lockPath  string
	probePath string
	headroom  int
}

func newGuard(dir string) *guard {
	return &guard{
		lockPath:  filepath.Join(dir, stateDirName, treeStateLockName),
		probePath: filepath.Join(dir, stateDirName, probeFileName),
		headroom:  fdHeadroom,
	}
}

// check runs the quick probe, and when thorough also the write probe.
//
// Quick: open the lock file as Tessera does (the folder can be written,
// .state exists, a descriptor is free), then hold headroom-1 more
// descriptors for a moment. A few microseconds; it runs before every
// batch.
//
// Thorough: also create, write, fsync and remove a file in .state, which
// finds a full disk and I/O errors too. It runs when the log is already
// refusing entries, to learn whether it may accept them again. Neither
// probe ever creates a folder: a missing .state must stay an error, since
// a new empty one would make Tessera start the tree again from zero.
func (g *guard) check(thorough bool) error {
	f, err := os.OpenFile(g.lockPath, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	err = holdDescriptors(f, g.headroom-1)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil || !thorough {
		return err
	}
	return writeProbe(g.probePath)
}

// holdDescriptors duplicates f's descriptor n times and closes the copies:
// it fails with EMFILE or ENFILE when n descriptors are not free. ForkLock
// is held throughout so no child process can inherit a copy (they are not
// close-on-exec).
func holdDescriptors(f *os.File, n int) error {
	if n <= 0 {
		return nil
	}
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fd := int(f.Fd())
	held := make([]int, 0, n)
	defer func() {
		for _, d := range held {
			syscall.Close(d)
		}
	}()
	for range n {
		d, err := syscall.Dup(fd)
		if err != nil {
			return fmt.Errorf("%d descriptors to spare: %w", n+1, os.NewSyscallError("dup", err))
		}
		held = append(held, d)
	}
	return nil
}

// writeProbe writes a page to path, syncs it and removes it.
func writeProbe(path string) (err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if rerr := os.Remove(path); err == nil && rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = rerr
		}
	}()
	_, err = f.Write(make([]byte, 4096))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// prepareFolder makes the log folder and Tessera's .state folder in it, and
// runs the thorough probe:
// Open calls it before anything else writes to the folder, so an
// unwritable one is a clear error rather than Tessera's panic.
func prepareFolder(dir string, g *guard) error {
	if err := os.MkdirAll(filepath.Join(dir, stateDirName), 0o755); err != nil {
		return err
	}
	return g.check(true)
}

// classify names the state a probe error puts the log in.
func classify(err error) string {
	switch {
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return StateOutOfDescriptors
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return StateDiskFull
	case errors.Is(err, syscall.EROFS), errors.Is(err, fs.ErrPermission),
		errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return StateUnwritable
	}
	return StateFailing
}

// unavailableError is what Append returns while the log refuses entries:
// it is both ErrUnavailable and ErrAppend, and unwraps to its cause (so
// errors.Is(err, syscall.EROFS) holds for a read-only folder).
type unavailableError struct {
	state string
	cause error
}

func (e *unavailableError) Error() string {
	return fmt.Sprintf("%v: log unavailable (%s): %v", ErrAppend, e.state, e.cause)
}

func (e *unavailableError) Is(target error) bool {
	return target == ErrUnavailable || target == ErrAppend
}

func (e *unavailableError) Unwrap() error { return e.cause }

// Health reports whether the log can take entries now, for a readiness
// check: state is StateOK, or why the log refuses entries
// (StateUnwritable, StateOutOfDescriptors, StateDiskFull, StateFailing,
// StateClosed); ready is true only for StateOK. It reads what the log last
// found — the log probes its folder before every batch, every second when
// idle, and with backoff (50 ms doubling to 2 s) while it refuses entries —
// so it costs nothing and does not touch the disk.
func (l *Log) Health() (state string, ready bool) {
	if l.closed.Load() {
		return StateClosed, false
	}
	state = l.commit.health()
	return state, state == StateOK
}

// State is Health's state alone, for a status display that takes a
// func() string.
func (l *Log) State() string {
	s, _ := l.Health()
	return s
}
