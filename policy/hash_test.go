package policy

import (
	"testing"
	"testing/fstest"
)

const hashBase = `# A policy for hash tests.
id: h
params:
  a: 1
  b: 2.5
thresholds: [13, 16, 18]
default:
  timezone: UTC
  periods:
    - effective_from: 2000-01-01
      citation: "c"
jurisdictions:
  - code: DE
    groups: [eu, gdpr]
    timezone: Europe/Berlin
    periods: [{effective_from: 2018-05-25, consent_age: 16, citation: "d"}]
  - code: FR
    groups: [gdpr, eu]
    timezone: Europe/Paris
    periods: [{effective_from: 2018-05-25, consent_age: 15, citation: "f"}]
rules:
  - id: of-age
    decision: allow
    when: "age >= consent_age"
    message: "ok"
    citation: "{citation}"
`

// Same meaning: other comments, flow/block styles, key order, quoting,
// list order of unordered things, explicit defaults.
const hashReformatted = `id: "h"
thresholds:
  - 18
  - 13
  - 16
  - 13
params: {b: 2.50, a: 1.0}   # reordered
jurisdictions:
  - {code: fr, timezone: Europe/Paris, groups: [eu, gdpr], periods: [{consent_age: 15, effective_from: 2018-05-25, citation: f, minimum_age: 13, legal_status: in_force}]}
  - code: DE
    timezone: Europe/Berlin
    groups: [gdpr, eu]
    periods:
      - {citation: d, consent_age: 16, effective_from: 2018-05-25}
default: {periods: [{citation: c, effective_from: 2000-01-01}], timezone: UTC}
rules: [{id: of-age, when: "age >= consent_age", decision: allow, citation: "{citation}", message: ok}]
`

func hashOf(t *testing.T, files map[string]string) string {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, src := range files {
		fsys["p/"+name] = &fstest.MapFile{Data: []byte(src)}
	}
	p, err := LoadFS(fsys, "p")
	if err != nil {
		t.Fatalf("LoadFS: %v", err)
	}
	return p.Hash()
}

func TestHash(t *testing.T) {
	base := hashOf(t, map[string]string{"a.yaml": hashBase})
	if got := hashOf(t, map[string]string{"a.yaml": hashReformatted}); got != base {
		t.Errorf("reformatting changed the hash: %s vs %s", got, base)
	}
	// Splitting into files whose order puts jurisdictions differently.
	split := map[string]string{
		"1.yaml": "jurisdictions:\n  - {code: FR, groups: [eu, gdpr], timezone: Europe/Paris, periods: [{effective_from: 2018-05-25, consent_age: 15, citation: f}]}\n",
		"2.yaml": "id: h\nparams: {a: 1, b: 2.5}\nthresholds: [13, 16, 18]\ndefault: {timezone: UTC, periods: [{effective_from: 2000-01-01, citation: c}]}\n" +
			"rules: [{id: of-age, decision: allow, when: 'age >= consent_age', message: ok, citation: '{citation}'}]\n",
		"3.yaml": "jurisdictions:\n  - {code: DE, groups: [eu, gdpr], timezone: Europe/Berlin, periods: [{effective_from: 2018-05-25, consent_age: 16, citation: d}]}\n",
	}
	if got := hashOf(t, split); got != base {
		t.Errorf("splitting into files changed the hash")
	}
	changes := map[string][2]string{
		"threshold":     {"thresholds: [13, 16, 18]", "thresholds: [13, 16, 21]"},
		"param":         {"b: 2.5", "b: 2.6"},
		"consent age":   {"consent_age: 16", "consent_age: 15"},
		"timezone":      {"Europe/Berlin", "Europe/Busingen"},
		"rule":          {"age >= consent_age", "age > consent_age"},
		"message":       {`"ok"`, `"OK"`},
		"citation":      {`citation: "d"`, `citation: "D"`},
		"status":        {`citation: "c"`, `citation: "c"` + "\n      legal_status: in_force\n    - {effective_from: 1990-01-01, effective_until: 2000-01-01, citation: x, legal_status: proposed}"},
		"enacted":       {`citation: "c"`, `citation: "c"` + "\n      legal_status: enacted"},
		"reviewed":      {`citation: "c"`, `citation: "c"` + "\n      reviewed: 2026-11-01"},
		"rule reviewed": {`message: "ok"`, `message: "ok"` + "\n    reviewed: 2026-11-01"},
	}
	for name, c := range changes {
		src := replaceOnce(t, hashBase, c[0], c[1])
		if got := hashOf(t, map[string]string{"a.yaml": src}); got == base {
			t.Errorf("changing the %s kept the hash", name)
		}
	}
}

// TestHashStable: the hash of a policy that uses none of the newer fields
// (reviewed, enacted, pending) is the one it had before they existed, so an
// upgrade does not look like a policy change in the decision log.
func TestHashStable(t *testing.T) {
	const want = "sha256:bc204aa317df362cfe5f37d7864668d82a4018ad7ef71e5228133f84684f7e7c"
	if got := hashOf(t, map[string]string{"a.yaml": hashBase}); got != want {
		t.Errorf("hash of hashBase = %s, want %s (the canonical form changed for fields the policy does not use)", got, want)
	}
	// proposed is the old spelling of pending: same meaning, same hash.
	bill := func(status string) string {
		return replaceOnce(t, hashBase, `citation: "c"`, `citation: "c"`+"\n    - {effective_from: 2030-01-01, citation: bill, legal_status: "+status+"}")
	}
	if a, b := hashOf(t, map[string]string{"a.yaml": bill("proposed")}), hashOf(t, map[string]string{"a.yaml": bill("pending")}); a != b {
		t.Errorf("proposed and pending hash differently: %s, %s", a, b)
	}
}

func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	t.Fatalf("%q not found", old)
	return ""
}
