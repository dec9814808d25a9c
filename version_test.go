package main

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
)

// TestVersion: the version command names the module and the Go version
// from the build information, and exits 0.
func TestVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version"} {
		var out, errOut bytes.Buffer
		if code := run(t.Context(), []string{arg}, &out, &errOut); code != 0 {
			t.Fatalf("%s: exit %d: %s", arg, code, errOut.String())
		}
		for _, want := range []string{"ageassure ", "module    github.com/ageassure/ageassure", "go        " + runtime.Version()} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s: output lacks %q:\n%s", arg, want, out.String())
			}
		}
	}
}
