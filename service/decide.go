package service

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/go-json-experiment/json"

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
	// Evidence reports, per evidence item sent, whether it was used and
	// why not.
	Evidence     []EvidenceResult `json:"evidence,omitempty"`
	Jurisdiction string           `json:"jurisdiction"`
	Policy       PolicyRef        `json:"policy"`
	Attestation  string           `json:"attestation"`
	ExpiresAt    string           `json:"expires_at"`
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
	// Pack is the pack that applied: the jurisdiction's own ("US-FL"),
	// its country's ("US") when it has none, or "default".
	Pack string `json:"pack,omitempty"`
}

// EvidenceVerifier checks evidence tokens (signatures, issuers, audiences,
// validity, nonce binding, single use) and reduces each item to derived
// values. It never fails: an item it cannot verify comes back with an
// unverifiable or rejected outcome and a reason, and counts as absent.
// adapters/verifier implements it.
type EvidenceVerifier interface {
	Verify(ctx context.Context, items []policy.EvidenceItem, b policy.Binding, today policy.Date) []policy.Evidence
}

// EvidenceReleaser is an EvidenceVerifier that can give back the single
// use of tokens it accepted (policy.Evidence.Spent). A check that verified
// evidence and then issues no decision — the decision log unavailable, no
// decision slot after verification, signing failed, the request cancelled,
// verification finished past the evidence budget — releases it, so the
// retry it invites is not refused as replayed. adapters/verifier implements
// it. A release that fails leaves the uses spent: the retry may find its
// evidence replayed, and nothing is ever accepted twice. A verifier without
// Release keeps every use.
type EvidenceReleaser interface {
	EvidenceVerifier
	Release(ctx context.Context, evidence []policy.Evidence) error
}

// evidenceReleaseTimeout bounds giving back the uses of a check's
// evidence: one Redis round trip per item, on an error path that is
// already late.
const evidenceReleaseTimeout = 500 * time.Millisecond

// EvidenceResult is how one evidence item of the request fared.
type EvidenceResult struct {
	Type     string `json:"type"`
	Provider string `json:"provider,omitempty"`
	Outcome  string `json:"outcome"`
	Reason   string `json:"reason,omitempty"`
}

// ReasonAssuranceReused is the reason id added when a subject's earlier,
// stronger assurance decides instead of this request's declaration.
const ReasonAssuranceReused = "service.assurance-reused"

// ReasonHistoryUnavailable is the reason id added when a device_ref or
// subject_ref was given but its shared declared-age history could not be
// read (Redis down): the policy decided knowing that (history_unavailable).
const ReasonHistoryUnavailable = "service.history-unavailable"

// reasonEvidencePrefix starts the reason id of evidence that was not used.
const reasonEvidencePrefix = "evidence."

