package service

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/ageassure/ageassure/policy"
)

// Defaults for evidence verification.
const (
	// DefaultEvidenceBudget is how long a check may spend verifying its
	// evidence, every item together: above a provider's default key-fetch
	// timeout (2 s), well below the default write timeout (10 s), so an
	// answer is always written.
	DefaultEvidenceBudget = 3 * time.Second
	// DefaultMaxEvidenceInFlight bounds the items being verified at once.
	// An item waiting on a provider is a parked goroutine, not CPU, so the
	// bound is far above MaxInFlight; it only stops a flood of evidence from
	// hanging providers from growing without limit.
	DefaultMaxEvidenceInFlight = 1024
)

// ResponseDeadline is the longest a check can take before it is answered,
// given the options: two waits for a decision slot (before and after
// verification), the evidence budget, and a second for deciding, signing
// and the durable log. An HTTP write timeout at or below it could cut an
// answer off; serve refuses such a configuration at start-up.
func ResponseDeadline(o Options) time.Duration {
	queue, budget := o.QueueTimeout, o.EvidenceBudget
	if queue == 0 {
		queue = DefaultQueueTimeout
	}
	if budget == 0 {
		budget = DefaultEvidenceBudget
	}
	return 2*queue + budget + time.Second
}

// evidencePool verifies evidence items concurrently, under one budget per
// check and a bound across checks, holding no decision slot: a check whose
// providers hang waits on them without keeping other tenants' plain checks
// from being decided.
type evidencePool struct {
	budget time.Duration
	slots  *semaphore.Weighted
}

func newEvidencePool(budget time.Duration, maxInFlight int) *evidencePool {
	if budget == 0 {
		budget = DefaultEvidenceBudget
	}
	if maxInFlight == 0 {
		maxInFlight = DefaultMaxEvidenceInFlight
	}
	return &evidencePool{budget: budget, slots: semaphore.NewWeighted(int64(maxInFlight))}
}

// unverifiable is the result of an item that could not be checked at all
// (no verifier, no slot, the budget spent): it counts as absent.
func unverifiable(it policy.EvidenceItem) policy.Evidence {
	return policy.Evidence{Type: it.Type, Provider: it.Provider, Outcome: policy.OutcomeUnverifiable, Reason: "evidence_unverifiable"}
}

// errEvidenceBudget is the cause given to verifications cut off by the
// budget.
var errEvidenceBudget = errors.New("evidence budget spent")

// verify runs v over each item on its own goroutine, within the budget. An
// item that did not get a slot, or whose verification was still running
// when the budget ran out, is unverifiable: it counts as absent, as every
// evidence that cannot be checked does. (A verifier honours its context; a
// late result is dropped, never used, and any token use it spent is given
// back, since no decision rests on it.)
func (p *evidencePool) verify(ctx context.Context, v EvidenceVerifier, items []policy.EvidenceItem, b policy.Binding, today policy.Date, log *slog.Logger) []policy.Evidence {
	ctx, cancel := context.WithTimeoutCause(ctx, p.budget, errEvidenceBudget)
	defer cancel()
	out := make([]policy.Evidence, len(items))
	done := make([]bool, len(items))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range items {
		if err := p.slots.Acquire(ctx, 1); err != nil {
			break // the budget ran out waiting: this item and the rest are absent
		}
		wg.Go(func() {
			defer p.slots.Release(1)
			ev := v.Verify(ctx, items[i:i+1], b, today)
			mu.Lock()
			used := len(ev) == 1 && ctx.Err() == nil
			if used {
				out[i], done[i] = ev[0], true
			}
			mu.Unlock()
			if !used {
				releaseSpent(ctx, v, ev, log)
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-ctx.Done():
	}
	mu.Lock()
	defer mu.Unlock()
	for i, it := range items {
		if !done[i] {
			out[i] = unverifiable(it)
		}
	}
	return out
}
