package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// placeholder is a value a rule message may mention. The age itself is
// deliberately not one: messages reach users, logs and attestations, and
// must not carry personal data.
type placeholder uint8

const (
	phNone placeholder = iota
	phMinimumAge
	phConsentAge
	phJurisdiction
	phConflict
)

// segment is a literal followed by an optional placeholder.
type segment struct {
	lit string
	ph  placeholder
}

// template is a parsed rule message, expanded per decision without
// re-scanning the text.
type template []segment

// parseTemplate splits a message into segments, rejecting unknown
// placeholders (in particular {age}) at load time.
func parseTemplate(s string) (template, error) {
	var t template
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			if s != "" || len(t) == 0 {
				t = append(t, segment{lit: s})
			}
			return t, nil
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("unterminated placeholder %q", s[i:])
		}
		name := s[i+1 : i+j]
		var ph placeholder
		switch name {
		case "minimum_age":
			ph = phMinimumAge
		case "consent_age":
			ph = phConsentAge
		case "jurisdiction":
			ph = phJurisdiction
		case "conflict":
			ph = phConflict
		default:
			return nil, fmt.Errorf("unknown placeholder {%s} (allowed: {minimum_age}, {consent_age}, {jurisdiction}, {conflict})", name)
		}
		t = append(t, segment{lit: s[:i], ph: ph})
		s = s[i+j+1:]
	}
}

// msgArgs are the values a message may mention.
type msgArgs struct {
	minimumAge, consentAge int
	jurisdiction           string
	conflict               string // the contradicting methods, "a vs b"
}

// expand renders the template; it does not allocate when there is nothing
// to substitute.
func (t template) expand(a msgArgs) string {
	if len(t) == 1 && t[0].ph == phNone {
		return t[0].lit
	}
	var buf [128]byte
	b := buf[:0]
	for _, s := range t {
		b = append(b, s.lit...)
		switch s.ph {
		case phMinimumAge:
			b = strconv.AppendInt(b, int64(a.minimumAge), 10)
		case phConsentAge:
			b = strconv.AppendInt(b, int64(a.consentAge), 10)
		case phJurisdiction:
			b = append(b, a.jurisdiction...)
		case phConflict:
			b = append(b, a.conflict...)
		}
	}
	return string(b)
}

// checkCitation rejects placeholders other than {citation} in a rule's
// citation, which would otherwise be shown verbatim.
func checkCitation(s string) error {
	if strings.Count(s, "{citation}") > 1 {
		return fmt.Errorf("citation %q may contain {citation} at most once", s)
	}
	rest := strings.Replace(s, "{citation}", "", 1)
	if i := strings.IndexByte(rest, '{'); i >= 0 {
		return fmt.Errorf("unknown placeholder in citation %q (only {citation} is allowed)", s)
	}
	return nil
}
