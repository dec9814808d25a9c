package logentry

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Marshal returns the entry's canonical JSON (RFC 8785 rules applied to this
// fixed schema): members in byte order of their names, which for these
// ASCII names is JCS's UTF-16 order; no whitespace; strings with only '"',
// '\\' and control characters escaped (the short forms \b \t \n \f \r, else
// \u00xx in lower case); numbers in ECMAScript's shortest form. Optional
// members (age_range, contradiction, device_history, history_unavailable,
// pack, shadow, subject_history, verified) are omitted when nil, empty or false; nil slices and
// maps are written as empty ones, so a nil and an empty value encode alike.
//
// Marshal does not validate: call [Entry.Validate] first (the log does).
// It fails only on a string that is not valid UTF-8 or a number JSON
// cannot represent.
func (e *Entry) Marshal() ([]byte, error) {
	w := encoder{buf: make([]byte, 0, e.sizeHint())}
	w.byte('{')
	w.name("age", true)
	w.int(e.Age)
	if e.AgeRange != nil {
		w.name("age_range", false)
		w.byte('{')
		if e.AgeRange.Exact {
			w.name("exact", true)
			w.buf = append(w.buf, "true"...)
		}
		w.name("max", !e.AgeRange.Exact)
		w.int(e.AgeRange.Max)
		w.name("min", false)
		w.int(e.AgeRange.Min)
		w.byte('}')
	}
	w.name("assurance", false)
	w.byte('{')
	w.name("level", true)
	w.str(e.Assurance.Level)
	w.name("methods", false)
	w.strs(e.Assurance.Methods)
	w.byte('}')
	w.name("attestation_sha256", false)
	w.str(e.AttestationSHA256)
	w.name("band", false)
	w.str(e.Band)
	if e.Contradiction != "" {
		w.name("contradiction", false)
		w.str(e.Contradiction)
	}
	w.name("decision", false)
	w.str(e.Decision)
	w.name("decision_id", false)
	w.str(e.DecisionID)
	if e.DeviceHistory != nil {
		w.name("device_history", false)
		w.int(*e.DeviceHistory)
	}
	w.name("evidence", false)
	w.byte('[')
	for i, ev := range e.Evidence {
		if i > 0 {
			w.byte(',')
		}
		w.byte('{')
		w.name("outcome", true)
		w.str(ev.Outcome)
		w.name("type", false)
		w.str(ev.Type)
		w.byte('}')
	}
	w.byte(']')
	if e.HistoryUnavailable {
		w.name("history_unavailable", false)
		w.buf = append(w.buf, "true"...)
	}
	w.name("jurisdiction", false)
	w.str(e.Jurisdiction)
	if e.Pack != "" {
		w.name("pack", false)
		w.str(e.Pack)
	}
	w.name("policy", false)
	w.byte('{')
	w.name("hash", true)
	w.str(e.Policy.Hash)
	w.name("id", false)
	w.str(e.Policy.ID)
	w.byte('}')
	w.name("rules", false)
	w.strs(e.Rules)
	if e.Shadow != nil {
		w.name("shadow", false)
		w.byte('{')
		w.name("decision", true)
		w.str(e.Shadow.Decision)
		w.name("policy_hash", false)
		w.str(e.Shadow.PolicyHash)
		w.byte('}')
	}
	w.name("signals", false)
	w.byte('{')
	keys := make([]string, 0, len(e.Signals))
	for k := range e.Signals {
		keys = append(keys, k)
	}
	// Byte order equals JCS's UTF-16 order for all but supplementary-plane
	// characters, which Validate never lets through; sorting by bytes keeps
	// Marshal deterministic for any input.
	slices.Sort(keys)
	for i, k := range keys {
		w.name(k, i == 0)
		w.num(e.Signals[k])
	}
	w.byte('}')
	w.name("stage", false)
	w.str(e.Stage)
	if e.SubjectHistory != nil {
		w.name("subject_history", false)
		w.int(*e.SubjectHistory)
	}
	w.name("tenant", false)
	w.str(e.Tenant)
	w.name("time", false)
	w.str(e.Time)
	w.name("v", false)
	w.int(e.V)
	if e.Verified {
		w.name("verified", false)
		w.buf = append(w.buf, "true"...)
	}
	w.byte('}')
	if w.err != nil {
		return nil, w.err
	}
	return w.buf, nil
}

