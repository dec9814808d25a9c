package service

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/ageassure/ageassure/policy"
	"github.com/ageassure/ageassure/service/logentry"
)

// DecisionLog is the tamper-evident log every decision is appended to
// (adapters/decisionlog, a Tessera transparency log). Append returns once
// the entry is durably sequenced when the log is in durable mode (known is
// then true); otherwise the index may not be known yet.
type DecisionLog interface {
	Append(ctx context.Context, e *logentry.Entry) (index uint64, known bool, err error)
}

// logDecision appends the PII-free entry for one decision. The entry holds
// what a replay through another policy needs — whole-year age, band,
// device history, bucketed signals, evidence types and outcomes, rule ids —
// and nothing that identifies the applicant.
func (s *Service) logDecision(ctx context.Context, d *decisionRecord) (*uint64, error) {
	if s.decisionLog == nil {
		return nil, nil
	}
	e := newLogEntry(d)
	start := time.Now()
	idx, known, err := s.decisionLog.Append(ctx, e)
	s.metrics.logAppend.Observe(time.Since(start).Seconds())
	if err != nil {
		s.metrics.logErrors.Inc()
		s.log.LogAttrs(ctx, slog.LevelError, "decision log append failed; decision withheld", slog.Any("error", err))
		p := newProblem(http.StatusServiceUnavailable, CodeLogUnavailable, "Decision log unavailable",
			"The decision could not be recorded in the audit log, so it was not issued; retry shortly")
		p.retryAfter = 1
		return nil, fmt.Errorf("%w", p)
	}
	if !known {
		return nil, nil
	}
	return &idx, nil
}

// decisionRecord gathers what logDecision needs from decide.
type decisionRecord struct {
	id        string
	at        time.Time
	tenant    string
	in        *policy.Input
	res       *policy.Result
	rules     []string
	evidence  []logentry.EvidenceOutcome
	assurance Assurance
	pol       *policy.Policy
	token     []byte
	shadow    *logentry.ShadowOutcome
}
