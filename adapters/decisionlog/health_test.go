package decisionlog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeProbe stands in for the guard: it fails with err while err is set,
// and counts its calls.
type fakeProbe struct {
	mu       sync.Mutex
	err      error
	quick    int
	thorough int
	changes  []string
}

func (p *fakeProbe) check(thorough bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if thorough {
		p.thorough++
	} else {
		p.quick++
	}
	return p.err
}

func (p *fakeProbe) set(err error) { p.mu.Lock(); p.err = err; p.mu.Unlock() }

func (p *fakeProbe) onChange(from, to string, _ error) {
	p.mu.Lock()
	p.changes = append(p.changes, from+"->"+to)
	p.mu.Unlock()
}

func (p *fakeProbe) probing(retryMin, retryMax time.Duration) probing {
	return probing{check: p.check, idle: time.Hour, retryMin: retryMin, retryMax: retryMax, onChange: p.onChange}
}

func waitState(t *testing.T, c *committer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.health() != want {
		if time.Now().After(deadline) {
			t.Fatalf("state %q, want %q", c.health(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

var erofs = &fs.PathError{Op: "open", Path: "/log/.state/treeState.lock", Err: syscall.EROFS}

// TestCommitterRefusesWhileUnwritable: when the probe before a batch fails,
// the batch never reaches the sequencer, its durable callers fail with
// ErrUnavailable (also ErrAppend, unwrapping to the cause), new entries
// are refused at once, and once the probe passes again the log accepts
// entries by itself — without any append to trigger it.
func TestCommitterRefusesWhileUnwritable(t *testing.T) {
	f := newFakeSequencer()
	p := &fakeProbe{}
	c := newCommitter(f.add, 8, 100, 0, (&asyncFailure{}).record, p.probing(5*time.Millisecond, 20*time.Millisecond))
	defer closeCommitter(t, c)
	collect(t, appendAll(t, c, "a"), 1)

	p.set(erofs)
	r := collect(t, appendAll(t, c, "b"), 1)["b"]
	if !errors.Is(r.err, ErrUnavailable) || !errors.Is(r.err, ErrAppend) || !errors.Is(r.err, syscall.EROFS) {
		t.Fatalf("b: %v; want ErrUnavailable, ErrAppend and EROFS", r.err)
	}
	if got := c.health(); got != StateUnwritable {
		t.Errorf("state %q, want %q", got, StateUnwritable)
	}
	if _, _, err := c.enqueue([]byte("c"), true); !errors.Is(err, ErrUnavailable) {
		t.Errorf("enqueue while unwritable: %v, want ErrUnavailable", err)
	}
	if n := len(f.snapshot()); n != 1 {
		t.Errorf("%d writes reached the sequencer, want only a's", n)
	}

	p.set(nil)
	waitState(t, c, StateOK)
	if r := collect(t, appendAll(t, c, "d"), 1)["d"]; r.err != nil || r.index != 1 {
		t.Fatalf("d after recovery: index %d, err %v", r.index, r.err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if want := []string{"ok->unwritable", "unwritable->ok"}; fmt.Sprint(p.changes) != fmt.Sprint(want) {
		t.Errorf("changes %v, want %v", p.changes, want)
	}
}

// TestCommitterBacksOff: while the probe keeps failing, the wait between
// probes doubles up to retryMax instead of spinning.
func TestCommitterBacksOff(t *testing.T) {
	p := &fakeProbe{}
	p.set(erofs)
	c := newCommitter(newFakeSequencer().add, 8, 100, 0, (&asyncFailure{}).record, p.probing(10*time.Millisecond, 80*time.Millisecond))
	appendAll(t, c, "a")
	waitState(t, c, StateUnwritable)
	time.Sleep(400 * time.Millisecond)
	closeCommitter(t, c)
	p.mu.Lock()
	defer p.mu.Unlock()
	// 10+20+40+80+80+80 ms: about 6 probes in 400 ms; 40 without backoff.
	if p.thorough < 3 || p.thorough > 10 {
		t.Errorf("%d probes in 400 ms with retries from 10 ms doubling to 80 ms", p.thorough)
	}
}

// TestCommitterFailedBatchIsFailing: a batch the sequencer fails although
// the folder probes fine leaves the log StateFailing for a retry delay (it
// refuses entries meanwhile), then it tries again.
func TestCommitterFailedBatchIsFailing(t *testing.T) {
	f := newFakeSequencer()
	f.err = errors.New("damaged tile")
	p := &fakeProbe{}
	c := newCommitter(f.add, 8, 100, 0, (&asyncFailure{}).record, p.probing(200*time.Millisecond, time.Second))
	defer closeCommitter(t, c)
	r := collect(t, appendAll(t, c, "a"), 1)["a"]
	if r.err == nil || r.err.Error() != "damaged tile" {
		t.Fatalf("a: %v; want the sequencer's error", r.err)
	}
	if got := c.health(); got != StateFailing {
		t.Fatalf("state %q, want %q", got, StateFailing)
	}
	if _, _, err := c.enqueue([]byte("b"), true); !errors.Is(err, ErrUnavailable) {
		t.Errorf("enqueue while failing: %v, want ErrUnavailable", err)
	}
	f.mu.Lock()
	f.err = nil
	f.mu.Unlock()
	waitState(t, c, StateOK)
	if r := collect(t, appendAll(t, c, "c"), 1)["c"]; r.err != nil {
		t.Fatalf("c after the retry: %v", r.err)
	}
}

// TestCommitterCloseWhileUnwritable: close does not hang on a log that
// cannot write: the async entries it kept are failed and counted.
func TestCommitterCloseWhileUnwritable(t *testing.T) {
	p := &fakeProbe{}
	lost := &asyncFailure{}
	c := newCommitter(newFakeSequencer().add, 8, 100, time.Hour, lost.record, p.probing(time.Hour, time.Hour))
	collect(t, appendAll(t, c, "a"), 1) // the next batch now waits an hour's pacing
	for _, n := range []string{"x", "y"} {
		if _, _, err := c.enqueue([]byte(n), false); err != nil {
			t.Fatal(err)
		}
	}
	p.set(erofs)
	closeCommitter(t, c)
	if got := lost.count(); got != 2 {
		t.Errorf("async entries reported lost = %d, want 2", got)
	}
}

func TestClassify(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{erofs, StateUnwritable},
		{&fs.PathError{Op: "open", Path: "x", Err: syscall.EACCES}, StateUnwritable},
		{&fs.PathError{Op: "open", Path: "x", Err: syscall.ENOENT}, StateUnwritable},
		{&fs.PathError{Op: "open", Path: "x", Err: syscall.EMFILE}, StateOutOfDescriptors},
		{fmt.Errorf("33 descriptors to spare: %w", os.NewSyscallError("dup", syscall.EMFILE)), StateOutOfDescriptors},
		{&fs.PathError{Op: "open", Path: "x", Err: syscall.ENFILE}, StateOutOfDescriptors},
		{&fs.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}, StateDiskFull},
		{&fs.PathError{Op: "write", Path: "x", Err: syscall.EDQUOT}, StateDiskFull},
		{&fs.PathError{Op: "sync", Path: "x", Err: syscall.EIO}, StateFailing},
	} {
		if got := classify(tt.err); got != tt.want {
			t.Errorf("classify(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestGuardProbes: the guard's probes on a real folder: both pass on a
// writable log folder, leave nothing behind, and never create .state
// (a new empty one would restart the tree from zero).
func TestGuardProbes(t *testing.T) {
	dir := t.TempDir()
	g := newGuard(dir)
	if err := g.check(false); !errors.Is(err, fs.ErrNotExist) || classify(err) != StateUnwritable {
		t.Fatalf("probe without .state: %v, want ErrNotExist", err)
	}
	if _, err := os.Stat(dir + "/" + stateDirName); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the probe created .state: %v", err)
	}
	if err := prepareFolder(dir, g); err != nil {
		t.Fatal(err)
	}
	for _, thorough := range []bool{false, true} {
		if err := g.check(thorough); err != nil {
			t.Errorf("check(%v) = %v", thorough, err)
		}
	}
	if _, err := os.Stat(g.probePath); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("probe file left behind: %v", err)
	}
}
