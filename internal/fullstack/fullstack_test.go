package fullstack

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
)

// Decisions, as the API spells them.
const (
	allow   = "allow"
	deny    = "deny"
	consent = "parental_consent_required"
	verify  = "additional_verification_required"
)

// TestFullStack runs two replicas sharing one Redis (a, b) and one with
// in-process caches (c), all sharing keys, tenants, cache secret and
// providers, each with its own durable decision log, and checks every
// evidence type on both cache kinds, replays on the same and the other
// replica, cached decisions, anti-hopping and re-use of assurance across
// replicas, and rate limits; then audits the logs, Redis and the output.
func TestFullStack(t *testing.T) {
	s := newStack(t, true)
	a := s.start(t, "a", true)
	b := s.start(t, "b", true)
	c := s.start(t, "c", false)

	t.Run("evidence", func(t *testing.T) { testEvidence(t, s, []pair{{c, c}, {a, b}}) })
	t.Run("cached decisions", func(t *testing.T) { testCachedDecisions(t, s, a, b, c) })
	t.Run("anti-hopping", func(t *testing.T) { testAntiHopping(t, s, []pair{{c, c}, {a, b}}) })
	t.Run("rate limits", func(t *testing.T) { testRateLimits(t, s, a, b, c) })
	// Last: while known bug 2 stands, re-use breaks the log's appends.
	t.Run("re-use of assurance", func(t *testing.T) { testReuse(t, s, []pair{{c, c}, {a, b}}) })

	s.afterRun(t)
}

// pair is where a sequence starts and where it continues: the same
// in-process replica, or two replicas sharing Redis.
type pair struct{ first, second *replica }

func (p pair) String() string {
	kind := "in-process"
	if p.first.redis {
		kind = "Redis"
	}
	return kind + " " + p.first.name + "→" + p.second.name
}

// evidenceCase is one evidence type sent with a declaration: the decision
// when the evidence is accepted, and the decision when it is not (the
// declaration alone), which is what a replay must get.
type evidenceCase struct {
	name     string
	build    func(t *testing.T, s *stack, nonce string) *checkRequest
	decision string
	without  string // decision with the evidence absent
	level    string
	method   string
	rule     string // a rule that must have fired, when accepted
	signed   bool   // a token with single use
	bug6     bool   // the request shape known bug 6 refuses
}

