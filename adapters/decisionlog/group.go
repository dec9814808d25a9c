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

	mu      sync.Mutex
	queue   []*group // waiting groups, oldest first; each at most maxSize
	pending int      // entries in queue
	stopped bool

	kick chan struct{} // capacity 1: work is waiting
	stop chan struct{} // closed by close: write what waits, then exit
	done chan struct{} // closed when run returns
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
func newCommitter(add func(context.Context, *tessera.Entry) tessera.IndexFuture, maxSize, maxPending int, interval time.Duration, onAsyncErr func(n int, err error)) *committer {
	c := &committer{
		add: add, maxSize: maxSize, maxPending: maxPending, interval: interval, onAsyncErr: onAsyncErr,
		kick: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go c.run()
	return c
}

// enqueue adds one encoded entry to the next batch and returns the group
// and the entry's position in it. wait says the caller will wait for the
// result (durable mode). It fails with ErrClosed after close, and with
// ErrOverloaded when maxPending entries already wait: the disk is not
// keeping up, and queueing more would only turn into timeouts.
func (c *committer) enqueue(b []byte, wait bool) (*group, int, error) {
	c.mu.Lock()
	switch {
	case c.stopped:
		c.mu.Unlock()
		return nil, 0, ErrClosed
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
// still queued.
func (c *committer) run() {
	defer close(c.done)
	var last time.Time // when the previous batch started
	pace := time.NewTimer(time.Hour)
	pace.Stop()
	for {
		select {
		case <-c.kick:
		case <-c.stop:
			for c.writeNext() {
			}
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

// fullBatchWaiting reports whether the oldest waiting group is full.
func (c *committer) fullBatchWaiting() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue) > 0 && len(c.queue[0].entries) >= c.maxSize
}

// writeNext takes the oldest group, hands its entries to Tessera in one
// burst and waits for all of them to be sequenced. It reports false when
// nothing was queued.
func (c *committer) writeNext() bool {
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
