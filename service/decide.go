package service

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/google/uuid"

	"github.com/ageassure/ageassure/policy"
	"github.com/ageassure/ageassure/service/logentry"
)

// CheckResponse is the 200 body of POST /v1/age-checks.
type CheckResponse struct {
	DecisionID     string          `json:"decision_id"`
	Decision       policy.Decision `json:"decision"`
	AgeBand        policy.Band     `json:"age_band"`
	AgeEqualOrOver thresholdSet    `json:"age_equal_or_over"`
	Assurance      Assurance       `json:"assurance"`
	Reasons        []Reason        `json:"reasons"`
	Obligations    []string        `json:"obligations"`
	Jurisdiction   string          `json:"jurisdiction"`
	Policy         PolicyRef       `json:"policy"`
	Attestation    string          `json:"attestation"`
	ExpiresAt      string          `json:"expires_at"`
	// LogIndex is the decision's index in the decision log, once known
	// (always, in the default durable mode).
	LogIndex *uint64 `json:"log_index,omitempty"`
}

// Reason is one policy rule that fired, with the decision it asked for and
// where the rule comes from in law — or a note from the service itself
// (ReasonAssuranceReused), which asks for no decision.
type Reason struct {
	Rule     string          `json:"rule"`
	Decision policy.Decision `json:"decision,omitempty"`
	Message  string          `json:"message"`
	Citation string          `json:"citation,omitempty"`
}

// PolicyRef names the policy that decided, so a decision can be traced to
// the exact rules in force.
type PolicyRef struct {
	ID   string `json:"id"`
	Hash string `json:"hash"`
}

// selfDeclared is the assurance of a declaration with no evidence behind it.
var selfDeclared = Assurance{Level: AssuranceAsserted, Methods: []string{MethodSelfDeclaration}}

// ReasonAssuranceReused is the reason id added when a subject's earlier,
// stronger assurance decides instead of this request's declaration.
const ReasonAssuranceReused = "service.assurance-reused"

