package decisionlog

import (
	"context"
	"sync"
	"time"

	"github.com/transparency-dev/tessera"
)

// tesseraLinger is the batch age handed to Tessera's own queue. The
// committer adds a whole group in one burst, so Tessera needs only long
// enough to see the burst complete; anything longer is latency added to
// every batch. A burst that is preempted past it is split into two
// batches, which costs a second write but stays correct.
const tesseraLinger = 500 * time.Microsecond

// committer does group commit in front of Tessera's sequencer. Tessera
// cuts a batch every BatchMaxAge whatever is in flight, and writes batches
// one at a time; when one write takes longer than that age, batches queue
// up behind it, each small and each paying the full cost of its files and
// fsyncs, and throughput collapses (measured: ~4,000/s at 5 ms). The
// committer instead keeps exactly one batch in flight: entries that arrive
// while it is written wait together and go out as the next batch. At low
// load an entry is written at once; under load batches grow with the rate,
// so the per-batch cost (files, fsyncs: the largest CPU cost of a decision
// on a cloud disk) is shared by more decisions. interval sets the shortest
// time between batch starts, bounding batches per second, except that a
// full batch goes at once: pacing would only cap throughput at
// maxSize/interval.
type committer struct {
	add        func(context.Context, *tessera.Entry) tessera.IndexFuture
	maxSize    int                    // most entries in one batch
	maxPending int                    // most entries waiting; beyond, Append fails fast
	interval   time.Duration          // shortest time between two batch starts
	onAsyncErr func(n int, err error) // n entries of a failed batch that nobody waits for (async)
	probe      probing

	mu      sync.Mutex
	queue   []*group // waiting groups, oldest first; each at most maxSize
	pending int      // entries in queue
	stopped bool
	state   string // StateOK, or why entries are refused (see health.go)
	cause   error  // what put the log in state
	strikes int    // failed probes and batches in a row: sets the retry wait

	kick chan struct{} // capacity 1: work is waiting
	stop chan struct{} // closed by close: write what waits, then exit
	done chan struct{} // closed when run returns
}

// probing configures the committer's guard. With check nil (the grouping
// tests' fake sequencer) the committer never probes and is always healthy.
type probing struct {
	// check probes the folder (see guard.check); quick before each
	// batch and every idle interval, thorough while entries are refused.
	check    func(thorough bool) error
	idle     time.Duration
	retryMin time.Duration
	retryMax time.Duration
	// onChange is told of each change of state, for the operator's log.
	onChange func(from, to string, cause error)
}

// group is one batch: its entries, and once written their indexes or the
// error, published by closing done.
type group struct {
	entries [][]byte
	waited  int // entries whose caller waits (durable); the rest are async
	indexes []uint64
	err     error
	done    chan struct{}
}

// newCommitter starts the committer's goroutine; stop it with close.
func newCommitter(add func(context.Context, *tessera.Entry) tessera.IndexFuture, maxSize, maxPending int, interval time.Duration, onAsyncErr func(n int, err error), probe probing) *committer {
	c := &committer{
		add: add, maxSize: maxSize, maxPending: maxPending, interval: interval, onAsyncErr: onAsyncErr,
		probe: probe,
		state: StateOK,
		kick:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go c.run()
	return c
}

// enqueue adds one encoded entry to the next batch and returns the group
// and the entry's position in it. wait says the caller will wait for the
// result (durable mode). It fails with ErrClosed after close, with
// ErrUnavailable while the log cannot write (nothing is queued that could
// not be written), and with ErrOverloaded when maxPending entries already
// wait: the disk is not keeping up, and queueing more would only turn into
// timeouts.
func (c *committer) enqueue(b []byte, wait bool) (*group, int, error) {
	c.mu.Lock()
	switch {
	case c.stopped:
		c.mu.Unlock()
		return nil, 0, ErrClosed
	case c.state != StateOK:
		err := &unavailableError{state: c.state, cause: c.cause}
		c.mu.Unlock()
		return nil, 0, err
	case c.pending >= c.maxPending:
		c.mu.Unlock()
		return nil, 0, ErrOverloaded
	}
	var g *group
	if n := len(c.queue); n > 0 && len(c.queue[n-1].entries) < c.maxSize {
		g = c.queue[n-1]
	} else {
		g = &group{entries: make([][]byte, 0, min(c.maxSize, 64)), done: make(chan struct{})}
		c.queue = append(c.queue, g)
	}
	pos := len(g.entries)
	g.entries = append(g.entries, b)
	if wait {
		g.waited++
	}
	c.pending++
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return g, pos, nil
}

// result waits for g to be written and returns the index of its entry at
// pos.
func (g *group) result(pos int) (uint64, error) {
	<-g.done
	if g.err != nil {
		return 0, g.err
	}
	return g.indexes[pos], nil
}

// run writes groups one at a time until stopped, then writes whatever is
// still queued. While the log cannot write it writes nothing and probes
// with backoff instead, until the folder can be written again.
func (c *committer) run() {
	defer close(c.done)
	var last time.Time // when the previous batch started
	pace := time.NewTimer(time.Hour)
	pace.Stop()
	var idle <-chan time.Time
	if c.probe.check != nil {
		t := time.NewTicker(c.probe.idle)
		defer t.Stop()
		idle = t.C
	}
	for {
		if !c.healthy() {
			if !c.awaitRecovery() {
				return
			}
			continue
		}
		select {
		case <-c.kick:
		case <-idle:
			c.check(false, nil)
			continue
		case <-c.stop:
			for c.writeNext() {
			}
			c.failQueued()
			return
		}
		for {
			// A full batch waiting gains nothing from pacing: it cannot grow.
			if wait := c.interval - time.Since(last); wait > 0 && !c.fullBatchWaiting() {
				pace.Reset(wait)
				select {
				case <-pace.C:
				case <-c.stop:
					pace.Stop()
				}
			}
			last = time.Now()
			if !c.writeNext() {
				break
			}
		}
	}
}

// awaitRecovery waits out the retry delay while the log refuses entries, then
// probes thoroughly; once healthy, it kicks the loop so entries kept
// queued (async ones, see setState) are written. On close it probes once
// more, writes what it can and fails the rest. It reports false when the
// committer is stopped.
func (c *committer) awaitRecovery() bool {
	c.mu.Lock()
	wait := c.probe.retryMin << min(max(c.strikes-1, 0), 16)
	c.mu.Unlock()
	wait = min(wait, c.probe.retryMax)
	t := time.NewTimer(wait)
	select {
	case <-t.C:
		if c.check(true, nil) {
			select {
			case c.kick <- struct{}{}:
			default:
			}
		}
		return true
	case <-c.stop:
		t.Stop()
		if c.check(true, nil) {
			for c.writeNext() {
			}
		}
		c.failQueued()
		return false
	}
}

// healthy reports whether the log accepts entries.
func (c *committer) healthy() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == StateOK
}

