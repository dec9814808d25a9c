package logentry

// Hand-written matchers for the closed patterns Validate checks. Each one
// accepts exactly the language of the regular expression in its comment
// (FuzzMatchers checks them against those expressions, kept in the tests
// as the oracle): Validate runs on every logged decision, and these loops
// cost a small fraction of regexp.MatchString. All the patterns are ASCII,
// so working on bytes is exact: no byte of a multi-byte or invalid UTF-8
// sequence (all >= 0x80) is in any of their classes, just as the rune the
// regexp package decodes from it is not.

func isDigit(c byte) bool    { return '0' <= c && c <= '9' }
func isLowerHex(c byte) bool { return isDigit(c) || ('a' <= c && c <= 'f') }
func isLowerAlnum(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'z')
}
func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

// allLowerHex reports whether every byte of s is in [0-9a-f].
func allLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isLowerHex(s[i]) {
			return false
		}
	}
	return true
}

// isUUID matches ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isLowerHex(s[i]) {
				return false
			}
		}
	}
	return true
}

// isEntryTime matches ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$.
func isEntryTime(s string) bool {
	const layout = "dddd-dd-ddTdd:dd:ddZ"
	if len(s) != len(layout) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if l := layout[i]; l == 'd' {
			if !isDigit(s[i]) {
				return false
			}
		} else if s[i] != l {
			return false
		}
	}
	return true
}

// isSlug matches ^[a-z0-9][a-z0-9._-]{0,63}$ (tenant and policy ids).
func isSlug(s string) bool {
	if len(s) < 1 || len(s) > 64 || !isLowerAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isLowerAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// isJurisdiction matches ^[A-Z]{2}(-[A-Z0-9]{1,3})?$.
func isJurisdiction(s string) bool {
	if len(s) != 2 && (len(s) < 4 || len(s) > 6) {
		return false
	}
	if !isUpper(s[0]) || !isUpper(s[1]) {
		return false
	}
	if len(s) == 2 {
		return true
	}
	if s[2] != '-' {
		return false
	}
	for i := 3; i < len(s); i++ {
		if c := s[i]; !isUpper(c) && !isDigit(c) {
			return false
		}
	}
	return true
}

// isRuleID matches ^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$: two or
// more '.'-separated segments, each starting with [a-z0-9] and going on
// with [a-z0-9_-].
func isRuleID(s string) bool {
	segments := 0
	start := true // at the first byte of a segment
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if start {
				return false // empty segment
			}
			start = true
		case isLowerAlnum(c):
			if start {
				segments++
				start = false
			}
		case c == '_' || c == '-':
			if start {
				return false // a segment must not start with it
			}
		default:
			return false
		}
	}
	return !start && segments >= 2
}

// isPolicyHash matches ^sha256:[0-9a-f]{64}$.
func isPolicyHash(s string) bool {
	const prefix = "sha256:"
	return len(s) == len(prefix)+64 && s[:len(prefix)] == prefix && allLowerHex(s[len(prefix):])
}

// isSHA256Hex matches ^[0-9a-f]{64}$.
func isSHA256Hex(s string) bool {
	return len(s) == 64 && allLowerHex(s)
}

// hasIdentityShape reports whether s contains (anywhere: the pattern is a
// search, not anchored) a match of
//
//	[0-9]{4}[-._][0-9]{1,2}[-._][0-9]{1,2}|[0-9]{1,2}[-._][0-9]{1,2}[-._][0-9]{4}|[0-9]{7,}
//
// that is, a run of seven or more digits, or two separators with one or
// two digits between them (all of the digits there, since a separator
// follows) and, around them, at least four digits before and one after, or
// at least one before and four after. A match may begin and end inside a
// longer run of digits, so only the runs' lengths matter.
func hasIdentityShape(s string) bool {
	run := 0 // digits immediately before i
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isDigit(c) {
			run++
			if run >= 7 {
				return true
			}
			continue
		}
		if run > 0 && isSep(c) {
			if identityShapeAt(s, i, run) {
				return true
			}
		}
		run = 0
	}
	return false
}

// identityShapeAt checks the two date shapes around the separator at s[i],
// preceded by before digits.
func identityShapeAt(s string, i, before int) bool {
	j := i + 1
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	mid := j - (i + 1)
	if mid < 1 || mid > 2 || j >= len(s) || !isSep(s[j]) {
		return false
	}
	k := j + 1
	for k < len(s) && isDigit(s[k]) {
		k++
	}
	after := k - (j + 1)
	return (before >= 4 && after >= 1) || after >= 4
}

func isSep(c byte) bool { return c == '-' || c == '.' || c == '_' }
