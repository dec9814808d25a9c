package service

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/ageassure/ageassure/policy"
)

// Cache is the shared key–value store behind the decision cache and the
// subject records: Redis with an in-process tier in front, or in-process
// only. Keys are "<namespace>:<hex HMAC>"; values are derived data only.
type Cache interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Set(ctx context.Context, key string, val []byte, ttl time.Duration) error
}

// Key namespaces in the Cache.
const (
	nsDecision = "dc:"
	nsSubject  = "sub:"
)

// Defaults for the cache options.
const (
	DefaultDecisionCacheTTL = 10 * time.Minute
	DefaultReuseMaxAge      = 30 * 24 * time.Hour
)

// cachedDecision is a decision as kept in the cache: ids, enums and
// derived numbers only. Reason texts are rebuilt from the policy
// (ReasonFor), so an entry is ~150 bytes and carries no personal data.
type cachedDecision struct {
	_           struct{} `cbor:",toarray"`
	Decision    string
	Band        string
	Thresholds  []int
	Verdicts    []int8 // per threshold: 1 met, -1 not met, 0 unknown
	Reasons     []string
	Obligations []string
	Level       string
	Methods     []string
	Buffers     map[int]float64
	Conflict    string
	UsedPrior   bool
	AgeMin      int
	AgeMax      int
	Pack        string
}

// subjectRecord is what the service remembers about an account (by keyed
// HMAC of subject_ref) so a later check can re-use stronger assurance: the
// age interval the evidence established and when it must be re-assessed —
// never the birth date or the evidence it came from.
type subjectRecord struct {
	_       struct{} `cbor:",toarray"`
	AgeMin  int
	AgeMax  int
	Band    string
	Level   string
	Methods []string
	// ReassessAt is the first day (in the jurisdiction's calendar) on which
	// the subject may have crossed an age the policy knows.
	ReassessAt string
}

// cborEnc is deterministic (core deterministic encoding), so equal values
// always produce equal bytes.
var cborEnc, _ = cbor.CoreDetEncOptions().EncMode()

// decisionKey names a cached decision by everything the evaluation depends
// on: tenant, policy (by hash, so a new policy never hits an old decision),
// jurisdiction and its calendar date (effective dating changes at
// midnight), stage, declared age, device and account history, quantized signals, the
// re-used prior, and what each accepted piece of evidence established.
func (s *Service) decisionKey(tenant string, pol *policy.Policy, in *policy.Input, asOf policy.Date) string {
	k := s.getKeyHasher()
	defer s.putKeyHasher(k)
	k.field("decision/v3")
	k.field(tenant)
	k.field(pol.Hash())
	k.field(in.Jurisdiction)
	k.dateField(asOf)
	k.field(in.Stage)
	k.intField(in.Age)
	if in.DeviceHistory {
		k.prefixedInt("device:", in.DeviceMinAge)
	} else {
		k.field("device:none")
	}
	if in.SubjectHistory {
		k.prefixedInt("account:", in.SubjectMinAge)
	} else {
		k.field("account:none")
	}
	if in.HistoryUnavailable {
		k.field("history:unavailable")
	}
	var nameBuf [4]string // room for the known signals without allocating
	for _, name := range sortedKeys(nameBuf[:0], in.Signals) {
		k.field(name)
		k.num(in.Signals[name])
	}
	if p := in.Prior; p != nil {
		k.field("prior")
		k.rangeField("", p.AgeMin, p.AgeMax, p.Level)
		for _, meth := range p.Methods {
			k.field(meth)
		}
	}
	for i := range in.Evidence {
		e := &in.Evidence[i]
		if !e.Accepted() && !e.RestrictOnly {
			continue
		}
		k.prefixedField("evidence:", e.Type)
		if e.RestrictOnly {
			k.field("restrict-only") // its claims restrict, they do not decide
		}
		if e.Age != nil {
			k.prefixedInt("age:", *e.Age)
		}
		if e.Estimate != nil {
			k.field("estimate")
			k.num(*e.Estimate)
			k.num(e.Uncertainty)
			k.field(strconv.FormatBool(e.Liveness))
		}
		var overBuf [8]int
		for _, t := range sortedKeys(overBuf[:0], e.Over) {
			start := k.begin()
			k.buf = append(k.buf, "over:"...)
			k.buf = strconv.AppendInt(k.buf, int64(t), 10)
			k.buf = append(k.buf, '=')
			k.buf = strconv.AppendBool(k.buf, e.Over[t])
			k.end(start)
		}
		k.rangeField("range:", e.Lower, e.Upper, e.Source)
		k.field(consentField(e.Consent))
	}
	return k.key(nsDecision)
}

