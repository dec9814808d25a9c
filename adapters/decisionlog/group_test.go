package decisionlog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"
)

// fakeSequencer stands in for Tessera's appender so the committer's
// grouping can be observed exactly: the committer adds a whole group, then
// waits for its futures, so the first future called seals the group as one
// write. While gate is set, every write waits for a value from it, which
// holds the write "on disk" while a test queues more entries.
type fakeSequencer struct {
	mu      sync.Mutex
	adding  []string   // added since the last write was sealed
	writes  [][]string // entries of each write, in order
	started []time.Time
	next    uint64
	gate    chan struct{}
	sealed  chan struct{} // receives after each write is sealed
	err     error
}

func newFakeSequencer() *fakeSequencer {
	return &fakeSequencer{sealed: make(chan struct{}, 100)}
}

func (f *fakeSequencer) add(_ context.Context, e *tessera.Entry) tessera.IndexFuture {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.adding = append(f.adding, string(e.Data()))
	return f.future()
}

// future seals the pending adds as one write when first called and returns
// the index of the next entry in order.
func (f *fakeSequencer) future() tessera.IndexFuture {
	return func() (tessera.Index, error) {
		f.mu.Lock()
		var gate chan struct{}
		if len(f.adding) > 0 {
			f.writes = append(f.writes, f.adding)
			f.started = append(f.started, time.Now())
			f.adding = nil
			gate = f.gate
			f.sealed <- struct{}{}
		}
		f.mu.Unlock()
		if gate != nil {
			<-gate
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.err != nil {
			return tessera.Index{}, f.err
		}
		i := f.next
		f.next++
		return tessera.Index{Index: i}, nil
	}
}

func (f *fakeSequencer) snapshot() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.writes)
}

type asyncFailure struct {
	mu sync.Mutex
	n  int
}

func (a *asyncFailure) record(n int, _ error) { a.mu.Lock(); a.n += n; a.mu.Unlock() }
func (a *asyncFailure) count() int            { a.mu.Lock(); defer a.mu.Unlock(); return a.n }

type appendResult struct {
	name  string
	index uint64
	err   error
}

// appendAll enqueues each name durably, in order, and returns a channel of
// their results.
func appendAll(t *testing.T, c *committer, names ...string) <-chan appendResult {
	t.Helper()
	out := make(chan appendResult, len(names))
	for _, n := range names {
		g, pos, err := c.enqueue([]byte(n), true)
		if err != nil {
			t.Fatalf("enqueue %s: %v", n, err)
		}
		go func() {
			idx, err := g.result(pos)
			out <- appendResult{n, idx, err}
		}()
	}
	return out
}

func collect(t *testing.T, ch <-chan appendResult, n int) map[string]appendResult {
	t.Helper()
	got := map[string]appendResult{}
	for range n {
		select {
		case r := <-ch:
			got[r.name] = r
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of %d appends answered", len(got), n)
		}
	}
	return got
}

