package rediscache

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Shared pipelines. Every check sends one or two small pipelines; sent one
// by one, each costs a write and a read system call in this process and
// one read event in Redis, and on a cloud VM those calls, not Redis' work,
// are most of the cost (a loopback write ~18 us of CPU). So concurrent
// callers share pipelines, as the decision log's group commit shares
// fsyncs: while sharedPipeLanes pipelines are executing, the commands that
// arrive wait and leave together in the next one. A caller that finds a
// lane free sends at once, so an idle service adds no latency; a caller's
// commands always travel together, in its order, in one pipeline.
//
// go-redis' own autopipeliner (v9.23, experimental) was measured and not
// used: its async face sends a caller's commands as they come, so a lone
// ReadBatch took two round trips instead of one, and its full-duplex face,
// which keeps a pipeline whole, is for a standalone client only and left
// Redis' CPU per check nearly unchanged (44 us against 52 us; with this
// design, 20 us: see the README's Performance section).
//
// The rate limiter does not use them: it runs before admission control,
// with as many callers as the clients send, and on these shared pipelines
// those callers' waits pushed reads past the timeout (at 8,000/s offered
// the breaker opened: 1.45 fallbacks per request, 3,758/s); on shared
// pipelines of its own it gained nothing.
const (
	// sharedPipeLanes is how many shared pipelines may execute at once.
	// Redis runs commands one at a time, so more lanes only split the
	// waiting callers into smaller pipelines; two keep one pipeline being
	// written while the previous one's replies are read.
	sharedPipeLanes = 2
	// sharedPipeMaxCmds caps one shared pipeline so a burst cannot build a
	// pipeline whose replies outgrow the read timeout; callers past it form
	// the pipeline after.
	sharedPipeMaxCmds = 1024
)

// sharedPipe runs callers' commands in pipelines shared with concurrent
// callers. It is safe for concurrent use.
type sharedPipe struct {
	client  redis.UniversalClient
	timeout time.Duration // bounds a shared pipeline, which no caller's ctx owns
	watch   *hangWatch    // told how each shared pipeline ended

	mu      sync.Mutex
	running int          // pipelines executing, at most sharedPipeLanes
	waiting []*pipeGroup // commands waiting for a lane, oldest first
}

// pipeGroup is the commands of the callers that share one pipeline.
type pipeGroup struct {
	cmds     []redis.Cmder
	err      error         // a failure of the whole pipeline; set before done closes
	done     chan struct{} // closed once every command has its result
	reported atomic.Bool   // one caller has returned err as countable
}

// notCounted marks a caller's error that the circuit breaker must not
// count: the breaker counts Redis' failures, not the callers one failure
// reaches. A shared pipeline that fails is returned as is to one of its
// callers and as notCounted to the others; a caller that gives up while
// queued for a lane saw this process' queue, not Redis, fail. Without this,
// one slow pipeline of thirty callers opened the breaker, which needs five
// failures in a row, when the machine was busy. (Nor are the pipelines in
// the lanes a sure witness of Redis: under load the lanes pass from one
// queued group to the next, whose callers have all given up by the time
// it fails. A Redis that has stopped answering is told apart from a busy
// one by the hang watch instead: see hangWatch.)
type notCounted struct{ err error }

func (e notCounted) Error() string { return e.err.Error() }
func (e notCounted) Unwrap() error { return e.err }

func newSharedPipe(client redis.UniversalClient, timeout time.Duration, watch *hangWatch) *sharedPipe {
	return &sharedPipe{client: client, timeout: timeout, watch: watch}
}

// run executes cmds, in order and together, in a pipeline it may share with
// other callers. It returns once they have executed: each command then
// holds its own result and error, and run returns nil, or the error of a
// pipeline that failed as a whole (a connection that broke, a timeout).
// If ctx ends first run returns ctx.Err() at once; the commands may still
// be sent, and the caller must not read them. Errors the breaker must not
// count are wrapped in notCounted.
func (p *sharedPipe) run(ctx context.Context, cmds []redis.Cmder) error {
	if len(cmds) == 0 {
		return nil
	}
	p.mu.Lock()
	if p.running < sharedPipeLanes {
		p.running++
		p.mu.Unlock()
		err := p.exec(ctx, cmds)
		p.next()
		return err
	}
	var g *pipeGroup
	if n := len(p.waiting); n > 0 && len(p.waiting[n-1].cmds)+len(cmds) <= sharedPipeMaxCmds {
		g = p.waiting[n-1]
	} else {
		g = &pipeGroup{done: make(chan struct{})}
		p.waiting = append(p.waiting, g)
	}
	g.cmds = append(g.cmds, cmds...)
	p.mu.Unlock()
	select {
	case <-g.done:
		if g.err == nil || g.reported.CompareAndSwap(false, true) {
			return g.err
		}
		return notCounted{g.err}
	case <-ctx.Done():
		return notCounted{ctx.Err()}
	}
}

// next hands the lane just freed to the oldest waiting group, or frees it.
func (p *sharedPipe) next() {
	p.mu.Lock()
	if len(p.waiting) == 0 {
		p.running--
		p.mu.Unlock()
		return
	}
	g := p.waiting[0]
	p.waiting[0] = nil
	p.waiting = p.waiting[1:]
	p.mu.Unlock()
	// Its own goroutine, so the caller whose pipeline just ended returns
	// now rather than after the next one.
	go func() {
		mark := p.watch.mark()
		ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
		g.err = p.exec(ctx, g.cmds)
		cancel()
		// Recorded here, not by its callers: they may all have given up.
		p.watch.ended(mark, g.err)
		close(g.done)
		p.next()
	}()
}

// exec sends cmds in one pipeline. Errors Redis answered for a command
// (redis.Nil, NOSCRIPT, WRONGTYPE) stay with that command, for its caller
// alone; any other error failed the pipeline, and every caller in it.
func (p *sharedPipe) exec(ctx context.Context, cmds []redis.Cmder) error {
	pipe := p.client.Pipeline()
	_ = pipe.BatchProcess(ctx, cmds...) // only queues; never fails
	_, err := pipe.Exec(ctx)
	var reply redis.Error
	if err == nil || errors.As(err, &reply) {
		return nil
	}
	return err
}

// cmdsErr is the first error Redis answered for one of cmds other than
// those in skip (nil for none), leaving out redis.Nil: a missing key is an
// answer.
func cmdsErr(cmds []redis.Cmder, skip ...redis.Cmder) error {
	for _, c := range cmds {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) && !slices.Contains(skip, c) {
			return err
		}
	}
	return nil
}