var evidenceCases = []evidenceCase{
	{
		name: "age_estimation without liveness",
		build: func(t *testing.T, s *stack, nonce string) *checkRequest {
			return &checkRequest{Jurisdiction: "US", Declared: ageOf(25), Signals: highRisk(),
				Evidence: []evidence{{Type: "age_estimation", Provider: "faceage", Token: s.iss.estimateToken(t, nonce, 30.4, 1.5, false)}}}
		},
		decision: allow, without: verify, level: "standard", method: "age_estimation", rule: "us.of-age", signed: true,
	},
	{
		name: "age_estimation with liveness",
		build: func(t *testing.T, s *stack, nonce string) *checkRequest {
			return &checkRequest{Jurisdiction: "US", Declared: ageOf(25), Signals: highRisk(),
				Evidence: []evidence{{Type: "age_estimation", Provider: "faceage", Token: s.iss.estimateToken(t, nonce, 27.0, 2.0, true)}}}
		},
		decision: allow, without: verify, level: "enhanced", method: "age_estimation", rule: "us.of-age", signed: true,
	},
	{
		name: "id_document with a birth date",
		build: func(t *testing.T, s *stack, nonce string) *checkRequest {
			return &checkRequest{Jurisdiction: "GB", Declared: declared{BirthDate: birthDateFor(20)}, Signals: highRisk(),
				Evidence: []evidence{{Type: "id_document", Provider: "docscan", Token: s.iss.docBirthDateToken(t, nonce, birthDateFor(20))}}}
		},
		decision: allow, without: verify, level: "enhanced", method: "id_document", rule: "gb.of-age", signed: true,
	},
	{
		name: "id_document with age_over_NN",
		build: func(t *testing.T, s *stack, nonce string) *checkRequest {
			return &checkRequest{Jurisdiction: "GB", Declared: ageOf(20), Signals: highRisk(),
				Evidence: []evidence{{Type: "id_document", Provider: "docscan", Token: s.iss.docOverToken(t, nonce, map[int]bool{13: true, 18: true})}}}
		},
		decision: allow, without: verify, level: "enhanced", method: "id_document", rule: "gb.of-age", signed: true,
	},
	{
		name: "digital_credential (SD-JWT VC)",
		build: func(t *testing.T, s *stack, nonce string) *checkRequest {
			return &checkRequest{Jurisdiction: "DE", Declared: ageOf(30), Signals: highRisk(),
				Evidence: []evidence{{Type: "digital_credential", Provider: "pid-issuer", Token: s.iss.credential(t, nonce, map[int]bool{16: true, 18: true})}}}
		},
		decision: allow, without: verify, level: "enhanced", method: "digital_credential", rule: "de.of-age", signed: true,
	},
	{
		// The providers file: "a credential whose item names no provider is
		// matched to the provider with its iss".
		name: "digital_credential matched by its issuer (no provider)",
		build: func(t *testing.T, s *stack, nonce string) *checkRequest {
			return &checkRequest{Jurisdiction: "DE", Declared: ageOf(30), Signals: highRisk(),
				Evidence: []evidence{{Type: "digital_credential", Token: s.iss.credential(t, nonce, map[int]bool{18: true})}}}
		},
		decision: allow, without: verify, level: "enhanced", method: "digital_credential", rule: "de.of-age", signed: true, bug6: true,
	},
	{
		name: "parental_consent",
		build: func(t *testing.T, s *stack, nonce string) *checkRequest {
			return &checkRequest{Jurisdiction: "DE", Declared: ageOf(14),
				Evidence: []evidence{{Type: "parental_consent", Provider: "guardian", Token: s.iss.consentToken(t, nonce)}}}
		},
		decision: allow, without: consent, level: "asserted", method: "parental_consent", rule: "de.parental-consent-given", signed: true,
	},
	{
		name: "platform_age_range 13-15 against a declared 25",
		build: func(t *testing.T, s *stack, nonce string) *checkRequest {
			return &checkRequest{Jurisdiction: "GB", Declared: ageOf(25),
				Evidence: []evidence{{Type: "platform_age_range", Lower: intp(13), Upper: intp(15), Source: "guardian_declared"}}}
		},
		decision: verify, without: allow, level: "asserted", method: "platform_age_range", rule: "gb.evidence-contradiction",
	},
	{
		name: "platform_age_range 16-17 for a declared 16 in DE",
		build: func(t *testing.T, s *stack, nonce string) *checkRequest {
			return &checkRequest{Jurisdiction: "DE", Declared: ageOf(16),
				Evidence: []evidence{{Type: "platform_age_range", Lower: intp(16), Upper: intp(17), Source: "verified"}}}
		},
		decision: allow, without: allow, level: "asserted", method: "platform_age_range", rule: "de.of-age",
	},
	{
		name: "platform_age_range 18+ (upper omitted)",
		build: func(t *testing.T, s *stack, nonce string) *checkRequest {
			return &checkRequest{Jurisdiction: "AU", Declared: ageOf(19),
				Evidence: []evidence{{Type: "platform_age_range", Lower: intp(18), Source: "self_declared"}}}
		},
		decision: allow, without: allow, level: "asserted", method: "platform_age_range", rule: "au.of-age",
	},
	{
		// "upper 0 meaning open-ended" (The providers file, platform_age_range).
		name: "platform_age_range 18+ (upper 0)",
		build: func(t *testing.T, s *stack, nonce string) *checkRequest {
			return &checkRequest{Jurisdiction: "AU", Declared: ageOf(19),
				Evidence: []evidence{{Type: "platform_age_range", Lower: intp(18), Upper: intp(0), Source: "self_declared"}}}
		},
		decision: allow, without: allow, level: "asserted", method: "platform_age_range", rule: "au.of-age", bug6: true,
	},
}

// testEvidence sends every evidence type to an in-process replica and to
// a Redis replica; each signed token is then replayed on the same replica
// and, with Redis, on the other one: a second use is refused (replayed)
// and decides as if the evidence were absent.
func testEvidence(t *testing.T, s *stack, pairs []pair) {
	for _, p := range pairs {
		t.Run(p.String(), func(t *testing.T) {
			for _, tc := range evidenceCases {
				t.Run(tc.name, func(t *testing.T) {
					nonce := fresh("nonce")
					req := tc.build(t, s, nonce)
					req.Context = &checkContext{Nonce: nonce, DeviceRef: fresh("dev")}
					rep := s.check(t, p.first, req)
					if tc.bug6 && rep.status == http.StatusBadRequest && len(rep.Errors) > 0 &&
						(rep.Errors[0].Pointer == "/evidence/0/provider" || rep.Errors[0].Pointer == "/evidence/0/upper") {
						knownBug(t, rep.String(), 6)
					}
					if rep.status != http.StatusOK {
						t.Fatalf("want 200, got %s", rep)
					}
					expectAccepted(t, rep, tc)
					if !tc.signed {
						return
					}
					replays := []*replica{p.first}
					if p.second != p.first {
						replays = append(replays, p.second)
					}
					for _, r := range replays {
						// The same body again: same token, same nonce.
						again := s.ok(t, r, req)
						if len(again.Evidence) != 1 || again.Evidence[0].Outcome != "rejected" || again.Evidence[0].Reason != "replayed" {
							t.Errorf("replay on %s: want the evidence rejected as replayed, got %s", r.name, again)
						}
						if again.Decision != tc.without {
							t.Errorf("replay on %s: want %s (the evidence counts as absent), got %s", r.name, tc.without, again)
						}
						if !again.hasRule("evidence.replayed") {
							t.Errorf("replay on %s: no evidence.replayed reason: %s", r.name, again)
						}
					}
				})
			}
		})
	}
}

