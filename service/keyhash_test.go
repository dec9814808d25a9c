package service

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ageassure/ageassure/policy"
)

// decisionKeyOracle is decisionKey as it was written first, one Write per
// piece through a fresh HMAC. It is kept as the specification of the key:
// decisionKey must hash exactly these bytes, or every cached decision
// would be missed after an upgrade (and replicas of two versions would not
// share a cache).
func decisionKeyOracle(refKey []byte, tenant string, pol *policy.Policy, in *policy.Input, asOf policy.Date) string {
	m := hmac.New(sha256.New, refKey)
	field := func(v string) {
		writeLenOracle(m, len(v))
		m.Write([]byte(v))
	}
	num := func(f float64) {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], math.Float64bits(f))
		m.Write(b[:])
	}
	field("decision/v3")
	field(tenant)
	field(pol.Hash())
	field(in.Jurisdiction)
	field(asOf.String())
	field(in.Stage)
	field(strconv.Itoa(in.Age))
	if in.DeviceHistory {
		field("device:" + strconv.Itoa(in.DeviceMinAge))
	} else {
		field("device:none")
	}
	if in.SubjectHistory {
		field("account:" + strconv.Itoa(in.SubjectMinAge))
	} else {
		field("account:none")
	}
	if in.HistoryUnavailable {
		field("history:unavailable")
	}
	names := make([]string, 0, len(in.Signals))
	for name := range in.Signals {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		field(name)
		num(in.Signals[name])
	}
	if p := in.Prior; p != nil {
		field("prior")
		field(strconv.Itoa(p.AgeMin) + "-" + strconv.Itoa(p.AgeMax) + ":" + p.Level)
		for _, meth := range p.Methods {
			field(meth)
		}
	}
	for i := range in.Evidence {
		e := &in.Evidence[i]
		if !e.Accepted() && !e.RestrictOnly {
			continue
		}
		field("evidence:" + e.Type)
		if e.RestrictOnly {
			field("restrict-only")
		}
		if e.Age != nil {
			field("age:" + strconv.Itoa(*e.Age))
		}
		if e.Estimate != nil {
			field("estimate")
			num(*e.Estimate)
			num(e.Uncertainty)
			field(strconv.FormatBool(e.Liveness))
		}
		overs := make([]int, 0, len(e.Over))
		for t := range e.Over {
			overs = append(overs, t)
		}
		slices.Sort(overs)
		for _, t := range overs {
			field("over:" + strconv.Itoa(t) + "=" + strconv.FormatBool(e.Over[t]))
		}
		field("range:" + strconv.Itoa(e.Lower) + "-" + strconv.Itoa(e.Upper) + ":" + e.Source)
		field("consent:" + strconv.FormatBool(e.Consent))
	}
	return nsDecision + hex.EncodeToString(m.Sum(nil))
}

func writeLenOracle(h hash.Hash, n int) {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(n))
	h.Write(b[:])
}

// keyRefOracle is keyRef as it was written first.
func keyRefOracle(refKey []byte, tenant, kind, value string) string {
	m := hmac.New(sha256.New, refKey)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(tenant))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