// decide runs one age check for tenant, once admission control lets it
// (see acquire): validate, reduce to derived values,
// verify evidence, look up what is remembered (device, subject, cached
// decision), evaluate, remember, sign, log. With a Batcher the look-ups
// take one round trip (two when the device has history or the subject
// stronger earlier assurance) and remembering one more. The request body
// and everything identifying in it are dropped when it returns.
func (s *Service) decide(ctx context.Context, tenant Tenant, body []byte) (*CheckResponse, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	// The slot covers the CPU work and the Redis round trips; it is given
	// back before waiting for the decision log, which is I/O shared by the
	// whole batch and must not keep other checks from starting.
	held := true
	defer func() {
		if held {
			s.release()
		}
	}()
	pol := s.policy.Load().Policy
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
	if len(chk.evidence) > 0 && s.verifier != nil {
		// Verification waits on providers, up to the evidence budget: it
		// must not keep a decision slot from other checks meanwhile.
		held = false
		s.release()
	}
	evidence := s.verifyEvidence(ctx, chk, tenant, today)
	in.Evidence = evidence
	// Until the decision is logged, any return issues nothing: give the
	// evidence's single uses back, so that the retry a 503 invites does not
	// find its own tokens replayed. Once logged, the decision is issued and
	// the uses stay spent, whether or not the answer reaches the caller.
	issued := false
	defer func() {
		if issued {
			return
		}
		if held { // give the slot back first: the release is I/O
			held = false
			s.release()
		}
		s.releaseEvidence(ctx, evidence)
	}()
	if !held {
		if err := s.acquire(ctx); err != nil {
			return nil, err
		}
		held = true
	}

	var k keys
	if chk.deviceRef != "" {
		k.device = s.keyRef(tenant.ID, "device", chk.deviceRef)
	}
	if chk.subjectRef != "" {
		k.account = s.keyRef(tenant.ID, "account-declared", chk.subjectRef)
		k.subject = s.prefixedKeyRef(nsSubject, tenant.ID, "subject", chk.subjectRef)
	}
	if s.batch != nil {
		// The decision's key depends on what the history and subject reads
		// return. Guess the common case, a fresh device, account and
		// subject (in has none yet), and read that key in the same round
		// trip: when the real key turns out to be the guessed one, the
		// lookup below costs no round trip of its own.
		k.decision = s.decisionKey(tenant.ID, pol, &in, today)
	}
	got := s.recall(ctx, &k)
	in.DeviceHistory, in.DeviceMinAge = s.historyOf(ctx, got.device)
	in.SubjectHistory, in.SubjectMinAge = s.historyOf(ctx, got.account)
	// Fail safe: when a reference was given and its shared history could
	// not be read, "no history" is not certain, and the policy is told.
	in.HistoryUnavailable = (k.device != "" || k.account != "") &&
		(got.degraded || got.device.err != nil || got.account.err != nil)
	if in.HistoryUnavailable {
		s.metrics.historyUnavailable.Inc()
	}
	var prior *subjectRecord
	if rec, ok := s.decodeSubject(ctx, got.subject, today); ok && policy.LevelRank(rec.Level) > policy.LevelRank(policy.LevelAsserted) {
		// Earlier assurance stronger than a declaration joins the claims;
		// fusion lets it decide unless this request brings stronger
		// evidence, and flags it if the two disagree.
		prior = &rec
		in.Prior = &policy.Prior{AgeMin: rec.AgeMin, AgeMax: rec.AgeMax, Level: rec.Level, Methods: rec.Methods}
	}

	dkey := s.decisionKey(tenant.ID, pol, &in, today)
	var res policy.Result
	var hit bool
	if dkey == k.decision {
		res, hit = s.decodeDecision(ctx, got.decision, pol, &in)
	} else {
		res, hit = s.lookupDecision(ctx, dkey, pol, &in)
	}
	var writes []cacheEntry
	if !hit {
		res = pol.Evaluate(in)
		for _, e := range res.EvalErrors {
			s.metrics.evalErrors.Inc()
			s.log.LogAttrs(ctx, slog.LevelError, "policy rule failed; treated as requiring verification",
				slog.String("policy", pol.Hash()), slog.Any("error", e))
		}
		if cacheable(&res) {
			if e, ok := s.decisionEntry(ctx, dkey, &res); ok {
				writes = append(writes, e)
			}
		}
	}
	shadow := s.evaluateShadow(ctx, &in, res.Decision)
	fu := &res.Fusion
	assurance := Assurance{Level: fu.Assurance.Level, Methods: fu.Assurance.Methods, Buffer: bufferClaim(fu.Assurance.Buffers)}

	if k.subject != "" && !fu.UsedPrior {
		if e, ok := s.subjectToRemember(ctx, k.subject, pol, chk, &res, today, now); ok {
			writes = append(writes, e)
		}
	}
	var decl declaration
	if k.device != "" || k.account != "" {
		decl = declaration{keys: []string{k.device, k.account}, age: chk.age, window: pol.AntiHoppingWindow()}
	}
	s.remember(ctx, decl, writes)

	iat := now.Truncate(time.Second)
	decisionID, err := newDecisionID(iat)
	if err != nil {
		return nil, fmt.Errorf("decision id: %w", err)
	}
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

	reasons := make([]Reason, 0, len(res.Reasons)+len(evidence)+2)
	if in.HistoryUnavailable {
		reasons = append(reasons, Reason{
			Rule:     ReasonHistoryUnavailable,
			Message:  "The recent age declarations of this device or account could not be read from the shared store; the policy was told.",
			Citation: "ageassure fail-safe: an outage never yields an allow the same request with its history would not get",
		})
	}
	if fu.UsedPrior && prior != nil {
		reasons = append(reasons, Reason{
			Rule:     ReasonAssuranceReused,
			Message:  "Earlier " + prior.Level + " assurance for this account was re-used; it stays valid until " + orNever(prior.ReassessAt) + ".",
			Citation: "ageassure re-use of assurance (IEEE 2089.1)",
		})
	}
	results := make([]EvidenceResult, len(evidence))
	logged := make([]logentry.EvidenceOutcome, 0, len(evidence)+1)
	logged = append(logged, logentry.EvidenceOutcome{Type: MethodSelfDeclaration, Outcome: logentry.OutcomeAccepted})
	for i, e := range evidence {
		results[i] = EvidenceResult{Type: e.Type, Provider: e.Provider, Outcome: e.Outcome, Reason: e.Reason}
		logged = append(logged, logentry.EvidenceOutcome{Type: e.Type, Outcome: e.Outcome})
		if !e.Accepted() {
			reasons = append(reasons, Reason{
				Rule:     reasonEvidencePrefix + e.Reason,
				Message:  evidenceMessage(e),
				Citation: "ageassure evidence verification: unverifiable evidence counts as absent",
			})
		}
	}
	for _, r := range res.Reasons {
		reasons = append(reasons, Reason{Rule: r.Rule, Decision: r.Decision, Message: r.Message, Citation: r.Citation})
	}
	rules := make([]string, len(reasons))
	for i, r := range reasons {
		rules[i] = r.Rule
	}
	held = false
	s.release()
	logIndex, err := s.logDecision(ctx, &decisionRecord{
		id: decisionID, at: iat, tenant: tenant.ID, in: &in, res: &res, rules: rules,
		evidence: logged, assurance: assurance, pol: pol, token: token, shadow: shadow,
	})
	if err != nil {
		return nil, err
	}
	issued = true
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
		Evidence:       results,
		Jurisdiction:   chk.jurisdiction,
		Policy:         PolicyRef{ID: pol.ID(), Hash: pol.Hash(), Pack: res.Pack},
		Attestation:    string(token),
		ExpiresAt:      exp.UTC().Format(time.RFC3339),
		LogIndex:       logIndex,
	}, nil
}

