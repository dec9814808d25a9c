package service

import (
	"fmt"
	"time"

	"github.com/ageassure/ageassure/policy"
	"github.com/ageassure/ageassure/service/logentry"
)

// This file is the one mapping between a decision and its log entry, in
// both directions: newLogEntry writes what the rules saw, ReplayInput gives
// it back. Keeping them side by side is what lets a test hold the
// invariant that replaying the policy that decided changes no decision.

// newLogEntry is the PII-free entry for one decision: the declared
// whole-year age and what the claims established (interval, assurance,
// contradiction), device and account history, bucketed signals, evidence
// types and outcomes, rule ids. Nothing that identifies the applicant.
func newLogEntry(d *decisionRecord) *logentry.Entry {
	fd := d.res.Fusion.Derived()
	e := &logentry.Entry{
		V:                  logentry.Version,
		DecisionID:         d.id,
		Time:               logentry.FormatTime(d.at),
		Tenant:             d.tenant,
		Jurisdiction:       d.in.Jurisdiction,
		Pack:               d.res.Pack,
		Stage:              d.in.Stage,
		Age:                d.in.Age,
		Band:               string(d.res.Band),
		Contradiction:      fd.Conflict,
		HistoryUnavailable: d.in.HistoryUnavailable,
		Verified:           fd.Verified,
		Signals:            d.in.Signals,
		Evidence:           d.evidence,
		Decision:           string(d.res.Decision),
		Rules:              d.rules,
		Assurance:          logentry.Assurance{Level: d.assurance.Level, Methods: d.assurance.Methods},
		Policy:             logentry.Policy{ID: d.pol.ID(), Hash: d.pol.Hash()},
		AttestationSHA256:  logentry.AttestationDigest(d.token),
		Shadow:             d.shadow,
	}
	if e.Signals == nil {
		e.Signals = map[string]float64{}
	}
	// The declaration alone is the interval [age, age], exact; anything
	// else is written out.
	if !fd.Exact || fd.AgeMin != d.in.Age || fd.AgeMax != d.in.Age {
		e.AgeRange = &logentry.AgeRange{Min: fd.AgeMin, Max: fd.AgeMax, Exact: fd.Exact}
	}
	if d.in.DeviceHistory {
		e.DeviceHistory = new(d.in.DeviceMinAge)
	}
	if d.in.SubjectHistory {
		e.SubjectHistory = new(d.in.SubjectMinAge)
	}
	return e
}

// ReplayInput is the policy input a logged decision was made on, for
// replaying it through a policy (`policy simulate`). The evidence itself is
// never logged: the input carries what the claims established
// (policy.Input.Fused), so the policy that decided reaches the same
// decision, and another policy sees the same age interval, assurance,
// consent and contradiction. It fails only on an entry whose time cannot be
// read; call Validate first to check the rest.
func ReplayInput(e *logentry.Entry) (policy.Input, error) {
	now, err := time.Parse(time.RFC3339, e.Time)
	if err != nil {
		return policy.Input{}, fmt.Errorf("replay: entry time: %w", err)
	}
	in := policy.Input{
		Jurisdiction: e.Jurisdiction, Stage: e.Stage, Age: e.Age, Signals: e.Signals, Now: now,
		Fused: &policy.Fused{
			AgeMin: e.Age, AgeMax: e.Age, Exact: true,
			Level: e.Assurance.Level, Methods: e.Assurance.Methods,
			Conflict: e.Contradiction, Verified: e.Verified,
		},
	}
	if r := e.AgeRange; r != nil {
		in.Fused.AgeMin, in.Fused.AgeMax, in.Fused.Exact = r.Min, r.Max, r.Exact
	}
	for _, ev := range e.Evidence {
		if ev.Type == logentry.EvidenceParentalConsent && ev.Outcome == logentry.OutcomeAccepted {
			in.Fused.Consent = true // an accepted consent is always a yes
		}
	}
	if e.DeviceHistory != nil {
		in.DeviceHistory, in.DeviceMinAge = true, *e.DeviceHistory
	}
	if e.SubjectHistory != nil {
		in.SubjectHistory, in.SubjectMinAge = true, *e.SubjectHistory
	}
	in.HistoryUnavailable = e.HistoryUnavailable
	return in, nil
}