// expectAccepted checks an answer to an evidence case whose evidence is
// valid.
func expectAccepted(t *testing.T, rep *reply, tc evidenceCase) {
	t.Helper()
	if len(rep.Evidence) != 1 {
		t.Fatalf("want one evidence result, got %s", rep)
	}
	ev := rep.Evidence[0]
	if ev.Outcome != "accepted" {
		if rep.replica.redis && tc.signed && ev.Reason == "evidence_unverifiable" {
			knownBug(t, rep.String(), 1)
		}
		t.Fatalf("want the evidence accepted, got %s", rep)
	}
	if rep.Decision != tc.decision || rep.Assurance.Level != tc.level || !slices.Contains(rep.Assurance.Methods, tc.method) || !rep.hasRule(tc.rule) {
		t.Errorf("want %s at %s with method %s and rule %s, got %s", tc.decision, tc.level, tc.method, tc.rule, rep)
	}
}

// testCachedDecisions sends the same request twice: the same decision,
// band and rules, each with its own decision id, the second from the
// decision cache — shared through Redis by the other replica.
func testCachedDecisions(t *testing.T, s *stack, a, b, c *replica) {
	const hits = `ageassure_decision_cache_requests_total{result="hit"}`
	for _, tc := range []struct {
		name          string
		first, second *replica
		req           checkRequest
	}{
		{"in-process, same replica", c, c, checkRequest{Jurisdiction: "FR", Declared: ageOf(14)}},
		{"Redis, same replica", a, a, checkRequest{Jurisdiction: "IE", Declared: ageOf(15)}},
		{"Redis, other replica", a, b, checkRequest{Jurisdiction: "NL", Declared: ageOf(17), Signals: highRisk()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req1, req2 := tc.req, tc.req
			req1.Context = &checkContext{Nonce: fresh("nonce")}
			req2.Context = &checkContext{Nonce: fresh("nonce")}
			one := s.ok(t, tc.first, &req1)
			before := s.metric(t, tc.second, hits)
			two := s.ok(t, tc.second, &req2)
			after := s.metric(t, tc.second, hits)
			if one.Decision != two.Decision || one.AgeBand != two.AgeBand || !slices.Equal(one.rules(), two.rules()) ||
				one.Policy.Hash != two.Policy.Hash {
				t.Errorf("the same request was decided differently:\n  %s\n  %s", one, two)
			}
			if one.DecisionID == two.DecisionID || one.Attestation == two.Attestation {
				t.Errorf("two answers share a decision id or attestation")
			}
			if after != before+1 {
				t.Errorf("%s: decision cache hits went %v → %v, want one more: the second request was not served from the cache", tc.second.name, before, after)
			}
		})
	}
}

// testAntiHopping declares an age under a threshold, then one over it,
// from the same device or account on the other replica (or the same
// in-process one): the second must not be allowed.
func testAntiHopping(t *testing.T, s *stack, pairs []pair) {
	cases := []struct {
		name          string
		jurisdiction  string
		first, second int
		firstWant     string
		device, subj  bool
		exact         string // the rule that must fire, if one is pinned
		bug3          bool   // known bug 3: the hop passes
	}{
		{"minimum age, same device_ref", "US", 12, 20, deny, true, false, "us.anti-hopping", false},
		// Not in bug 3's title, but the fix under way for it remembers an
		// account's declarations as it does a device's.
		{"minimum age, same subject_ref", "US", 12, 20, deny, false, true, "", true},
		{"minimum age, same device_ref and subject_ref", "US", 12, 20, deny, true, true, "us.anti-hopping", false},
		{"consent age, same device_ref", "DE", 14, 17, consent, true, false, "", true},
		{"consent age, same subject_ref", "DE", 14, 17, consent, false, true, "", true},
		{"consent age, same device_ref and subject_ref", "DE", 14, 17, consent, true, true, "", true},
	}
	for _, p := range pairs {
		t.Run(p.String(), func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					ctx := checkContext{}
					if tc.device {
						ctx.DeviceRef = fresh("dev")
					}
					if tc.subj {
						ctx.SubjectRef = fresh("sub")
					}
					c1, c2 := ctx, ctx
					c1.Nonce, c2.Nonce = fresh("nonce"), fresh("nonce")
					one := s.ok(t, p.first, &checkRequest{Jurisdiction: tc.jurisdiction, Declared: ageOf(tc.first), Context: &c1})
					if one.Decision != tc.firstWant {
						t.Fatalf("declared %d: want %s, got %s", tc.first, tc.firstWant, one)
					}
					two := s.ok(t, p.second, &checkRequest{Jurisdiction: tc.jurisdiction, Declared: declared{BirthDate: birthDateFor(tc.second)}, Context: &c2})
					if two.Decision == allow {
						msg := "declared " + strconv.Itoa(tc.first) + " then " + strconv.Itoa(tc.second) + ": the hop was allowed: " + two.String()
						if tc.bug3 {
							knownBug(t, msg, 3)
						}
						t.Fatal(msg)
					}
					if tc.exact != "" && (two.Decision != verify || !two.hasRule(tc.exact)) {
						t.Errorf("want %s by %s, got %s", verify, tc.exact, two)
					}
				})
			}
		})
	}
}