// historyOf is a declared-age memory read as the policy sees it. A failed
// read counts as unavailable history (see Input.HistoryUnavailable) and is
// counted so operators see it.
func (s *Service) historyOf(ctx context.Context, h history) (bool, int) {
	if h.err != nil {
		s.metrics.deviceErrors.Inc()
		s.log.LogAttrs(ctx, slog.LevelDebug, "declared-age memory read failed", slog.Any("error", h.err))
		return false, 0
	}
	if !h.known {
		return false, 0
	}
	return true, h.age
}

// verifyEvidence runs the request's evidence through the verifier. Without
// one, nothing can be verified and every item counts as absent.
func (s *Service) verifyEvidence(ctx context.Context, chk *check, tenant Tenant, today policy.Date) []policy.Evidence {
	if len(chk.evidence) == 0 {
		return nil
	}
	if s.verifier == nil {
		out := make([]policy.Evidence, len(chk.evidence))
		for i, it := range chk.evidence {
			out[i] = unverifiable(it)
		}
		return out
	}
	start := time.Now()
	out := s.evidence.verify(ctx, s.verifier, chk.evidence, policy.Binding{Nonce: chk.nonce, Audience: s.issuer, Tenant: tenant.ID}, today, s.log)
	s.metrics.evidenceLatency.Observe(time.Since(start).Seconds())
	for _, e := range out {
		s.metrics.evidence.WithLabelValues(e.Type, e.Outcome, e.Reason).Inc()
	}
	return out
}