// sortedKeys appends m's keys to keys and sorts them. With a stack array
// behind keys, a small map costs no allocation.
func sortedKeys[K cmp.Ordered, V any](keys []K, m map[K]V) []K {
	for key := range m {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	return keys
}

// cacheable reports whether a result may be cached: fail-safe outcomes and
// rule errors are re-evaluated every time, so a fix to the cause takes
// effect at once.
func cacheable(res *policy.Result) bool {
	if len(res.EvalErrors) > 0 {
		return false
	}
	for _, r := range res.Reasons {
		if len(r.Rule) > 7 && r.Rule[:7] == "policy." {
			return false
		}
	}
	return true
}

// lookupDecision returns the cached result for key, rebuilt against pol, or
// false on a miss or anything unusable (which is then simply re-evaluated).
func (s *Service) lookupDecision(ctx context.Context, key string, pol *policy.Policy, in *policy.Input) (policy.Result, bool) {
	return s.decodeDecision(ctx, s.get(ctx, key), pol, in)
}

// decodeDecision is lookupDecision for a value already read.
func (s *Service) decodeDecision(ctx context.Context, l lookup, pol *policy.Policy, in *policy.Input) (policy.Result, bool) {
	if l.err != nil {
		s.cacheError(ctx, "decision cache read", l.err)
		return policy.Result{}, false
	}
	if !l.ok {
		s.metrics.decisionCache.WithLabelValues("miss").Inc()
		return policy.Result{}, false
	}
	var cd cachedDecision
	if err := cbor.Unmarshal(l.val, &cd); err != nil {
		s.cacheError(ctx, "decision cache entry unreadable", err)
		return policy.Result{}, false
	}
	if len(cd.Verdicts) != len(cd.Thresholds) {
		return policy.Result{}, false
	}
	res := policy.Result{
		Decision:    policy.Decision(cd.Decision),
		Band:        policy.Band(cd.Band),
		Obligations: cd.Obligations,
		Reasons:     make([]policy.Reason, 0, len(cd.Reasons)),
		Thresholds:  make([]policy.Threshold, len(cd.Thresholds)),
		Fusion: policy.Fusion{
			Assurance: policy.Assurance{Level: cd.Level, Methods: cd.Methods, Buffers: cd.Buffers},
			Conflict:  cd.Conflict,
			UsedPrior: cd.UsedPrior,
			AgeMin:    cd.AgeMin,
			AgeMax:    cd.AgeMax,
		},
		Pack: cd.Pack,
	}
	if !res.Decision.Valid() {
		return policy.Result{}, false
	}
	for _, id := range cd.Reasons {
		r, ok := pol.ReasonFor(id, in.Jurisdiction, cd.Conflict, in.Now)
		if !ok {
			return policy.Result{}, false
		}
		res.Reasons = append(res.Reasons, r)
	}
	for i, t := range cd.Thresholds {
		res.Thresholds[i] = policy.Threshold{Age: t, Met: cd.Verdicts[i] > 0, Known: cd.Verdicts[i] != 0}
	}
	s.metrics.decisionCache.WithLabelValues("hit").Inc()
	return res, true
}

// decisionEntry encodes a result for the decision cache under key; false
// if it cannot be, which only costs a future re-evaluation.
func (s *Service) decisionEntry(ctx context.Context, key string, res *policy.Result) (cacheEntry, bool) {
	fu := &res.Fusion
	cd := cachedDecision{
		Decision:    string(res.Decision),
		Band:        string(res.Band),
		Obligations: res.Obligations,
		Thresholds:  make([]int, len(res.Thresholds)),
		Verdicts:    make([]int8, len(res.Thresholds)),
		Reasons:     make([]string, len(res.Reasons)),
		Level:       fu.Assurance.Level,
		Methods:     fu.Assurance.Methods,
		Buffers:     fu.Assurance.Buffers,
		Conflict:    fu.Conflict,
		UsedPrior:   fu.UsedPrior,
		AgeMin:      fu.AgeMin,
		AgeMax:      fu.AgeMax,
		Pack:        res.Pack,
	}
	for i, r := range res.Reasons {
		cd.Reasons[i] = r.Rule
	}
	for i, t := range res.Thresholds {
		cd.Thresholds[i] = t.Age
		switch {
		case !t.Known:
		case t.Met:
			cd.Verdicts[i] = 1
		default:
			cd.Verdicts[i] = -1
		}
	}
	b, err := cborEnc.Marshal(&cd)
	if err != nil {
		s.cacheError(ctx, "decision cache write", err)
		return cacheEntry{}, false
	}
	return cacheEntry{key: key, val: b, ttl: s.decisionTTL, what: "decision cache"}, true
}

// decodeSubject returns the subject's record read in l if it is still
// valid today.
func (s *Service) decodeSubject(ctx context.Context, l lookup, today policy.Date) (subjectRecord, bool) {
	if l.err != nil {
		s.cacheError(ctx, "subject record read", l.err)
		return subjectRecord{}, false
	}
	if !l.ok {
		return subjectRecord{}, false
	}
	var rec subjectRecord
	if err := cbor.Unmarshal(l.val, &rec); err != nil {
		s.cacheError(ctx, "subject record unreadable", err)
		return subjectRecord{}, false
	}
	if rec.ReassessAt != "" {
		due, err := policy.ParseDate(rec.ReassessAt)
		if err != nil || !today.Before(due) {
			return subjectRecord{}, false
		}
	}
	return rec, true
}

// subjectEntry encodes the subject's derived age and assurance under key,
// to be kept until the next age the policy knows may have been crossed
// (expires), or the configured maximum, whichever comes first. False if
// there is nothing to keep (already expired) or it cannot be encoded.
func (s *Service) subjectEntry(ctx context.Context, key string, rec subjectRecord, expires time.Time, now time.Time) (cacheEntry, bool) {
	ttl := s.reuseMaxAge
	if !expires.IsZero() {
		ttl = min(ttl, expires.Sub(now))
	}
	if ttl <= 0 {
		return cacheEntry{}, false
	}
	b, err := cborEnc.Marshal(&rec)
	if err != nil {
		s.cacheError(ctx, "subject record write", err)
		return cacheEntry{}, false
	}
	return cacheEntry{key: key, val: b, ttl: ttl, what: "subject record"}, true
}

// reassessAt is the first date on which someone of age (as of today) may be
// past the next age the policy knows; for an interval, pass its upper end. With a birth date it is exact: the
// birthday on which they reach that age. With only a declared age it is the
// earliest date that is possible — the day after today for the very next
// year of age — so re-use never outlives what the declaration proves. The
// zero Date means no further age matters.
func reassessAt(known []int, age int, birth *policy.Date, today policy.Date) policy.Date {
	next := -1
	for _, a := range known {
		if a > age {
			next = a
			break
		}
	}
	if next < 0 {
		return policy.Date{}
	}
	if birth != nil {
		return policy.BirthdayFor(*birth, next)
	}
	// The earliest birth date consistent with being `age` today: start a few
	// days before "age+1 years ago" and step to the first date AgeOn agrees
	// with, so leap days follow the same rule as everywhere else.
	t := today.Time(time.UTC).AddDate(-(age + 1), 0, -3)
	for i := 0; i < 8; i++ {
		b := policy.DateOf(t)
		if policy.AgeOn(b, today) == age {
			return policy.BirthdayFor(b, next)
		}
		t = t.AddDate(0, 0, 1)
	}
	return today // unreachable for valid input; re-assess at once
}

// cacheError counts a cache failure and logs it at debug level: the cache
// degrades by itself (breaker, in-process tier) and reports its own state
// changes once, so a Redis outage must not turn into a log line per request.
func (s *Service) cacheError(ctx context.Context, what string, err error) {
	s.metrics.cacheErrors.Inc()
	s.log.LogAttrs(ctx, slog.LevelDebug, what+" failed", slog.Any("error", err))
}