// testRateLimits uses the tenant whose rate_limit is 3 a minute: the
// Redis replicas share one allowance, the in-process one has its own; past
// it a check is refused with 429 and Retry-After.
func testRateLimits(t *testing.T, s *stack, a, b, c *replica) {
	send := func(r *replica) *reply {
		rep, err := s.do(r, tenantLimited, &checkRequest{Jurisdiction: "GB", Declared: ageOf(30), Context: &checkContext{Nonce: fresh("nonce")}})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	for _, tc := range []struct {
		name string
		seq  []*replica // limitedBurst + 1 checks
	}{
		{"Redis, shared by both replicas", []*replica{a, b, a, b}},
		{"in-process", []*replica{c, c, c, c}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i, r := range tc.seq {
				rep := send(r)
				if i < limitedBurst {
					if rep.status != http.StatusOK {
						t.Fatalf("check %d of %d within the burst: %s", i+1, limitedBurst, rep)
					}
					continue
				}
				if rep.status != http.StatusTooManyRequests || rep.Code != "rate_limited" {
					t.Fatalf("check %d, over the burst of %d: want 429 rate_limited, got %s", i+1, limitedBurst, rep)
				}
				if ra, err := strconv.Atoi(rep.header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
					t.Errorf("Retry-After %q: want whole seconds in 1..60", rep.header.Get("Retry-After"))
				}
			}
		})
	}
	// The main tenant has no limit: it is unaffected.
	s.ok(t, a, &checkRequest{Jurisdiction: "GB", Declared: ageOf(30)})
}

// testReuse: evidence accepted for an account on one replica; then a bare
// declaration for the same account on the other re-uses it: 200 (not 503),
// at the earlier assurance, saying so first in its reasons — and the
// replica keeps answering afterwards.
func testReuse(t *testing.T, s *stack, pairs []pair) {
	for _, p := range pairs {
		t.Run(p.String(), func(t *testing.T) {
			subject := fresh("sub")
			nonce := fresh("nonce")
			first := s.ok(t, p.first, &checkRequest{Jurisdiction: "GB", Declared: ageOf(20),
				Evidence: []evidence{{Type: "id_document", Provider: "docscan", Token: s.iss.docBirthDateToken(t, nonce, birthDateFor(20))}},
				Context:  &checkContext{SubjectRef: subject, Nonce: nonce}})
			if len(first.Evidence) != 1 || first.Evidence[0].Outcome != "accepted" {
				if p.first.redis && len(first.Evidence) == 1 && first.Evidence[0].Reason == "evidence_unverifiable" {
					knownBug(t, first.String(), 1)
				}
				t.Fatalf("the ID document was not accepted: %s", first)
			}
			if first.Decision != allow || first.Assurance.Level != "enhanced" {
				t.Fatalf("want allow at enhanced, got %s", first)
			}
			second := s.check(t, p.second, &checkRequest{Jurisdiction: "GB", Declared: ageOf(20), Signals: highRisk(),
				Context: &checkContext{SubjectRef: subject, Nonce: fresh("nonce")}})
			if second.status == http.StatusServiceUnavailable && second.Code == "decision_log_unavailable" {
				knownBug(t, second.String(), 2)
			}
			if second.status != http.StatusOK {
				t.Fatalf("want 200, got %s", second)
			}
			if second.Decision != allow || second.Assurance.Level != "enhanced" || !slices.Contains(second.Assurance.Methods, "reused_assurance") ||
				len(second.Reasons) == 0 || second.Reasons[0].Rule != "service.assurance-reused" {
				t.Errorf("want allow re-using the enhanced assurance (first reason service.assurance-reused), got %s", second)
			}
			// The replica keeps deciding.
			after := s.check(t, p.second, &checkRequest{Jurisdiction: "GB", Declared: ageOf(30)})
			if after.status != http.StatusOK || after.Decision != allow {
				t.Errorf("a plain check after the re-use: want 200 allow, got %s", after)
			}
		})
	}
}
