package rediscache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sony/gobreaker/v2"
)

// breakerName names the breaker in logs.
const breakerName = "redis"

// newBreaker returns the circuit breaker guarding Redis, configured by bc
// and reporting transitions to onChange. It opens after
// bc.ConsecutiveFailures failures in a row, stays open for bc.OpenTimeout,
// then lets bc.HalfOpenRequests probes through: that many successes close
// it, one failure re-opens it.
func newBreaker(bc BreakerConfig, onChange func(name string, from, to gobreaker.State)) *gobreaker.TwoStepCircuitBreaker[struct{}] {
	return gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        breakerName,
		MaxRequests: bc.HalfOpenRequests,
		Timeout:     bc.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= bc.ConsecutiveFailures
		},
		// A call the caller gave up on says nothing about Redis; nor does
		// one whose shared pipeline's failure another call reports, or that
		// waited too long in this process' queue (notCounted).
		IsExcluded: func(err error) bool {
			return errors.As(err, new(callerGone)) || errors.As(err, new(notCounted))
		},
		OnStateChange: onChange,
	})
}

// callerGone marks the error of a call whose caller's context ended: it is
// excluded from the breaker's counts.
type callerGone struct{ err error }

func (e callerGone) Error() string { return e.err.Error() }
func (e callerGone) Unwrap() error { return e.err }

// callerDone reports whether the caller's context has ended, or is about to:
// a socket deadline set from the caller's deadline can fire a moment before
// the context's own timer marks it done.
func callerDone(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// errBreakerRefused is wrapped around gobreaker's refusal (open, or the
// half-open probe quota used up).
var errBreakerRefused = errors.New("circuit breaker refused the call")

// call runs fn against Redis through the breaker, with a context bounded by
// the Store's Timeout, and counts the outcome for op. fn must report a miss
// (redis.Nil) in its result, not as an error: a miss is a healthy answer.
// A non-nil error means the answer must come from the local tier.
func call[T any](s *Store, ctx context.Context, op opKind, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		s.metrics.op(op, resultError)
		return zero, err
	}
	done, err := s.cb.Allow()
	if err != nil {
		s.metrics.op(op, resultFallback)
		return zero, fmt.Errorf("rediscache: %s: %w: %w", op, errBreakerRefused, err)
	}
	mark := s.watch.mark()
	tctx, cancel := context.WithTimeout(ctx, s.timeout)
	v, err := fn(tctx)
	cancel()
	switch {
	case err != nil && callerDone(ctx):
		err = callerGone{err}
	case !errors.As(err, new(notCounted)): // a shared pipeline's end is the pipe's to record
		s.watch.ended(mark, err)
	}
	done(err)
	if err != nil {
		s.metrics.op(op, resultError)
		return zero, fmt.Errorf("rediscache: %s: %w", op, err)
	}
	return v, nil
}

// onStateChange logs each transition once and wakes the prober when the
// breaker opens. gobreaker calls it with its lock held: it must not call
// the breaker, and must not block.
func (s *Store) onStateChange(name string, from, to gobreaker.State) {
	level := slog.LevelInfo
	msg := "redis circuit breaker state changed"
	if to == gobreaker.StateOpen {
		level = slog.LevelWarn
		msg = "redis circuit breaker open: serving from process memory"
		select {
		case s.tripped <- struct{}{}:
		default: // the prober is already awake
		}
	}
	s.log.LogAttrs(context.Background(), level, msg,
		slog.String("name", name), slog.String("from", from.String()), slog.String("to", to.String()))
}

// probe runs until Close. Each time the breaker opens it waits OpenTimeout,
// then pings Redis through the breaker until it closes again, so that the
// breaker recovers by itself even when no requests arrive, and /readyz and
// the metrics reflect Redis as it is. While the breaker is closed it
// confirms or dismisses each suspected hang (confirmHang).
func (s *Store) probe() {
	defer s.wg.Done()
	step := min(max(s.openTimeout/10, 10*time.Millisecond), time.Second)
	for {
		select {
		case <-s.closing:
			return
		case <-s.watch.suspect:
			s.confirmHang() // if the breaker opened, tripped is set
			continue
		case <-s.tripped:
		}
		wait := s.openTimeout
		for s.cb.State() != gobreaker.StateClosed {
			t := time.NewTimer(wait)
			select {
			case <-s.closing:
				t.Stop()
				return
			case <-t.C:
			}
			// Refused while still open or while other probes run; failed
			// (re-opened); or succeeded, one of HalfOpenRequests needed.
			_, err := call(s, context.Background(), opPing, func(ctx context.Context) (struct{}, error) {
				return struct{}{}, s.client.Ping(ctx).Err()
			})
			if err == nil || errors.Is(err, errBreakerRefused) {
				wait = step
			} else {
				wait = s.openTimeout
			}
		}
	}
}

// State returns the breaker's state: "closed" (Redis in use), "open" (Redis
// failing, everything served from process memory) or "half-open" (probing).
func (s *Store) State() string { return s.cb.State().String() }

// Healthy reports whether Redis is in use (the breaker is closed). A
// service may show it on /readyz, but should not fail readiness on it:
// the service works without Redis.
func (s *Store) Healthy() bool { return s.cb.State() == gobreaker.StateClosed }
