package logentry

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// strOracle is the byte-at-a-time JCS string escaping encoder.str replaced
// with a run-at-a-time copy; it is kept as the specification.
func strOracle(s string) (string, bool) {
	if !utf8.ValidString(s) {
		return "", false
	}
	var b []byte
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c >= 0x20:
			b = append(b, c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
	}
	return string(append(b, '"')), true
}

// strInputs are strings with escapes at the start, middle and end, runs
// of them, every control character, non-ASCII and invalid UTF-8.
var strInputs = []string{
	"", "a", "acme-social", `"`, `\`, `""`, `a"`, `"a`, `a\b"c`, "\n", "a\nb", "\x00\x01\x1f\x20",
	"\b\t\n\f\r", "tail\x7f", "é\u2028\U0001F600", "\xff", "a\xc3", strings.Repeat(`\"`, 40),
}

// TestEncoderStr checks encoder.str against strOracle on the cases above.
func TestEncoderStr(t *testing.T) {
	for _, s := range strInputs {
		checkStr(t, s)
	}
}

// FuzzEncoderStr: for any string, encoder.str writes what strOracle does,
// after whatever the buffer already held, and fails exactly when it fails.
func FuzzEncoderStr(f *testing.F) {
	for _, s := range strInputs {
		f.Add(s)
	}
	f.Fuzz(checkStr)
}

func checkStr(t *testing.T, s string) {
	want, ok := strOracle(s)
	w := encoder{buf: []byte("prefix")}
	w.str(s)
	if (w.err == nil) != ok {
		t.Fatalf("str(%q): err = %v, oracle ok = %v", s, w.err, ok)
	}
	if !ok {
		want = ""
	}
	if got := w.buf; !bytes.Equal(got, []byte("prefix"+want)) {
		t.Fatalf("str(%q) = %q, want %q", s, got, "prefix"+want)
	}
}