// health is the committer's state (see Log.Health).
func (c *committer) health() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// check probes the folder and records the outcome; batchErr, when set,
// is a batch that just failed, so a passing probe still leaves the log
// StateFailing for one retry delay. It reports whether the log accepts
// entries. Without a probe it changes nothing.
func (c *committer) check(thorough bool, batchErr error) bool {
	if c.probe.check == nil {
		return true
	}
	err := c.probe.check(thorough)
	switch {
	case err != nil:
		c.setState(classify(err), err)
	case batchErr != nil:
		c.setState(StateFailing, batchErr)
	default:
		c.setState(StateOK, nil)
	}
	return err == nil && batchErr == nil
}

// setState records the log's state. Entering a refusing state it fails
// every queued group with a caller waiting (durable): they are answered
// now, not when the folder is back. Groups nobody waits for (async: their
// decisions were already answered) stay queued, to be written once the
// log recovers, or failed and counted at close if it does not.
func (c *committer) setState(state string, cause error) {
	c.mu.Lock()
	from := c.state
	c.state, c.cause = state, cause
	var failed []*group
	if state != StateOK {
		c.strikes++
		kept := c.queue[:0]
		for _, g := range c.queue {
			if g.waited > 0 {
				failed = append(failed, g)
				c.pending -= len(g.entries)
			} else {
				kept = append(kept, g)
			}
		}
		clear(c.queue[len(kept):])
		c.queue = kept
	}
	c.mu.Unlock()
	for _, g := range failed {
		c.fail(g, &unavailableError{state: state, cause: cause})
	}
	if from != state && c.probe.onChange != nil {
		c.probe.onChange(from, state, cause)
	}
}

// failQueued fails every group still queued when the committer stops: the
// log could not write them.
func (c *committer) failQueued() {
	c.mu.Lock()
	queue := c.queue
	c.queue, c.pending = nil, 0
	err := error(&unavailableError{state: c.state, cause: c.cause})
	if c.state == StateOK {
		err = ErrClosed
	}
	c.mu.Unlock()
	for _, g := range queue {
		c.fail(g, err)
	}
}

// fail publishes err as the outcome of every entry of g.
func (c *committer) fail(g *group, err error) {
	g.err = err
	if g.waited < len(g.entries) {
		c.onAsyncErr(len(g.entries)-g.waited, err)
	}
	close(g.done)
}

// fullBatchWaiting reports whether the oldest waiting group is full.
func (c *committer) fullBatchWaiting() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue) > 0 && len(c.queue[0].entries) >= c.maxSize
}

// writeNext takes the oldest group, hands its entries to Tessera in one
// burst and waits for all of them to be sequenced. It probes the folder
// first and leaves the group queued if the log cannot write; after a
// failed batch it probes thoroughly. It reports false when nothing was
// queued or the log refuses entries.
func (c *committer) writeNext() bool {
	c.mu.Lock()
	empty := len(c.queue) == 0
	c.mu.Unlock()
	if empty || !c.check(false, nil) {
		return false
	}
	c.mu.Lock()
	if len(c.queue) == 0 {
		c.mu.Unlock()
		return false
	}
	g := c.queue[0]
	c.queue[0] = nil
	c.queue = c.queue[1:]
	c.pending -= len(g.entries)
	c.mu.Unlock()

	// The entries must reach Tessera even if every waiting request has
	// gone: they were answered (async) or are about to be.
	ctx := context.Background()
	futures := make([]tessera.IndexFuture, len(g.entries))
	for i, b := range g.entries {
		futures[i] = c.add(ctx, tessera.NewEntry(b))
	}
	g.indexes = make([]uint64, len(futures))
	for i, f := range futures {
		idx, err := f()
		if err != nil {
			g.err = err
			continue
		}
		g.indexes[i] = idx.Index
	}
	if g.err != nil && g.waited < len(g.entries) {
		c.onAsyncErr(len(g.entries)-g.waited, g.err)
	}
	close(g.done)
	if g.err != nil {
		return c.check(true, g.err)
	}
	c.mu.Lock()
	c.strikes = 0
	c.mu.Unlock()
	return true
}

// close stops accepting entries, writes every queued one and waits for the
// committer to finish, or for ctx.
func (c *committer) close(ctx context.Context) error {
	c.mu.Lock()
	already := c.stopped
	c.stopped = true
	c.mu.Unlock()
	if !already {
		close(c.stop)
	}
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
