package service

import (
	"context"
	"log/slog"

	"github.com/ageassure/ageassure/policy"
	"github.com/ageassure/ageassure/service/logentry"
)

// evaluateShadow runs the shadow policy, if any, on the same input as the
// active one. The caller's answer never depends on it; disagreements are
// counted by from→to and marked in the decision log, so a candidate can be
// judged on live traffic before it is made active.
func (s *Service) evaluateShadow(ctx context.Context, in *policy.Input, active policy.Decision) *logentry.ShadowOutcome {
	sp := s.shadow.Load()
	if sp == nil {
		return nil
	}
	res := sp.Evaluate(*in)
	for _, e := range res.EvalErrors {
		s.log.LogAttrs(ctx, slog.LevelDebug, "shadow policy rule failed", slog.String("policy", sp.Hash()), slog.Any("error", e))
	}
	if res.Decision == active {
		s.metrics.shadowAgree.Inc()
	} else {
		s.metrics.shadowDisagree.WithLabelValues(string(active), string(res.Decision)).Inc()
	}
	return &logentry.ShadowOutcome{PolicyHash: sp.Hash(), Decision: string(res.Decision)}
}
