package service

import (
	"context"
	"net/http"
	"time"

	"golang.org/x/sync/semaphore"
)

// Defaults for admission control.
const (
	// DefaultMaxInFlight bounds the checks being decided at once. A check
	// is mostly CPU (decoding, policy, signing) with two short Redis round
	// trips; more concurrent checks than a few dozen per core add no
	// throughput, only a longer run queue. And a long run queue is what
	// turns an overload into an outage: every goroutine waits its turn for
	// a CPU, Redis answers in microseconds but its reader is scheduled
	// only after its timeout, and the circuit breaker opens on a healthy
	// Redis. Measured on 2 cores at 8,000 checks/s offered: unbounded, the
	// breaker opened within a second; bounded, it stayed closed.
	DefaultMaxInFlight = 64
	// DefaultQueueTimeout is how long a check waits for a slot before it
	// is refused with 503 overloaded: long enough to ride out a burst,
	// short enough that a platform's signup does not hang on a service
	// that is behind.
	DefaultQueueTimeout = time.Second
)

// admission bounds the checks in flight; waiting checks queue in arrival
// order (semaphore.Weighted is FIFO).
type admission struct {
	slots   *semaphore.Weighted
	timeout time.Duration
}

// newAdmission takes the options as given; zero means the default.
func newAdmission(maxInFlight int, timeout time.Duration) *admission {
	if maxInFlight == 0 {
		maxInFlight = DefaultMaxInFlight
	}
	if timeout == 0 {
		timeout = DefaultQueueTimeout
	}
	return &admission{slots: semaphore.NewWeighted(int64(maxInFlight)), timeout: timeout}
}

// acquire waits for a slot, at most the queue timeout. The caller must
// release it once its CPU work is done. A check that gets no slot (the
// timeout, or its caller gone) is refused with 503 overloaded: nothing has
// been read, written or decided for it.
func (s *Service) acquire(ctx context.Context) error {
	start := time.Now()
	if s.admission.slots.TryAcquire(1) {
		s.metrics.admissionWait.Observe(0)
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, s.admission.timeout)
	err := s.admission.slots.Acquire(wctx, 1)
	cancel()
	s.metrics.admissionWait.Observe(time.Since(start).Seconds())
	if err != nil {
		s.metrics.overloaded.Inc()
		p := newProblem(http.StatusServiceUnavailable, CodeOverloaded, "Service overloaded",
			"The service is handling as many checks as it can; retry after the number of seconds in Retry-After")
		p.retryAfter = 1
		return p
	}
	return nil
}

// release returns a slot taken by acquire.
func (s *Service) release() { s.admission.slots.Release(1) }
