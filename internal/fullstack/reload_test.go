package fullstack

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFullStackPolicyReload edits the policy folder two replicas serve
// (one on Redis, one in process) while they take traffic: the Netherlands'
// digital age of consent goes from 16 to 15, with the pack's test case
// moved along, as a trust-and-safety team would change it. Both replicas
// pick it up by themselves, the answers' policy hash changes, a 15-year-old
// is now allowed (not served the cached decision of the old policy), and no
// check fails meanwhile. A replay of each log through the new policy
// changes exactly the decisions made under the old one that the edit
// changes, and through the old policy exactly those made under the new.
func TestFullStackPolicyReload(t *testing.T) {
	s := newStack(t, true)
	s.policyDir = copyPacks(t, filepath.Join(s.dir, "policy"))
	before := copyPacks(t, filepath.Join(s.dir, "policy-before"))
	a := s.start(t, "a", true)
	c := s.start(t, "c", false)
	replicas := []*replica{a, c}

	h0 := s.policyHash(t, a)
	if h := s.policyHash(t, c); h != h0 {
		t.Fatalf("the replicas serve different policies: %s, %s", h0, h)
	}

	// Checks the edit does not touch, throughout.
	load := &steadyLoad{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i, r := range replicas {
		wg.Go(func() { load.run(ctx, s, r, i*3) })
	}
	stopLoad := func() { cancel(); wg.Wait() }
	defer stopLoad()

	nl := func(age int) *checkRequest {
		return &checkRequest{Jurisdiction: "NL", Declared: ageOf(age), Context: &checkContext{Nonce: fresh("nonce")}}
	}
	type expect struct {
		age      int
		decision string
		rule     string
	}
	// Each twice: the second is served from the decision cache.
	checkAll := func(t *testing.T, hash string, want []expect) {
		for _, r := range replicas {
			for _, w := range want {
				for range 2 {
					rep := s.ok(t, r, nl(w.age))
					if rep.Decision != w.decision || !rep.hasRule(w.rule) || rep.Policy.Hash != hash {
						t.Errorf("%s: NL %d: want %s by %s under %s, got %s (policy %s)", r.name, w.age, w.decision, w.rule, hash, rep, rep.Policy.Hash)
					}
				}
			}
		}
	}
	t.Run("before the edit", func(t *testing.T) {
		checkAll(t, h0, []expect{{14, consent, "nl.digital-consent-age"}, {15, consent, "nl.digital-consent-age"}, {16, allow, "nl.of-age"}})
	})

	// The test case first (it holds under both policies), then the pack.
	editFile(t, filepath.Join(s.policyDir, "eu-eea_test.yaml"),
		"- name: NL 15 (C-1)\n  as_of: 2026-11-26\n  input: {jurisdiction: NL, age: 15}",
		"- name: NL 14 (C-1)\n  as_of: 2026-11-26\n  input: {jurisdiction: NL, age: 14}")
	editFile(t, filepath.Join(s.policyDir, "eu-eea.yaml"),
		"  - code: NL\n    name: Netherlands\n    groups: [eu, eea, gdpr]\n    timezone: Europe/Amsterdam  # European Netherlands\n    periods:\n      - effective_from: 2018-05-25\n        minimum_age: 13\n        consent_age: 16",
		"  - code: NL\n    name: Netherlands\n    groups: [eu, eea, gdpr]\n    timezone: Europe/Amsterdam  # European Netherlands\n    periods:\n      - effective_from: 2018-05-25\n        minimum_age: 13\n        consent_age: 15")

	var h1 string
	t.Run("both replicas reload", func(t *testing.T) {
		for _, r := range replicas {
			h := waitPolicyChange(t, s, r, h0, 15*time.Second)
			if h1 == "" {
				h1 = h
			} else if h != h1 {
				t.Fatalf("the replicas reloaded different policies: %s, %s", h1, h)
			}
		}
	})
	if h1 == "" {
		t.FailNow()
	}
	t.Run("after the edit", func(t *testing.T) {
		checkAll(t, h1, []expect{{14, consent, "nl.digital-consent-age"}, {15, allow, "nl.of-age"}, {16, allow, "nl.of-age"}})
	})

	time.Sleep(150 * time.Millisecond)
	stopLoad()
	t.Run("steady traffic", func(t *testing.T) {
		if n := load.sent[phaseUp].Load(); n < 4 {
			t.Errorf("only %d steady checks were sent", n)
		}
		if n := load.failed.Load(); n > 0 {
			t.Errorf("%d steady checks were not answered 200 with their decision:\n  %v", n, load.failures)
		}
	})

	// Per replica: 2 checks of a 15-year-old under each policy.
	changed := func(from, to string) func(*replica) map[simCell]uint64 {
		return func(*replica) map[simCell]uint64 {
			return map[simCell]uint64{{Jurisdiction: "NL", Band: "13_15", From: from, To: to}: 2}
		}
	}
	s.afterRun(t,
		simCheck{candidate: s.policyDir, want: changed(consent, allow)},
		simCheck{candidate: before, want: changed(allow, consent)},
	)
}

// copyPacks copies the shipped policy packs and their test cases to dir,
// as an operator's policy checkout.
func copyPacks(t *testing.T, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "policy", "packs", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no shipped packs found: %v", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// editFile replaces old with new in path, atomically (write and rename),
// as a config volume update does.
func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(b), old) != 1 {
		t.Fatalf("%s does not hold %q exactly once", path, old)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Replace(string(b), old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// waitPolicyChange polls GET /v1/policy until the hash is no longer from.
func waitPolicyChange(t *testing.T, s *stack, r *replica, from string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if h := s.policyHash(t, r); h != from {
			return h
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s still serves %s after %v:\n%s", r.name, from, within, tail(r.out.String(), 20))
	return ""
}
