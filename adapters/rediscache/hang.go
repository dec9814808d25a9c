package rediscache

import (
	"context"
	"errors"
	"net"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// Hangs. A Redis that is stopped (SIGSTOP, a stuck host, a partition that
// keeps connections open) answers nothing at all: every round trip waits
// out the Timeout. The breaker counts failed calls, but under load few
// calls fail in a way it may count: most queue for a shared pipeline
// behind the two in flight and give up there, and a caller that gives up
// while queued is not counted (see notCounted), because that is also what
// queued callers do on a busy but healthy Redis. At 40 checks/s every
// check queued, waited out the Timeout twice, and the breaker stayed
// closed.
//
// What tells a hung Redis from a busy one is not how long a caller waited
// but whether Redis answers anything: a busy Redis answers every pipeline,
// if late for the callers queued behind it; a hung one answers nothing.
// So the Store counts the round trips Redis answers (hangWatch), and a
// round trip that waits out its own Timeout (not a caller's shorter
// deadline), shared pipelines included, with no answer to anyone
// meanwhile makes it suspect a hang. The prober then confirms with pings
// of its own (confirmHang): each ping that also waits out the Timeout
// while nothing else is answered counts as one failure. A hung Redis thus
// opens the breaker within about ConsecutiveFailures × Timeout of the
// first timed-out round trip (half a second by default), at any load: as
// a lone caller's failures in a row would. A ping that is answered, or an
// answer to anything else meanwhile, ends the check and counts nothing: a
// busy Redis never gets further, and a Redis that answers pings but fails
// calls opens the breaker by the calls' own failures, as before.

// hangWatch notices a Redis that answers nothing. It is safe for
// concurrent use.
type hangWatch struct {
	answers atomic.Uint64 // round trips Redis answered, since the start
	suspect chan struct{} // a hang is suspected: wakes the prober
}

func newHangWatch() *hangWatch { return &hangWatch{suspect: make(chan struct{}, 1)} }

// mark is taken when a round trip starts and passed to silentSince or
// ownTimeout when it ends.
func (w *hangWatch) mark() uint64 { return w.answers.Load() }

// answered records that Redis answered a round trip.
func (w *hangWatch) answered() { w.answers.Add(1) }

// silentSince reports whether Redis has answered no round trip since m.
func (w *hangWatch) silentSince(m uint64) bool { return w.answers.Load() == m }

// ended records the end of a round trip that started at mark m. Only pass
// an error the round trip met on its own deadline or connection, not one
// from the deadline of a caller who gave up first.
func (w *hangWatch) ended(m uint64, err error) {
	switch {
	case answeredErr(err):
		w.answered()
	case isTimeout(err) && w.silentSince(m):
		select {
		case w.suspect <- struct{}{}:
		default: // the prober has been told already
		}
	}
}

// answeredErr reports whether err (nil included) means Redis answered:
// nothing went wrong, or Redis replied with an error of its own.
func answeredErr(err error) bool {
	var reply redis.Error
	return err == nil || errors.As(err, &reply)
}

// isTimeout reports whether err is a deadline passing: what waiting on a
// Redis that does not answer ends with, including waiting for a
// connection that round trips to it hold.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, redis.ErrPoolTimeout) ||
		errors.As(err, &ne) && ne.Timeout()
}

// errNotHung excludes from the breaker's counts a confirming ping that
// showed Redis answering.
var errNotHung = errors.New("redis answered: not hung")

// confirmHang pings Redis while the breaker is closed, each ping bounded
// by Timeout, and counts each ping that times out while Redis answers
// nothing else as a failure, until the breaker opens. A ping that is
// answered, a ping that fails otherwise, or any answer to another round
// trip meanwhile ends it without counting a success: a Redis that answers
// a ping may still be failing the calls, and those count for themselves.
// It runs on the prober's goroutine.
func (s *Store) confirmHang() {
	for s.cb.State() == gobreaker.StateClosed {
		select {
		case <-s.closing:
			return
		default:
		}
		m := s.watch.mark()
		done, err := s.cb.Allow()
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		err = s.client.Ping(ctx).Err()
		cancel()
		if answeredErr(err) {
			s.watch.answered()
		}
		if !isTimeout(err) || !s.watch.silentSince(m) {
			done(notCounted{errNotHung})
			return
		}
		s.metrics.op(opPing, resultError)
		done(err)
	}
}
