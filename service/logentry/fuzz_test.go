package logentry

import (
	"bytes"
	"testing"
)

// FuzzParse: Parse never panics, and whatever it accepts is canonical (it
// re-marshals to the same bytes) and parses again to the same encoding.
// Validate must not panic on any accepted entry either.
func FuzzParse(f *testing.F) {
	f.Add([]byte(goldenSample))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Parse(b)
		if err != nil {
			return
		}
		_ = e.Validate()
		c, err := e.Marshal()
		if err != nil {
			t.Fatalf("Marshal after Parse: %v", err)
		}
		if !bytes.Equal(c, b) {
			t.Fatalf("accepted non-canonical input:\n in: %q\nout: %q", b, c)
		}
		e2, err := Parse(c)
		if err != nil {
			t.Fatalf("Parse(Marshal(Parse(b))) = %v", err)
		}
		c2, _ := e2.Marshal()
		if !bytes.Equal(c, c2) {
			t.Fatalf("unstable encoding")
		}
	})
}