func closeCommitter(t *testing.T, c *committer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// TestCommitterGroups: entries that arrive while a write is in flight go
// out together as the next write, capped at the batch size, in arrival
// order, and each caller gets its own index.
func TestCommitterGroups(t *testing.T) {
	tests := []struct {
		name    string
		maxSize int
		later   []string
		want    [][]string
	}{
		{"one group", 256, []string{"b", "c", "d"}, [][]string{{"a"}, {"b", "c", "d"}}},
		{"capped", 2, []string{"b", "c", "d", "e"}, [][]string{{"a"}, {"b", "c"}, {"d", "e"}}},
		{"single", 1, []string{"b", "c"}, [][]string{{"a"}, {"b"}, {"c"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSequencer()
			f.gate = make(chan struct{})
			c := newCommitter(f.add, tt.maxSize, 100, 0, (&asyncFailure{}).record, probing{})
			defer closeCommitter(t, c)

			first := appendAll(t, c, "a")
			<-f.sealed // "a" is being written
			rest := appendAll(t, c, tt.later...)
			close(f.gate) // the disk answers: every write completes at once
			got := collect(t, rest, len(tt.later))
			if r := collect(t, first, 1)["a"]; r.err != nil || r.index != 0 {
				t.Errorf("a: index %d, err %v; want 0, nil", r.index, r.err)
			}
			if w := f.snapshot(); !slices.EqualFunc(w, tt.want, slices.Equal) {
				t.Errorf("writes = %v, want %v", w, tt.want)
			}
			for i, n := range tt.later {
				if r := got[n]; r.err != nil || r.index != uint64(i+1) {
					t.Errorf("%s: index %d, err %v; want %d, nil", n, r.index, r.err, i+1)
				}
			}
		})
	}
}

// TestCommitterOverloaded: once maxPending entries wait, enqueue fails at
// once with ErrOverloaded (an ErrAppend), and accepts again after the
// backlog is written.
func TestCommitterOverloaded(t *testing.T) {
	f := newFakeSequencer()
	f.gate = make(chan struct{})
	c := newCommitter(f.add, 8, 3, 0, (&asyncFailure{}).record, probing{})
	defer closeCommitter(t, c)

	first := appendAll(t, c, "a")
	<-f.sealed
	waiting := appendAll(t, c, "b", "c", "d")
	_, _, err := c.enqueue([]byte("e"), true)
	if !errors.Is(err, ErrOverloaded) || !errors.Is(err, ErrAppend) {
		t.Fatalf("enqueue past max pending: err = %v, want ErrOverloaded wrapping ErrAppend", err)
	}
	close(f.gate)
	collect(t, first, 1)
	collect(t, waiting, 3)
	if r := collect(t, appendAll(t, c, "e"), 1)["e"]; r.err != nil {
		t.Fatalf("after the backlog: %v", r.err)
	}
}

// TestCommitterPaces: with an interval, the next write does not start
// before interval has passed since the previous one started, however
// soon its entries arrive.
func TestCommitterPaces(t *testing.T) {
	const interval = 40 * time.Millisecond
	f := newFakeSequencer()
	c := newCommitter(f.add, 8, 100, interval, (&asyncFailure{}).record, probing{})
	defer closeCommitter(t, c)
	for _, n := range []string{"a", "b", "c"} {
		collect(t, appendAll(t, c, n), 1)
	}
	f.mu.Lock()
	started := slices.Clone(f.started)
	f.mu.Unlock()
	if len(started) != 3 {
		t.Fatalf("%d writes, want 3", len(started))
	}
	for i := 1; i < len(started); i++ {
		if gap := started[i].Sub(started[i-1]); gap < interval {
			t.Errorf("write %d started %s after the previous one, want at least %s", i, gap, interval)
		}
	}
}

// TestCommitterCloseDrains: close writes every queued entry, async ones
// included, before it returns; afterwards enqueue fails with ErrClosed.
func TestCommitterCloseDrains(t *testing.T) {
	f := newFakeSequencer()
	f.gate = make(chan struct{})
	c := newCommitter(f.add, 2, 100, time.Hour, (&asyncFailure{}).record, probing{})
	first := appendAll(t, c, "a")
	<-f.sealed
	for i := range 5 {
		if _, _, err := c.enqueue(fmt.Appendf(nil, "async%d", i), false); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- c.close(context.Background()) }()
	close(f.gate)
	// An hour's pacing would hold the queued writes; close must not wait
	// for it.
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("close did not return")
	}
	collect(t, first, 1)
	var n int
	for _, w := range f.snapshot() {
		n += len(w)
	}
	if n != 6 {
		t.Errorf("%d entries written, want 6", n)
	}
	if _, _, err := c.enqueue([]byte("late"), true); !errors.Is(err, ErrClosed) {
		t.Errorf("enqueue after close: err = %v, want ErrClosed", err)
	}
}

// TestCommitterFailure: a failed write fails every durable caller in it and
// reports the async entries it lost.
func TestCommitterFailure(t *testing.T) {
	f := newFakeSequencer()
	f.err = errors.New("disk full")
	f.gate = make(chan struct{})
	lost := &asyncFailure{}
	c := newCommitter(f.add, 8, 100, 0, lost.record, probing{})
	first := appendAll(t, c, "a")
	<-f.sealed
	durable := appendAll(t, c, "b")
	for _, n := range []string{"x", "y"} {
		if _, _, err := c.enqueue([]byte(n), false); err != nil {
			t.Fatal(err)
		}
	}
	close(f.gate)
	for name, r := range collect(t, durable, 1) {
		if r.err == nil {
			t.Errorf("%s: no error from a failed write", name)
		}
	}
	collect(t, first, 1)
	closeCommitter(t, c)
	if got := lost.count(); got != 2 {
		t.Errorf("async entries reported lost = %d, want 2", got)
	}
}

// TestCommitterFullBatchSkipsPacing: a full batch is written at once,
// however recently the previous one started; a partial one waits its turn.
func TestCommitterFullBatchSkipsPacing(t *testing.T) {
	f := newFakeSequencer()
	f.gate = make(chan struct{})
	c := newCommitter(f.add, 2, 100, time.Hour, (&asyncFailure{}).record, probing{})
	first := appendAll(t, c, "a") // the log is idle: written at once
	<-f.sealed
	full := appendAll(t, c, "b", "c")
	partial := appendAll(t, c, "d")
	close(f.gate)
	collect(t, first, 1)
	collect(t, full, 2) // within the hour's pacing: only because it is full
	select {
	case r := <-partial:
		t.Fatalf("a partial batch skipped the pacing: %+v", r)
	case <-time.After(100 * time.Millisecond):
	}
	closeCommitter(t, c) // close does not wait for the pacing
	collect(t, partial, 1)
	want := [][]string{{"a"}, {"b", "c"}, {"d"}}
	if w := f.snapshot(); !slices.EqualFunc(w, want, slices.Equal) {
		t.Errorf("writes = %v, want %v", w, want)
	}
}