// decide runs one age check for tenant: validate, reduce to derived values,
// look up what is remembered (device, subject, cached decision), evaluate,
// remember, sign. The request body and everything identifying in it are
// dropped when it returns.
func (s *Service) decide(ctx context.Context, tenant Tenant, body []byte) (*CheckResponse, error) {
	pol := s.policy.Load()
	now := s.now()
	chk, err := decodeCheck(body, pol, now)
	if err != nil {
		return nil, err
	}
	today := pol.Today(chk.jurisdiction, now)

	in := policy.Input{
		Jurisdiction: chk.jurisdiction,
		Stage:        chk.stage,
		Age:          chk.age,
		Signals:      chk.signals,
		Now:          now,
	}
	assurance := selfDeclared
	var reused *Reason

	var deviceKey, subjectKey string
	if chk.deviceRef != "" {
		deviceKey = s.keyRef(tenant.ID, "device", chk.deviceRef)
		age, ok, err := s.devices.LowestDeclaredAge(ctx, deviceKey)
		if err != nil {
			// Without the memory the check is weaker, not wrong: the rest of
			// the policy still applies. Counted so operators see it.
			s.metrics.deviceErrors.Inc()
			s.log.LogAttrs(ctx, slog.LevelDebug, "device memory read failed", slog.Any("error", err))
		} else if ok {
			in.DeviceHistory, in.DeviceMinAge = true, age
		}
	}
	if chk.subjectRef != "" {
		subjectKey = nsSubject + s.keyRef(tenant.ID, "subject", chk.subjectRef)
		if rec, ok := s.loadSubject(ctx, subjectKey, today); ok && assuranceRank(rec.Level) > assuranceRank(assurance.Level) {
			// Stronger earlier assurance outranks this declaration, in both
			// directions: a verified 14-year-old declaring 25 is still 14.
			in.Age = rec.Age
			assurance = Assurance{Level: rec.Level, Methods: rec.Methods}
			reused = &Reason{
				Rule:     ReasonAssuranceReused,
				Message:  "Earlier " + rec.Level + " assurance for this account was re-used; it stays valid until " + orNever(rec.ReassessAt) + ".",
				Citation: "ageassure re-use of assurance (IEEE 2089.1)",
			}
		}
	}

	dkey := s.decisionKey(tenant.ID, pol, &in, today, assurance)
	res, hit := s.lookupDecision(ctx, dkey, pol, &in)
	if !hit {
		res = pol.Evaluate(in)
		for _, e := range res.EvalErrors {
			s.metrics.evalErrors.Inc()
			s.log.LogAttrs(ctx, slog.LevelError, "policy rule failed; treated as requiring verification",
				slog.String("policy", pol.Hash()), slog.Any("error", e))
		}
		if cacheable(&res) {
			s.storeDecision(ctx, dkey, &res)
		}
	}

	if deviceKey != "" {
		if err := s.devices.RecordDeclaredAge(ctx, deviceKey, chk.age, pol.AntiHoppingWindow()); err != nil {
			s.metrics.deviceErrors.Inc()
			s.log.LogAttrs(ctx, slog.LevelDebug, "device memory write failed", slog.Any("error", err))
		}
	}
	if subjectKey != "" && reused == nil {
		due := reassessAt(pol.KnownAges(), chk.age, chk.birthDate, today)
		rec := subjectRecord{Age: chk.age, Band: string(policy.BandOf(chk.age)), Level: assurance.Level, Methods: assurance.Methods}
		var expires time.Time
		if due != (policy.Date{}) {
			rec.ReassessAt = due.String()
			expires = due.Time(pol.Location(chk.jurisdiction))
		}
		s.storeSubject(ctx, subjectKey, rec, expires, now)
	}

	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("decision id: %w", err)
	}
	decisionID := id.String()
	iat := now.Truncate(time.Second)
	exp := iat.Add(s.ttl)
	thresholds := thresholdSet(res.Thresholds)
	claims := attestationClaims{
		Issuer:         s.issuer,
		Audience:       tenant.ID,
		IssuedAt:       iat.Unix(),
		Expires:        exp.Unix(),
		ID:             decisionID,
		Nonce:          chk.nonce,
		Decision:       res.Decision,
		AgeBand:        res.Band,
		AgeEqualOrOver: thresholds,
		Assurance:      assurance,
		Jurisdiction:   chk.jurisdiction,
		Policy:         pol.Hash(),
	}
	payload, err := json.Marshal(&claims)
	if err != nil {
		return nil, fmt.Errorf("encoding attestation claims: %w", err)
	}
	token, err := s.signer.Sign(payload)
	if err != nil {
		return nil, fmt.Errorf("signing attestation: %w", err)
	}

	reasons := make([]Reason, 0, len(res.Reasons)+1)
	if reused != nil {
		reasons = append(reasons, *reused)
	}
	for _, r := range res.Reasons {
		reasons = append(reasons, Reason{Rule: r.Rule, Decision: r.Decision, Message: r.Message, Citation: r.Citation})
	}
	rules := make([]string, len(reasons))
	for i, r := range reasons {
		rules[i] = r.Rule
	}
	logIndex, err := s.logDecision(ctx, &decisionRecord{
		id: decisionID, at: iat, tenant: tenant.ID, in: &in, res: &res, rules: rules,
		evidence:  []logentry.EvidenceOutcome{{Type: MethodSelfDeclaration, Outcome: logentry.OutcomeAccepted}},
		assurance: assurance, pol: pol, token: token,
	})
	if err != nil {
		return nil, err
	}
	s.metrics.decisions.WithLabelValues(string(res.Decision), s.jurisdictionLabel(pol, chk.jurisdiction)).Inc()
	obligations := res.Obligations
	if obligations == nil {
		obligations = []string{}
	}
	return &CheckResponse{
		DecisionID:     decisionID,
		Decision:       res.Decision,
		AgeBand:        res.Band,
		AgeEqualOrOver: thresholds,
		Assurance:      assurance,
		Reasons:        reasons,
		Obligations:    obligations,
		Jurisdiction:   chk.jurisdiction,
		Policy:         PolicyRef{ID: pol.ID(), Hash: pol.Hash()},
		Attestation:    string(token),
		ExpiresAt:      exp.UTC().Format(time.RFC3339),
		LogIndex:       logIndex,
	}, nil
}

func orNever(date string) string {
	if date == "" {
		return "the configured maximum"
	}
	return date
}

// keyRef turns an opaque reference into a keyed HMAC, scoped to the tenant
// and the kind of reference, so the same string from two tenants, or used
// as a device and as a subject, never links.
func (s *Service) keyRef(tenant, kind, value string) string {
	m := hmac.New(sha256.New, s.refKey)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(tenant))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

// jurisdictionLabel bounds the metric's label set: a subdivision the
// policy has no pack for is counted under its country.
func (s *Service) jurisdictionLabel(pol *policy.Policy, code string) string {
	if len(code) > 2 && !pol.HasPack(code) {
		return code[:2]
	}
	return code
}