// releaseEvidence gives back the single uses the verifier spent on
// evidence of a check that issues no decision (see EvidenceReleaser). It
// runs even when ctx has ended (a cancelled request), within its own bound.
func (s *Service) releaseEvidence(ctx context.Context, evidence []policy.Evidence) {
	releaseSpent(ctx, s.verifier, evidence, s.log)
}

// releaseSpent hands the evidence v spent back to v, if v can take it.
func releaseSpent(ctx context.Context, v EvidenceVerifier, evidence []policy.Evidence, log *slog.Logger) {
	r, ok := v.(EvidenceReleaser)
	if !ok || !slices.ContainsFunc(evidence, func(e policy.Evidence) bool { return e.Spent != "" }) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), evidenceReleaseTimeout)
	defer cancel()
	if err := r.Release(ctx, evidence); err != nil {
		log.LogAttrs(ctx, slog.LevelWarn, "giving back the use of evidence of a withheld decision failed; its retry may find it replayed",
			slog.Any("error", err))
	}
}

// subjectToRemember is the entry that keeps the account's derived age
// interval and assurance until the next age that matters may be crossed.
func (s *Service) subjectToRemember(ctx context.Context, key string, pol *policy.Policy, chk *check, res *policy.Result, today policy.Date, now time.Time) (cacheEntry, bool) {
	fu := &res.Fusion
	lo, hi := fu.AgeMin, fu.AgeMax
	var birth *policy.Date
	if lo == hi && lo == chk.age && policy.LevelRank(fu.Assurance.Level) <= policy.LevelRank(policy.LevelAsserted) {
		birth = chk.birthDate // the declaration decided: its birth date gives the exact birthday
	}
	due := reassessAt(pol.KnownAges(), min(hi, MaxAge), birth, today)
	rec := subjectRecord{AgeMin: lo, AgeMax: hi, Band: string(res.Band), Level: fu.Assurance.Level, Methods: fu.Assurance.Methods}
	var expires time.Time
	if due != (policy.Date{}) {
		rec.ReassessAt = due.String()
		expires = due.Time(pol.Location(chk.jurisdiction))
	}
	return s.subjectEntry(ctx, key, rec, expires, now)
}

// evidenceMessage explains why an evidence item was not used, without
// quoting anything from it.
func evidenceMessage(e policy.Evidence) string {
	from := e.Type
	if e.Provider != "" {
		from += " from " + e.Provider
	}
	return "The " + from + " evidence was not used (" + e.Reason + "); it counts as absent."
}

// bufferClaim renders the buffers applied to an estimate as {"13": 4.1}.
func bufferClaim(b map[int]float64) map[string]float64 {
	if len(b) == 0 {
		return nil
	}
	out := make(map[string]float64, len(b))
	for t, v := range b {
		out[strconv.Itoa(t)] = v
	}
	return out
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
	return s.prefixedKeyRef("", tenant, kind, value)
}

// prefixedKeyRef is prefix + keyRef(tenant, kind, value), built with one
// allocation instead of three.
func (s *Service) prefixedKeyRef(prefix, tenant, kind, value string) string {
	k := s.getKeyHasher()
	defer s.putKeyHasher(k)
	k.buf = append(k.buf, kind...)
	k.buf = append(k.buf, 0)
	k.buf = append(k.buf, tenant...)
	k.buf = append(k.buf, 0)
	k.buf = append(k.buf, value...)
	return k.key(prefix)
}

// jurisdictionLabel bounds the metric's label set: a subdivision the
// policy has no pack for is counted under its country.
func (s *Service) jurisdictionLabel(pol *policy.Policy, code string) string {
	if len(code) > 2 && !pol.HasPack(code) {
		return code[:2]
	}
	return code
}
