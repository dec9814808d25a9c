package verifier

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/ageassure/ageassure/policy"
)

// printable is an Evidence with its pointers dereferenced, so that %+v
// shows values rather than addresses (whose hex digits could match a piece
// of a birth date by chance).
type printable struct {
	E        policy.Evidence
	Age      int
	Estimate float64
}

func printed(ev policy.Evidence) string {
	p := printable{E: ev}
	if ev.Age != nil {
		p.Age = *ev.Age
	}
	if ev.Estimate != nil {
		p.Estimate = *ev.Estimate
	}
	p.E.Age, p.E.Estimate = nil, nil
	// Spent is a keyed HMAC (its shape is checked below): random hex that
	// could hold a piece of a birth date, such as "1987", by chance.
	p.E.Spent = ""
	return fmt.Sprintf("%+v", p)
}

// TestCanaryNoIdentityData: neither the results nor the logs (at debug
// level) carry a token, a birth date or any piece of one, a disclosed name,
// or the nonce — for accepted and rejected evidence alike.
func TestCanaryNoIdentityData(t *testing.T) {
	f := newFixture(t)
	var logs bytes.Buffer
	v := f.verifier(t, func(o *Options) {
		o.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	const birth = "1987-11-23"
	pieces := []string{birth, "1987", "11-23", "19871123", "23.11.1987", "Erika", testNonce}

	doc := func(extra map[string]any) string {
		return signJWS(t, f.doc, "", "", claimsAt(testNow, docIssuer, merge(map[string]any{"birthdate": birth}, extra)))
	}
	c := f.newCred(t)
	items := []policy.EvidenceItem{
		{Type: policy.EvidenceIDDocument, Provider: "idcheck", Token: doc(nil)},
		{Type: policy.EvidenceIDDocument, Provider: "idcheck", Token: doc(map[string]any{"aud": "x"})},
		{Type: policy.EvidenceIDDocument, Provider: "idcheck", Token: doc(map[string]any{"nonce": "n-wrong"})},
		{Type: policy.EvidenceIDDocument, Provider: "idcheck", Token: tamperPayload(doc(nil))},
		{Type: policy.EvidenceDigitalCredential, Provider: "wallet", Token: c.build(t)},
		{Type: policy.EvidenceDigitalCredential, Provider: "wallet", Token: c.build(t) + "x"},
		{Type: policy.EvidenceAgeEstimation, Provider: "nobody", Token: doc(nil)},
	}
	items = append(items, items[0]) // a replay
	got := v.Verify(context.Background(), items, testBind, testToday)

	if !got[0].Accepted() || *got[0].Age != 38 {
		t.Fatalf("document: %s", printed(got[0]))
	}
	if !got[4].Accepted() {
		t.Fatalf("credential: %s", printed(got[4]))
	}
	if got[7].Reason != ReasonReplayed {
		t.Fatalf("replay: %s", printed(got[7]))
	}
	for i, ev := range got {
		if ev.Spent != "" && (!ev.Accepted() || !spentKey.MatchString(ev.Spent)) {
			t.Errorf("evidence %d: Spent %q on %s evidence", i, ev.Spent, ev.Outcome)
		}
		s := printed(ev)
		if p, ok := containsAny(s, pieces...); ok {
			t.Errorf("evidence %d contains %q: %s", i, p, s)
		}
		tokenParts := strings.FieldsFunc(items[i].Token, func(r rune) bool { return r == '.' || r == '~' })
		if p, ok := containsAny(s, tokenParts...); ok {
			t.Errorf("evidence %d contains a token part %.20q", i, p)
		}
	}
	if logs.Len() == 0 {
		t.Fatal("no debug logs to check")
	}
	if p, ok := containsAny(logs.String(), pieces...); ok {
		t.Errorf("logs contain %q:\n%s", p, logs.String())
	}
	for _, it := range items {
		for _, part := range strings.FieldsFunc(it.Token, func(r rune) bool { return r == '.' || r == '~' }) {
			if len(part) > 8 && strings.Contains(logs.String(), part) {
				t.Errorf("logs contain a token part %.20q", part)
			}
		}
	}
}
