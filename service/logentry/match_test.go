package logentry

import (
	"regexp"
	"strings"
	"testing"
)

// matchers pairs each hand-written matcher in match.go with the regular
// expression it replaced. The expressions are the specification: the
// matchers must accept exactly their languages.
var matchers = []struct {
	name   string
	oracle *regexp.Regexp
	match  func(string) bool
}{
	{"isUUID", regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`), isUUID},
	{"isEntryTime", regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$`), isEntryTime},
	{"isSlug", regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`), isSlug},
	{"isJurisdiction", regexp.MustCompile(`^[A-Z]{2}(-[A-Z0-9]{1,3})?$`), isJurisdiction},
	{"isRuleID", regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$`), isRuleID},
	{"isPolicyHash", regexp.MustCompile(`^sha256:[0-9a-f]{64}$`), isPolicyHash},
	{"isSHA256Hex", regexp.MustCompile(`^[0-9a-f]{64}$`), isSHA256Hex},
	{"hasIdentityShape", regexp.MustCompile(`[0-9]{4}[-._][0-9]{1,2}[-._][0-9]{1,2}|[0-9]{1,2}[-._][0-9]{1,2}[-._][0-9]{4}|[0-9]{7,}`), hasIdentityShape},
}

// matcherInputs are edge cases for every pattern: boundaries of lengths and
// repetitions, each class's neighbours, trailing newlines (which '$' does
// not accept), and non-ASCII and invalid UTF-8 bytes.
var matcherInputs = []string{
	"", "\n", "a", "0", "-", ".", "_", "\xff", "é",
	// UUIDs
	"019ac1c4-5d2e-7c4b-9a51-0c3b8e1f2a77",
	"019ac1c4-5d2e-7c4b-9a51-0c3b8e1f2a77\n",
	"019AC1C4-5d2e-7c4b-9a51-0c3b8e1f2a77",
	"019ac1c4-5d2e-7c4b-9a51-0c3b8e1f2a7",
	"019ac1c4-5d2e-7c4b-9a51-0c3b8e1f2a777",
	"019ac1c45d2e-7c4b-9a51-0c3b8e1f2a77-",
	"019ac1c4-5d2e-7c4b-9a51-0c3b8e1f2a7g",
	// times
	"2026-11-26T12:00:00Z", "2026-11-26T12:00:00Z\n", "2026-11-26t12:00:00Z",
	"2026-11-26T12:00:00.1Z", "2026-11-26 12:00:00Z", "2026-11-26T12:00:00z", "20261-1-26T12:00:00Z",
	// slugs
	"acme", "acme-social", "a.b_c-d", "-acme", ".acme", "_acme", "Acme", "acme social",
	strings.Repeat("a", 64), strings.Repeat("a", 65), "0" + strings.Repeat("-", 63), "acme/",
	// jurisdictions
	"DE", "US-UT", "US-123", "FR-75C", "US-", "US-UTAH", "de", "D", "DEU", "DE-ut", "DE_UT", "DE-U\n",
	// rule ids
	"de.digital-consent-age", "de.anti-hopping", "a.b", "a.b.c", "a..b", ".a.b", "a.b.", "a", "a.-b",
	"a._b", "-a.b", "a-.b_", "policy.rule-error", "Alice Smith", "a.B", "0.0",
	// hashes
	"sha256:" + strings.Repeat("ab", 32), "sha256:" + strings.Repeat("AB", 32), "sha256:" + strings.Repeat("ab", 31),
	"sha256:" + strings.Repeat("ab", 32) + "\n", "sha512:" + strings.Repeat("ab", 32),
	strings.Repeat("0f", 32), strings.Repeat("0f", 33), strings.Repeat("0f", 31) + "0g",
	// identity shapes
	"acme-2012-05-01", "acme-07700900123", "acme-2026", "2012.5.1", "1.5.2012", "12_05_2012", "123_05_12",
	"1234-5-", "1234-567-1", "1234--1", "1-2-3", "1-2-3456", "12-34-567", "1-234-5678", "123456",
	"1234567", "x1234567x", "123456-7", "99999-1-1", "1-1-99999", "1234-1-1234", "1234-1-\xff1",
	"0000-00-00", "a1234.12.1b", "12.12.12.1234", "1.2.3.1234", "1234.12-12", "12345-1-1", "1-1-1-1234",
	"1234-1-x", "1234-1-", "-1-1-1234", "1234\xff-1-1", "1234-1\n-1",
}

// TestMatchers checks every matcher against its expression on the edge
// cases above.
func TestMatchers(t *testing.T) {
	for _, m := range matchers {
		t.Run(m.name, func(t *testing.T) {
			for _, s := range matcherInputs {
				if got, want := m.match(s), m.oracle.MatchString(s); got != want {
					t.Errorf("%s(%q) = %v, want %v", m.name, s, got, want)
				}
			}
		})
	}
}

// FuzzMatchers: for any string, every hand-written matcher agrees with the
// regular expression it replaced. Seeds are the edge cases above and
// testdata/fuzz/FuzzMatchers.
func FuzzMatchers(f *testing.F) {
	for _, s := range matcherInputs {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, m := range matchers {
			if got, want := m.match(s), m.oracle.MatchString(s); got != want {
				t.Errorf("%s(%q) = %v, regexp says %v", m.name, s, got, want)
			}
		}
	})
}