// TestDecisionKeyMatchesOracle: decisionKey hashes the same bytes as the
// piecewise original for inputs exercising every branch, and a pooled
// hasher carries nothing from one key to the next (each case runs twice,
// interleaved with the others).
func TestDecisionKeyMatchesOracle(t *testing.T) {
	e := newTestEnv(t)
	pol := e.svc.Policy()
	age, est := 15, 14.6
	tests := []struct {
		name   string
		tenant string
		in     policy.Input
		asOf   policy.Date
	}{
		{"plain", "acme", policy.Input{Jurisdiction: "DE", Stage: "signup", Age: 14}, policy.Date{Year: 2026, Month: 11, Day: 26}},
		{"signals", "acme", policy.Input{Jurisdiction: "DE", Stage: "signup", Age: 14,
			Signals: map[string]float64{"underage_likelihood": 0.31, "user_reports": 1}}, policy.Date{Year: 2026, Month: 1, Day: 2}},
		{"many signals", "acme", policy.Input{Jurisdiction: "US-UT", Stage: "reassessment", Age: 0,
			Signals: map[string]float64{"e": 1, "d": -0.0, "c": math.Inf(1), "b": 3, "a": 1e-9, "f": 0.5}}, policy.Date{Year: 9999, Month: 12, Day: 31}},
		{"device history", "t", policy.Input{Jurisdiction: "GB", Age: 130, DeviceHistory: true, DeviceMinAge: 12}, policy.Date{Year: 1, Month: 1, Day: 1}},
		{"account history", "t", policy.Input{Jurisdiction: "DE", Age: 17, SubjectHistory: true, SubjectMinAge: 14}, policy.Date{Year: 2026, Month: 12, Day: 5}},
		{"history unavailable", "t", policy.Input{Jurisdiction: "DE", Age: 17, HistoryUnavailable: true}, policy.Date{Year: 2026, Month: 12, Day: 5}},
		{"both histories", "t", policy.Input{Jurisdiction: "DE", Age: 17, DeviceHistory: true, DeviceMinAge: 14, SubjectHistory: true, SubjectMinAge: 14}, policy.Date{Year: 2026, Month: 12, Day: 5}},
		{"odd dates", "", policy.Input{Age: -1}, policy.Date{Year: -5, Month: 0, Day: 0}},
		{"big date", "x", policy.Input{}, policy.Date{Year: 12345, Month: 123, Day: 100}},
		{"zero date", "x", policy.Input{}, policy.Date{}},
		{"prior", "acme", policy.Input{Jurisdiction: "FR", Age: 16,
			Prior: &policy.Prior{AgeMin: 16, AgeMax: 150, Level: "enhanced", Methods: []string{"id_document", "age_estimation"}}}, policy.Date{Year: 2026, Month: 2, Day: 28}},
		{"evidence", "acme", policy.Input{Jurisdiction: "DE", Age: 14, Evidence: []policy.Evidence{
			{Type: "id_document", Outcome: policy.OutcomeAccepted, Age: &age, Over: map[int]bool{18: false, 13: true, 16: false}},
			{Type: "age_estimation", Outcome: policy.OutcomeRejected, Estimate: &est},
			{Type: "id_document", Outcome: policy.OutcomeUnverifiable, Age: &age, RestrictOnly: true},
			{Type: "age_estimation", Outcome: policy.OutcomeAccepted, Estimate: &est, Uncertainty: 1.5, Liveness: true},
			{Type: "platform_age_range", Outcome: policy.OutcomeAccepted, Lower: 13, Upper: 15, Source: "verified"},
			{Type: "parental_consent", Outcome: policy.OutcomeAccepted, Consent: true,
				Over: map[int]bool{1: true, 2: true, 3: true, 4: true, 5: true, 6: true, 7: true, 8: true, 9: false, 10: true}},
		}}, policy.Date{Year: 2026, Month: 11, Day: 26}},
		{"long strings", strings.Repeat("t", 300), policy.Input{Jurisdiction: strings.Repeat("J", 70000), Stage: "\x00"}, policy.Date{Year: 2026, Month: 11, Day: 26}},
	}
	for round := range 2 {
		for _, tt := range tests {
			got := e.svc.decisionKey(tt.tenant, pol, &tt.in, tt.asOf)
			if want := decisionKeyOracle(e.svc.refKey, tt.tenant, pol, &tt.in, tt.asOf); got != want {
				t.Errorf("round %d, %s: decisionKey = %s, want %s", round, tt.name, got, want)
			}
		}
	}
}

// TestKeyRefMatchesOracle: keyRef and prefixedKeyRef hash the same bytes
// as the piecewise original, and the scratch buffer that held the raw
// reference is cleared when the hasher goes back to the pool.
func TestKeyRefMatchesOracle(t *testing.T) {
	e := newTestEnv(t)
	tests := []struct{ tenant, kind, value string }{
		{"acme", "device", "device-123"},
		{"acme", "subject", "user-42"},
		{"", "", ""},
		{"a\x00b", "device", strings.Repeat("r", MaxRefBytes)},
	}
	for round := range 2 {
		for _, tt := range tests {
			want := keyRefOracle(e.svc.refKey, tt.tenant, tt.kind, tt.value)
			if got := e.svc.keyRef(tt.tenant, tt.kind, tt.value); got != want {
				t.Errorf("round %d: keyRef(%q, %q, %q) = %s, want %s", round, tt.tenant, tt.kind, tt.value, got, want)
			}
			if got := e.svc.prefixedKeyRef(nsSubject, tt.tenant, tt.kind, tt.value); got != nsSubject+want {
				t.Errorf("round %d: prefixedKeyRef(%q, %q, %q) = %s, want %s", round, tt.tenant, tt.kind, tt.value, got, nsSubject+want)
			}
		}
	}
	k := e.svc.getKeyHasher()
	k.buf = append(k.buf, "secret-ref"...)
	scratch := k.buf[:cap(k.buf)]
	e.svc.putKeyHasher(k)
	if i := slices.IndexFunc(scratch, func(b byte) bool { return b != 0 }); i >= 0 {
		t.Errorf("pooled buffer not cleared: byte %d is %#x", i, scratch[i])
	}
}

// TestDateField: dateField writes what field(d.String()) does.
func TestDateField(t *testing.T) {
	for _, d := range []policy.Date{
		{}, {Year: 2026, Month: 11, Day: 26}, {Year: 5, Month: 1, Day: 9}, {Year: 999, Month: 10, Day: 10},
		{Year: 9999, Month: 99, Day: 99}, {Year: 10000, Month: 1, Day: 1}, {Year: -1, Month: 1, Day: 1},
		{Year: 2026, Month: -1, Day: 1}, {Year: 2026, Month: 1, Day: 100}, {Year: 2026, Month: time.December, Day: -3},
	} {
		var a, b keyHasher
		a.dateField(d)
		b.field(d.String())
		if string(a.buf) != string(b.buf) {
			t.Errorf("dateField(%v) = %q, want %q", d, a.buf, b.buf)
		}
	}
}