// sizeHint estimates the length of Marshal's output (slightly over, unless
// strings need escaping), so the buffer is allocated once instead of grown
// from 512 bytes: a typical entry is ~800. Only the capacity depends on it,
// never the bytes.
func (e *Entry) sizeHint() int {
	// Member names, punctuation and numbers.
	n := 256
	for _, s := range [...]string{e.DecisionID, e.Time, e.Tenant, e.Jurisdiction, e.Stage, e.Band,
		e.Decision, e.Assurance.Level, e.Policy.ID, e.Policy.Hash, e.AttestationSHA256} {
		n += len(s)
	}
	if e.AgeRange != nil {
		n += 32
	}
	if e.DeviceHistory != nil {
		n += 24
	}
	if e.SubjectHistory != nil {
		n += 24
	}
	n += len(e.Contradiction) + len(e.Pack) + 50 // "contradiction", "pack" and "verified"
	if e.Shadow != nil {
		n += 48 + len(e.Shadow.PolicyHash) + len(e.Shadow.Decision)
	}
	for _, s := range e.Rules {
		n += len(s) + 3
	}
	for _, s := range e.Assurance.Methods {
		n += len(s) + 3
	}
	for _, ev := range e.Evidence {
		n += len(ev.Type) + len(ev.Outcome) + 32
	}
	for k := range e.Signals {
		n += len(k) + 24
	}
	return n
}

// errEncode is wrapped by every Marshal failure.
var errEncode = errors.New("logentry: cannot encode")

// encoder appends canonical JSON; the first error sticks.
type encoder struct {
	buf []byte
	err error
}

func (w *encoder) byte(c byte) { w.buf = append(w.buf, c) }

// name writes a member name and its colon, preceded by a comma unless it is
// the first member of its object.
func (w *encoder) name(n string, first bool) {
	if !first {
		w.byte(',')
	}
	w.str(n)
	w.byte(':')
}

func (w *encoder) int(v int) { w.buf = strconv.AppendInt(w.buf, int64(v), 10) }

func (w *encoder) strs(list []string) {
	w.byte('[')
	for i, s := range list {
		if i > 0 {
			w.byte(',')
		}
		w.str(s)
	}
	w.byte(']')
}

const hexDigits = "0123456789abcdef"

// str writes s as a JSON string with JCS escaping.
func (w *encoder) str(s string) {
	if !utf8.ValidString(s) {
		if w.err == nil {
			w.err = fmt.Errorf("%w: invalid UTF-8 in a string", errEncode)
		}
		return
	}
	w.byte('"')
	// Bytes that need no escaping are copied a run at a time.
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		w.buf = append(w.buf, s[start:i]...)
		start = i + 1
		switch {
		case c == '"' || c == '\\':
			w.buf = append(w.buf, '\\', c)
		case c == '\b':
			w.buf = append(w.buf, '\\', 'b')
		case c == '\t':
			w.buf = append(w.buf, '\\', 't')
		case c == '\n':
			w.buf = append(w.buf, '\\', 'n')
		case c == '\f':
			w.buf = append(w.buf, '\\', 'f')
		case c == '\r':
			w.buf = append(w.buf, '\\', 'r')
		default:
			w.buf = append(w.buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
	}
	w.buf = append(w.buf, s[start:]...)
	w.byte('"')
}

// num writes f the way ECMAScript's Number.prototype.toString does, which is
// what JCS requires: the shortest round-tripping digits, in plain notation
// for 1e-6 <= |f| < 1e21 and in exponent notation ("1e-7", "1.5e+21")
// outside it; negative zero as "0".
func (w *encoder) num(f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		if w.err == nil {
			w.err = fmt.Errorf("%w: %v is not a JSON number", errEncode, f)
		}
		return
	}
	if f == 0 {
		w.byte('0')
		return
	}
	if a := math.Abs(f); a >= 1e-6 && a < 1e21 {
		w.buf = strconv.AppendFloat(w.buf, f, 'f', -1, 64)
		return
	}
	// Go writes "1e-07"; ECMAScript writes "1e-7" and "1e+21".
	s := strconv.FormatFloat(f, 'e', -1, 64)
	mant, exp, _ := strings.Cut(s, "e")
	sign := exp[0]
	exp = strings.TrimLeft(exp[1:], "0")
	w.buf = append(w.buf, mant...)
	w.buf = append(w.buf, 'e', sign)
	w.buf = append(w.buf, exp...)
}
